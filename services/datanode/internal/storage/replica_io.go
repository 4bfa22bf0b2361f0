package storage

import (
	"bufio"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/granary-fs/granary/internal/packet"
)

// ErrChecksum is returned (wrapped) when data does not match its CRC32C.
var ErrChecksum = errors.New("checksum error")

// ErrNoReplica is returned (wrapped) for a replica the datanode does not hold.
var ErrNoReplica = errors.New("replica not found")

// ErrReplicaExists is returned (wrapped) when a replica cannot be created
// because one of the same or a newer generation stamp exists.
var ErrReplicaExists = errors.New("replica already exists")

// UnreadableError is returned by OpenReplica for a replica in the replica
// map that cannot be read: its block file is gone (Gone; the replica has
// left the map, and Err wraps ErrNoReplica) or damaged (shorter than the
// replica, or its meta file gone; Err wraps ErrChecksum). The datanode
// reports it: a gone replica as deleted, a damaged one as corrupt.
type UnreadableError struct {
	BlockPoolID string
	Replica     Replica
	Gone        bool
	Err         error
}

func (e *UnreadableError) Error() string { return e.Err.Error() }
func (e *UnreadableError) Unwrap() error { return e.Err }

// ReplicaWriter writes a replica being received into rbw/ (block file and
// meta file side by side); Finalize moves it to finalized/.
type ReplicaWriter struct {
	s         *Store
	bpid      string
	id, gs    int64
	vol       *Volume
	blk, meta *os.File
	bf, mf    profiledFile // blk and meta, their writes profiled
	bw, mw    *bufio.Writer
	n         int64
	done      bool
	link      linkMode // blk and meta have no names (CreateTemporary): how Finalize links them; noTempFiles for named files
	reserved  int64    // space reserved on vol until finalized or aborted
	managed   int64    // SyncBehindWrites, DropCacheBehindWrites: bytes of the block file the page cache was managed up to

	// An append (AppendRBW) continues a finalized replica: partial holds
	// the bytes of its last, partial checksum chunk, whose CRC is
	// recomputed over them and the bytes that complete it; orig is the
	// replica as it was, put back by Abort.
	partial []byte
	orig    *Replica
	origCRC []byte // the partial chunk's CRC as it was

	// crcs are the CRCs written, kept for readers (crcCache) while they
	// fit (crcsOff once they no longer do, and for an append).
	crcs    []byte
	crcsOff bool
}

// CreateRBW starts a replica of block id in a volume chosen round-robin.
// A replica of the same or a newer generation stamp is never replaced
// (HDFS's ReplicaAlreadyExistsException): only a newer stamp (a pipeline
// recovery, a transfer of a newer replica) replaces one.
// blockSize is reserved on the volume chosen until the replica is finalized
// or aborted; no volume with room for it is ErrOutOfSpace.
func (s *Store) CreateRBW(bpid string, id, gs, blockSize int64) (*ReplicaWriter, error) {
	return s.create(bpid, id, gs, blockSize, false)
}

// CreateTemporary starts a replica as CreateRBW does, for a writer that
// acknowledges nothing before the replica is finalized (HDFS's
// createTemporary): its files have no name until Finalize links them into
// finalized/ (tempfile.go), and a datanode that dies before leaves
// nothing. A volume without unnamed files writes it in rbw/.
func (s *Store) CreateTemporary(bpid string, id, gs, blockSize int64) (*ReplicaWriter, error) {
	return s.create(bpid, id, gs, blockSize, true)
}

func (s *Store) create(bpid string, id, gs, blockSize int64, temp bool) (*ReplicaWriter, error) {
	s.mu.Lock()
	if old := s.replicas[bpid][id]; old != nil && old.GenStamp >= gs {
		s.mu.Unlock()
		state := map[uint8]string{Finalized: "FINALIZED", RBW: "RBW", RWR: "RWR"}[old.State]
		return nil, fmt.Errorf("%w: Block %s:blk_%d_%d already exists in state %s and thus cannot be created",
			ErrReplicaExists, bpid, id, old.GenStamp, state)
	}
	v, err := s.nextVolume(blockSize)
	if err == nil {
		s.startWriting(bpid, id)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*ReplicaWriter, error) {
		v.inflight.Add(-blockSize)
		s.mu.Lock()
		s.doneWriting(bpid, id)
		s.mu.Unlock()
		return nil, err
	}
	dir := filepath.Join(v.bpDir(bpid), "current", "rbw")
	link, open := noTempFiles, createIn
	if temp {
		if link = v.tempLink(); link != noTempFiles {
			open = createTemp
		}
	}
	t := s.metaStart()
	blk, err := open(dir, BlockFileName(id))
	v.ioDone(IOMetadata, t, err)
	if err != nil {
		return fail(err)
	}
	t = s.metaStart()
	meta, err := open(dir, MetaFileName(id, gs))
	v.ioDone(IOMetadata, t, err)
	if err != nil {
		blk.Close()
		return fail(err)
	}
	w := &ReplicaWriter{s: s, bpid: bpid, id: id, gs: gs, vol: v, blk: blk, meta: meta, reserved: blockSize, link: link}
	w.buffers()
	hdr := ChecksumFile(nil)
	if _, err := w.mw.Write(hdr); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

// buffers gives the writer its buffers over its (profiled) files.
func (w *ReplicaWriter) buffers() {
	pct := w.s.FileIOProfilingPercentage
	w.bf, w.mf = profiledFile{w.blk, w.vol, pct}, profiledFile{w.meta, w.vol, pct}
	w.bw, w.mw = blockBufs.Get().(*bufio.Writer), metaBufs.Get().(*bufio.Writer)
	w.bw.Reset(&w.bf)
	w.mw.Reset(&w.mf)
}

// Buffers of replica writers are reused: a datanode receiving many small
// blocks must not allocate a megabyte for each.
var (
	blockBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<20) }}
	metaBufs  = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
)

func (w *ReplicaWriter) release() {
	w.vol.inflight.Add(-w.reserved)
	w.reserved = 0
	if w.bw != nil {
		w.bw.Reset(nil)
		blockBufs.Put(w.bw)
		w.mw.Reset(nil)
		metaBufs.Put(w.mw)
		w.bw, w.mw = nil, nil
	}
}

// Write appends data and its CRCs (one big-endian CRC32C per 512 bytes),
// verifying them first: a mismatch writes nothing and returns ErrChecksum.
// After an append to a partial chunk the first data must not go past the
// end of that chunk (the writer sends the rest of it alone, as HDFS's).
func (w *ReplicaWriter) Write(data, crcs []byte) error {
	if err := VerifyChunks(data, crcs, w.n); err != nil {
		return err
	}
	if len(w.partial) > 0 && len(data) > 0 {
		if len(w.partial)+len(data) > BytesPerChecksum {
			return fmt.Errorf("%w: %d bytes appended to a partial chunk of %d", ErrChecksum, len(data), len(w.partial))
		}
		if len(w.partial) == int(w.orig.NumBytes%BytesPerChecksum) {
			// The first bytes for the partial chunk: its CRC is replaced.
			if err := w.meta.Truncate(metaSize(w.orig.NumBytes) - 4); err != nil {
				return err
			}
			if _, err := w.meta.Seek(0, io.SeekEnd); err != nil {
				return err
			}
		}
		w.partial = append(w.partial, data...)
		crcs = binary.BigEndian.AppendUint32(nil, crc32.Checksum(w.partial, castagnoli))
		if len(w.partial) == BytesPerChecksum {
			w.partial = nil
		}
	}
	if err := w.writeData(data); err != nil {
		return err
	}
	if _, err := w.mw.Write(crcs); err != nil {
		return err
	}
	if !w.crcsOff {
		if w.orig == nil && len(w.crcs)+len(crcs) <= maxKeptCRCs {
			w.crcs = append(w.crcs, crcs...)
		} else {
			w.crcs, w.crcsOff = nil, true
		}
	}
	w.n += int64(len(data))
	if (w.s.SyncBehindWrites || w.s.DropCacheBehindWrites) && w.n-w.managed >= CacheLagBytes {
		return w.manageCache()
	}
	return nil
}

// writeData writes data to the block file: a packet's worth straight from
// the caller's buffer (after what is buffered, to keep the order), smaller
// pieces through the buffer. Copying whole packets into the buffer first
// cost more than the write calls it saved.
func (w *ReplicaWriter) writeData(data []byte) error {
	if len(data) < directWriteBytes {
		_, err := w.bw.Write(data)
		return err
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	_, err := w.bf.Write(data)
	return err
}

// directWriteBytes is the size from which writeData writes directly.
const directWriteBytes = 32 << 10

// VerifyChunks checks data against crcs; base is the offset of data in the
// block, for the error message.
func VerifyChunks(data, crcs []byte, base int64) error {
	if len(crcs) != 4*((len(data)+BytesPerChecksum-1)/BytesPerChecksum) {
		return fmt.Errorf("%w: %d checksum bytes for %d data bytes", ErrChecksum, len(crcs), len(data))
	}
	if bad := packet.Verify(data, crcs); bad >= 0 {
		return fmt.Errorf("%w at block offset %d", ErrChecksum, base+int64(bad*BytesPerChecksum))
	}
	return nil
}

// Len is the number of bytes written so far.
func (w *ReplicaWriter) Len() int64 { return w.n }

// StorageID is the storage (volume) the replica is written to.
func (w *ReplicaWriter) StorageID() string { return w.vol.StorageID }

// Finalize flushes (and with SyncOnClose fsyncs) the replica and moves it
// to finalized/, replacing an older replica of the block.
func (w *ReplicaWriter) Finalize() (Replica, error) {
	if w.done {
		return Replica{}, errors.New("replica writer already closed")
	}
	w.done = true
	defer w.release()
	defer func() {
		w.s.mu.Lock()
		w.s.doneWriting(w.bpid, w.id)
		w.s.mu.Unlock()
	}()
	dst := w.vol.finalizedDir(w.bpid, w.id)
	// A new replica's files (opened for reading too by createIn; an
	// append's are not) stay open for its readers (openFiles: a file is
	// usually read soon after it is written), as second descriptors: the
	// writer's own are closed as always, their errors its own. A small
	// replica's CRCs are kept instead of its meta file (crcCache).
	keepCRCs := w.orig == nil && !w.crcsOff
	var keep [2]*os.File
	defer func() {
		for _, f := range keep {
			if f != nil {
				f.Close()
			}
		}
	}()
	for i, f := range []struct {
		b    *bufio.Writer
		f    *os.File
		name string
	}{{w.bw, w.blk, BlockFileName(w.id)}, {w.mw, w.meta, MetaFileName(w.id, w.gs)}} {
		err := f.b.Flush()
		if err == nil && w.s.SyncOnClose {
			t := w.s.ioStart()
			err = f.f.Sync()
			w.vol.ioDone(IOSync, t, err)
		}
		if err == nil && w.unnamed() {
			// The second descriptor keeps the unnamed file alive to be
			// linked (and is closed after if it is not kept).
			keep[i], err = dupFile(f.f, filepath.Join(dst, f.name))
		} else if err == nil && w.orig == nil && (i == 0 || !keepCRCs) {
			keep[i], _ = dupFile(f.f, filepath.Join(dst, f.name))
		}
		if cerr := f.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			w.blk.Close()
			w.meta.Close()
			w.discard()
			return Replica{}, err
		}
	}
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.replicas[w.bpid][w.id]; old != nil {
		if old.GenStamp >= w.gs && w.orig == nil {
			// Another writer of the block finished first.
			w.removeFiles()
			return Replica{}, fmt.Errorf("%w: Block %s:blk_%d_%d already exists and thus cannot be finalized again",
				ErrReplicaExists, w.bpid, w.id, old.GenStamp)
		}
		s.removeFilesLocked(w.bpid, old)
	}
	if err := w.moveInto(w.meta, keep[1], dst, MetaFileName(w.id, w.gs)); err != nil {
		return Replica{}, err
	}
	if err := w.moveInto(w.blk, keep[0], dst, BlockFileName(w.id)); err != nil {
		if w.unnamed() {
			_ = os.Remove(filepath.Join(dst, MetaFileName(w.id, w.gs)))
		}
		return Replica{}, err
	}
	if w.unnamed() && keepCRCs {
		keep[1].Close()
		keep[1] = nil
	}
	r := &Replica{ID: w.id, GenStamp: w.gs, NumBytes: w.n, State: Finalized, Volume: w.vol}
	if s.replicas[w.bpid] == nil {
		s.replicas[w.bpid] = map[int64]*Replica{}
	}
	s.replicas[w.bpid][w.id] = r
	w.vol.used += r.NumBytes + metaSize(r.NumBytes)
	if keepCRCs {
		s.files.crcs.put(w.bpid, *r, w.crcs)
	}
	if keep[0] != nil && (keep[1] != nil || keepCRCs) {
		s.files.release(s.files.put(w.bpid, *r, keep[0], keep[1]))
		keep = [2]*os.File{}
	}
	return *r, nil
}

// unnamed reports whether the replica's files have no names until Finalize.
func (w *ReplicaWriter) unnamed() bool { return w.link != noTempFiles }

// moveInto gives the writer's file f its name in dir: a rename out of
// rbw/, or for an unnamed file a link of second, its other descriptor
// (f's own is closed by then).
func (w *ReplicaWriter) moveInto(f, second *os.File, dir, name string) error {
	t := w.s.metaStart()
	var err error
	if w.unnamed() {
		err = w.link.linkInto(second, dir, name)
	} else {
		err = renameInto(f.Name(), dir, name)
	}
	w.vol.ioDone(IOMetadata, t, err)
	return err
}

// Abort drops a replica being written; an append is rolled back to the
// replica it continued.
func (w *ReplicaWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.blk.Close()
	w.meta.Close()
	w.discard()
	w.s.mu.Lock()
	w.s.doneWriting(w.bpid, w.id)
	w.s.mu.Unlock()
	w.release()
}

// AppendRBW reopens finalized replica id, of generation stamp gs and
// numBytes bytes, for an append under stamp newGS (HDFS's
// FsDatasetImpl.append): its files move to rbw/, the meta file taking the
// new stamp, and writing continues at its end. newGS may equal gs: a
// pipeline recovery cuts the replica to the acknowledged length under the
// new stamp first (TruncateReplica), then continues it. The replica is not offered
// for reading until Finalize; Abort puts it back as it was.
func (s *Store) AppendRBW(bpid string, id, gs, newGS, numBytes int64) (*ReplicaWriter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.replicas[bpid][id]
	switch {
	case r == nil || r.State != Finalized:
		return nil, fmt.Errorf("%w: no finalized replica of block %d to append to", ErrNoReplica, id)
	case r.GenStamp != gs || r.NumBytes != numBytes:
		return nil, fmt.Errorf("%w: replica blk_%d_%d has %d bytes; the append expects stamp %d and %d bytes", ErrNoReplica, id, r.GenStamp, r.NumBytes, gs, numBytes)
	case newGS < gs:
		return nil, fmt.Errorf("append to block %d: new generation stamp %d is below %d", id, newGS, gs)
	}
	fin := r.Volume.finalizedDir(bpid, id)
	rbw := filepath.Join(r.Volume.bpDir(bpid), "current", "rbw")
	if err := os.MkdirAll(rbw, 0o755); err != nil {
		return nil, err
	}
	w := &ReplicaWriter{s: s, bpid: bpid, id: id, gs: newGS, vol: r.Volume, n: numBytes, managed: numBytes, orig: r}
	full := numBytes / BytesPerChecksum * BytesPerChecksum
	if full < numBytes {
		// Keep the partial chunk's bytes and CRC: the CRC is recomputed as
		// the chunk fills, and put back if the append is aborted.
		f, err := openFile(filepath.Join(fin, BlockFileName(id)), syscall.O_RDONLY, 0)
		if err != nil {
			return nil, err
		}
		w.partial = make([]byte, numBytes-full, BytesPerChecksum)
		_, err = f.ReadAt(w.partial, full)
		f.Close()
		if err != nil {
			return nil, err
		}
		m, err := openFile(filepath.Join(fin, MetaFileName(id, gs)), syscall.O_RDONLY, 0)
		if err != nil {
			return nil, err
		}
		w.origCRC = make([]byte, 4)
		_, err = m.ReadAt(w.origCRC, MetaHeaderLen+4*(full/BytesPerChecksum))
		m.Close()
		if err != nil {
			return nil, err
		}
		if crc32.Checksum(w.partial, castagnoli) != binary.BigEndian.Uint32(w.origCRC) {
			return nil, fmt.Errorf("%w: the last chunk of block %d does not match its CRC", ErrChecksum, id)
		}
	}
	blkPath, metaPath := filepath.Join(rbw, BlockFileName(id)), filepath.Join(rbw, MetaFileName(id, newGS))
	if err := renameFile(filepath.Join(fin, MetaFileName(id, gs)), metaPath); err != nil {
		return nil, err
	}
	if err := renameFile(filepath.Join(fin, BlockFileName(id)), blkPath); err != nil {
		_ = renameFile(metaPath, filepath.Join(fin, MetaFileName(id, gs)))
		return nil, err
	}
	delete(s.replicas[bpid], id)
	s.files.evict(bpid, id) // moved to rbw for the append
	r.Volume.used -= r.NumBytes + metaSize(r.NumBytes)
	var err error
	if w.blk, err = openFile(blkPath, syscall.O_WRONLY|syscall.O_APPEND, 0); err == nil {
		w.meta, err = openFile(metaPath, syscall.O_RDWR, 0)
	}
	if err == nil {
		// The meta file continues at its end; a partial chunk's CRC is
		// replaced when bytes for that chunk arrive.
		_, err = w.meta.Seek(0, io.SeekEnd)
	}
	if err != nil {
		if w.blk != nil {
			w.blk.Close()
		}
		if w.meta != nil {
			w.meta.Close()
		}
		w.rollBackLocked()
		return nil, err
	}
	w.buffers()
	s.startWriting(bpid, id)
	s.appends[writingKey(bpid, id)] = w
	return w, nil
}

// rollBack puts an aborted append's replica back as it was.
func (w *ReplicaWriter) rollBack() {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.rollBackLocked()
}

func (w *ReplicaWriter) rollBackLocked() {
	r := w.orig
	fin := r.Volume.finalizedDir(w.bpid, w.id)
	rbw := filepath.Join(r.Volume.bpDir(w.bpid), "current", "rbw")
	blkPath, metaPath := filepath.Join(rbw, BlockFileName(w.id)), filepath.Join(rbw, MetaFileName(w.id, w.gs))
	full := r.NumBytes / BytesPerChecksum * BytesPerChecksum
	err := os.Truncate(blkPath, r.NumBytes)
	if err == nil {
		err = os.Truncate(metaPath, MetaHeaderLen+4*(full/BytesPerChecksum))
	}
	if err == nil && w.origCRC != nil {
		var f *os.File
		if f, err = openFile(metaPath, syscall.O_WRONLY|syscall.O_APPEND, 0); err == nil {
			_, err = f.Write(w.origCRC)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err == nil {
		err = renameFile(metaPath, filepath.Join(fin, MetaFileName(w.id, r.GenStamp)))
	}
	if err == nil {
		err = renameFile(blkPath, filepath.Join(fin, BlockFileName(w.id)))
	}
	if err != nil {
		// The replica stays in rbw/ under the new stamp: the restart scan
		// reports it and the coordinator decides.
		return
	}
	w.s.replicas[w.bpid][w.id] = r
	r.Volume.used += r.NumBytes + metaSize(r.NumBytes)
}

// discard drops what a failed writer wrote: an append is rolled back, a
// new replica removed.
func (w *ReplicaWriter) discard() {
	if w.orig != nil {
		w.rollBack()
	} else {
		w.removeFiles()
	}
}

func (w *ReplicaWriter) removeFiles() {
	if w.unnamed() {
		return // unnamed: gone with their last descriptors
	}
	for _, f := range []*os.File{w.blk, w.meta} {
		t := w.s.metaStart()
		err := os.Remove(f.Name())
		w.vol.ioDone(IOMetadata, t, err)
	}
}

// OpenReplica opens a finalized replica's block and meta files — its
// block file only when its CRCs are kept (crcCache). A replica being
// appended to is read as it was before the append (HDFS serves its
// visible length), from rbw/.
func (s *Store) OpenReplica(bpid string, id int64) (*ReplicaReader, error) {
	return s.openReplica(bpid, id, true)
}

// OpenReplicaOnDisk is OpenReplica reading the CRCs from the meta file
// always: the block scanner verifies what the disk holds.
func (s *Store) OpenReplicaOnDisk(bpid string, id int64) (*ReplicaReader, error) {
	return s.openReplica(bpid, id, false)
}

func (s *Store) openReplica(bpid string, id int64, keptCRCs bool) (*ReplicaReader, error) {
	s.mu.RLock()
	var r Replica
	var blkPath, metaPath string
	var lastCRC []byte
	finalized := false
	if p, ok := s.replicas[bpid][id]; ok && p.State == Finalized {
		r, finalized = *p, true
	} else if w := s.appends[writingKey(bpid, id)]; w != nil {
		r, lastCRC = *w.orig, w.origCRC
		blkPath, metaPath = w.blk.Name(), w.meta.Name()
	}
	s.mu.RUnlock()
	var crcs []byte
	if finalized {
		if keptCRCs {
			crcs, _ = s.files.crcs.get(bpid, r)
		}
		if f := s.files.get(bpid, r); f != nil {
			if f.meta != nil || crcs != nil {
				return s.replicaReader(r, f, crcs)
			}
			s.files.release(f) // kept without its meta file, which is wanted
		}
		dir := r.Volume.finalizedDir(bpid, id) + string(filepath.Separator)
		blkPath, metaPath = dir+BlockFileName(id), dir+MetaFileName(id, r.GenStamp)
	}
	if blkPath == "" {
		return nil, fmt.Errorf("%w: block %d in %s", ErrNoReplica, id, bpid)
	}
	blk, err := openFile(blkPath, syscall.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) && lastCRC == nil {
		// Removed behind the datanode's back (HDFS's invalidateMissingBlock).
		s.forget(bpid, r)
		return nil, &UnreadableError{BlockPoolID: bpid, Replica: r, Gone: true, Err: fmt.Errorf("%w: the block file of block %d is gone: %v", ErrNoReplica, id, err)}
	}
	if err != nil {
		return nil, err
	}
	if fi, err := blk.Stat(); err == nil && fi.Size() < r.NumBytes && lastCRC == nil {
		blk.Close()
		return nil, &UnreadableError{BlockPoolID: bpid, Replica: r, Err: fmt.Errorf("%w: the block file of block %d has %d bytes, the replica %d", ErrChecksum, id, fi.Size(), r.NumBytes)}
	}
	if crcs != nil {
		return s.replicaReader(r, s.files.put(bpid, r, blk, nil), crcs)
	}
	meta, err := openFile(metaPath, syscall.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) && lastCRC == nil {
		blk.Close()
		return nil, &UnreadableError{BlockPoolID: bpid, Replica: r, Err: fmt.Errorf("%w: the meta file of block %d is gone: %v", ErrChecksum, id, err)}
	}
	if err != nil {
		blk.Close()
		return nil, err
	}
	if finalized && keptCRCs && 4*((r.NumBytes+BytesPerChecksum-1)/BytesPerChecksum) <= maxKeptCRCs {
		// A small replica's CRCs are read whole, kept, and its meta file
		// closed: the next reader opens the block file only.
		crcs = make([]byte, 4*((r.NumBytes+BytesPerChecksum-1)/BytesPerChecksum))
		_, err := readAt(meta, r.Volume, s.FileIOProfilingPercentage, crcs, MetaHeaderLen)
		meta.Close()
		if err != nil {
			blk.Close()
			return nil, &UnreadableError{BlockPoolID: bpid, Replica: r, Err: fmt.Errorf("%w: the meta file of block %d is too short: %v", ErrChecksum, id, err)}
		}
		s.files.crcs.put(bpid, r, crcs)
		return s.replicaReader(r, s.files.put(bpid, r, blk, nil), crcs)
	}
	if finalized {
		return s.replicaReader(r, s.files.put(bpid, r, blk, meta), nil)
	}
	return &ReplicaReader{Replica: r, blk: blk, meta: meta, lastCRC: lastCRC, readahead: s.ReadaheadBytes, dropLarge: s.DropCacheBehindReads, prof: s.FileIOProfilingPercentage}, nil
}

// replicaReader reads finalized replica r from its shared files f, with
// its kept CRCs (nil: from the meta file).
func (s *Store) replicaReader(r Replica, f *sharedFiles, crcs []byte) (*ReplicaReader, error) {
	rr := &ReplicaReader{Replica: r, blk: f.blk, meta: f.meta, crcs: crcs, files: s.files, shared: f, readahead: s.ReadaheadBytes, dropLarge: s.DropCacheBehindReads, prof: s.FileIOProfilingPercentage}
	if crcs == nil && r.NumBytes%BytesPerChecksum != 0 {
		// The CRC of a partial last chunk is taken now: an append may
		// replace it while this reader reads the bytes it covers.
		rr.lastCRC = make([]byte, 4)
		if _, err := readAt(f.meta, r.Volume, rr.prof, rr.lastCRC, MetaHeaderLen+4*(r.NumBytes/BytesPerChecksum)); err != nil {
			rr.Close()
			return nil, fmt.Errorf("%w: meta file too short: %v", ErrChecksum, err)
		}
	}
	return rr, nil
}

// ReplicaReader reads a finalized replica, verifying checksums.
type ReplicaReader struct {
	Replica
	blk, meta *os.File
	lastCRC   []byte // the CRC of a partial last chunk, as of the open
	crcs      []byte // the replica's kept CRCs (crcCache); nil: read from meta
	// A finalized replica's files are shared with other readers (openFiles).
	files  *openFiles
	shared *sharedFiles
	// The page cache around long reads (osCache): read ahead this many
	// bytes, drop what was read (dropLarge), and for every read (dropAll).
	readahead          int64
	dropLarge, dropAll bool
	prof               int // dfs.datanode.fileio.profiling.sampling.percentage
}

// Close closes the files (gives up its hold on shared ones).
func (r *ReplicaReader) Close() error {
	if r.files != nil {
		if r.shared != nil {
			r.files.release(r.shared)
			r.shared = nil
		}
		return nil
	}
	r.meta.Close()
	return r.blk.Close()
}

// readPiece is how much of a replica is read and verified at a time.
const readPiece = 2048 * BytesPerChecksum // 1 MiB

// pieceBuf holds a piece of a replica and its CRCs while it is read.
type pieceBuf struct{ data, crcs []byte }

// pieceBufs are the read buffers, one pool per piece size: a megabyte for
// verified reads, a packet for packet streams. A read smaller than its
// piece size uses the front of a pooled buffer (a fresh buffer per read was
// most of what a small read allocated in the datanode).
var pieceBufs = [2]struct {
	size int64
	pool sync.Pool
}{{size: packet.MaxData}, {size: readPiece}}

// takePiece returns a buffer for pieces of up to size bytes; put it back
// with putPiece.
func takePiece(size int64) *pieceBuf {
	for i := range pieceBufs {
		if c := &pieceBufs[i]; size <= c.size {
			if b, ok := c.pool.Get().(*pieceBuf); ok {
				return b
			}
			return &pieceBuf{data: make([]byte, c.size), crcs: make([]byte, 4*(c.size/BytesPerChecksum))}
		}
	}
	return &pieceBuf{data: make([]byte, size), crcs: make([]byte, 4*((size+BytesPerChecksum-1)/BytesPerChecksum))}
}

func putPiece(b *pieceBuf) {
	for i := range pieceBufs {
		if c := &pieceBufs[i]; int64(len(b.data)) == c.size {
			c.pool.Put(b)
			return
		}
	}
}

// ReadVerified copies length bytes from offset to w, reading whole 512-byte
// chunks and checking each against the meta file before any of its bytes
// are written. It returns ErrChecksum (wrapped) at the first bad chunk.
func (r *ReplicaReader) ReadVerified(w io.Writer, offset, length int64) (int64, error) {
	var sent int64
	end := offset + length
	err := r.eachPiece(offset, end, readPiece, true, func(pos int64, data, _ []byte) error {
		lo, hi := max(offset, pos)-pos, min(end, pos+int64(len(data)))-pos
		m, err := w.Write(data[lo:hi])
		sent += int64(m)
		return err
	})
	return sent, err
}

// ReadPackets writes the whole chunks covering [offset, offset+length) to w
// as packets (docs/formats/packets.md) with the CRCs of the meta file, then
// the end marker. The chunks are not checked here: the reader checks every
// one against its CRC (HDFS's BlockSender leaves it to the client, and the
// end-to-end check covers the disk and the wire at once) and reports a
// mismatch. It returns the block offset of the first byte sent, offset
// rounded down to a chunk.
func (r *ReplicaReader) ReadPackets(w io.Writer, offset, length int64) (int64, error) {
	start := offset / BytesPerChecksum * BytesPerChecksum
	hdr := make([]byte, 0, 4+4*(min(max(length, 0), packet.MaxData)/BytesPerChecksum+2))
	err := r.eachPiece(offset, offset+length, packet.MaxData, false, func(_ int64, data, crcs []byte) error {
		hdr = binary.BigEndian.AppendUint32(hdr[:0], uint32(len(data)))
		hdr = append(hdr, crcs...)
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		_, err := w.Write(data)
		return err
	})
	if err == nil {
		_, err = w.Write(packet.AppendEnd(hdr[:0]))
	}
	return start, err
}

// eachPiece reads the whole chunks covering [offset, end), piece bytes at a
// time, checks them against the meta file (with verify) and hands each
// piece, its CRCs and its block offset to fn.
func (r *ReplicaReader) eachPiece(offset, end, piece int64, verify bool, fn func(pos int64, data, crcs []byte) error) error {
	if offset < 0 || end < offset || end > r.NumBytes {
		return fmt.Errorf("range [%d, %d) is outside the replica's %d bytes", offset, end, r.NumBytes)
	}
	pos := offset / BytesPerChecksum * BytesPerChecksum
	if span := end - pos; span < piece {
		piece = (span + BytesPerChecksum - 1) / BytesPerChecksum * BytesPerChecksum
	}
	buf := takePiece(piece)
	defer putPiece(buf)
	data, crcs := buf.data, buf.crcs
	limit := min(r.NumBytes, (end+BytesPerChecksum-1)/BytesPerChecksum*BytesPerChecksum)
	cache := r.osCache(pos, limit)
	defer func() { cache.finish(pos) }()
	for pos < end {
		cache.before(pos)
		n := min(piece, limit-pos)
		nc := (n + BytesPerChecksum - 1) / BytesPerChecksum
		if _, err := readAt(r.blk, r.Volume, r.prof, data[:n], pos); err != nil {
			if errors.Is(err, io.EOF) { // truncated since it was opened
				return fmt.Errorf("%w: the block file ends before byte %d of %d", ErrChecksum, pos+n, r.NumBytes)
			}
			return err
		}
		if r.crcs != nil {
			copy(crcs[:4*nc], r.crcs[4*(pos/BytesPerChecksum):])
		} else if _, err := readAt(r.meta, r.Volume, r.prof, crcs[:4*nc], MetaHeaderLen+4*(pos/BytesPerChecksum)); err != nil {
			return fmt.Errorf("%w: meta file too short: %v", ErrChecksum, err)
		}
		if r.lastCRC != nil && pos+n == r.NumBytes {
			copy(crcs[4*(nc-1):], r.lastCRC)
		}
		if verify {
			if err := VerifyChunks(data[:n], crcs[:4*nc], pos); err != nil {
				return err
			}
		}
		if err := fn(pos, data[:n], crcs[:4*nc]); err != nil {
			return err
		}
		pos += n
	}
	return nil
}

// BlockChecksum is the MD5 of a replica's CRCs (the meta file after its
// header) and how many CRCs there are: what GETFILECHECKSUM combines.
func (s *Store) BlockChecksum(bpid string, id int64) ([16]byte, int64, error) {
	rr, err := s.OpenReplica(bpid, id)
	if err != nil {
		return [16]byte{}, 0, err
	}
	defer rr.Close()
	h := md5.New()
	crcs := (rr.NumBytes + BytesPerChecksum - 1) / BytesPerChecksum
	full := rr.NumBytes / BytesPerChecksum
	if rr.crcs != nil {
		h.Write(rr.crcs) // with a partial chunk's CRC, if any
	} else {
		if _, err := io.Copy(h, io.NewSectionReader(rr.meta, MetaHeaderLen, 4*full)); err != nil {
			return [16]byte{}, 0, err
		}
		h.Write(rr.lastCRC) // nil without a partial chunk
	}
	var sum [16]byte
	copy(sum[:], h.Sum(nil))
	return sum, crcs, nil
}
