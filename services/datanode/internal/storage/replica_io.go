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
)

// ErrChecksum is returned (wrapped) when data does not match its CRC32C.
var ErrChecksum = errors.New("checksum error")

// ErrNoReplica is returned (wrapped) for a replica the datanode does not hold.
var ErrNoReplica = errors.New("replica not found")

// ReplicaWriter writes a replica being received into rbw/ (block file and
// meta file side by side); Finalize moves it to finalized/.
type ReplicaWriter struct {
	s         *Store
	bpid      string
	id, gs    int64
	vol       *Volume
	blk, meta *os.File
	bw, mw    *bufio.Writer
	n         int64
	done      bool
}

// CreateRBW starts a replica of block id in a volume chosen round-robin.
func (s *Store) CreateRBW(bpid string, id, gs int64) (*ReplicaWriter, error) {
	s.mu.Lock()
	v, err := s.nextVolume()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(v.bpDir(bpid), "current", "rbw")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	blk, err := os.OpenFile(filepath.Join(dir, BlockFileName(id)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	meta, err := os.OpenFile(filepath.Join(dir, MetaFileName(id, gs)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		blk.Close()
		return nil, err
	}
	bw, mw := blockBufs.Get().(*bufio.Writer), metaBufs.Get().(*bufio.Writer)
	bw.Reset(blk)
	mw.Reset(meta)
	w := &ReplicaWriter{s: s, bpid: bpid, id: id, gs: gs, vol: v, blk: blk, meta: meta, bw: bw, mw: mw}
	hdr := ChecksumFile(nil)
	if _, err := w.mw.Write(hdr); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

// Buffers of replica writers are reused: a datanode receiving many small
// blocks must not allocate a megabyte for each.
var (
	blockBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<20) }}
	metaBufs  = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
)

func (w *ReplicaWriter) release() {
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
func (w *ReplicaWriter) Write(data, crcs []byte) error {
	if err := VerifyChunks(data, crcs, w.n); err != nil {
		return err
	}
	if _, err := w.bw.Write(data); err != nil {
		return err
	}
	if _, err := w.mw.Write(crcs); err != nil {
		return err
	}
	w.n += int64(len(data))
	return nil
}

// VerifyChunks checks data against crcs; base is the offset of data in the
// block, for the error message.
func VerifyChunks(data, crcs []byte, base int64) error {
	chunks := (len(data) + BytesPerChecksum - 1) / BytesPerChecksum
	if len(crcs) != 4*chunks {
		return fmt.Errorf("%w: %d checksum bytes for %d data bytes", ErrChecksum, len(crcs), len(data))
	}
	for i := 0; i < chunks; i++ {
		chunk := data[i*BytesPerChecksum : min(len(data), (i+1)*BytesPerChecksum)]
		if crc32.Checksum(chunk, castagnoli) != binary.BigEndian.Uint32(crcs[4*i:]) {
			return fmt.Errorf("%w at block offset %d", ErrChecksum, base+int64(i*BytesPerChecksum))
		}
	}
	return nil
}

// Len is the number of bytes written so far.
func (w *ReplicaWriter) Len() int64 { return w.n }

// Finalize flushes (and with SyncOnClose fsyncs) the replica and moves it
// to finalized/, replacing an older replica of the block.
func (w *ReplicaWriter) Finalize() (Replica, error) {
	if w.done {
		return Replica{}, errors.New("replica writer already closed")
	}
	w.done = true
	defer w.release()
	for _, f := range []struct {
		b *bufio.Writer
		f *os.File
	}{{w.bw, w.blk}, {w.mw, w.meta}} {
		if err := f.b.Flush(); err != nil {
			w.removeFiles()
			return Replica{}, err
		}
		if w.s.SyncOnClose {
			if err := f.f.Sync(); err != nil {
				w.removeFiles()
				return Replica{}, err
			}
		}
		if err := f.f.Close(); err != nil {
			w.removeFiles()
			return Replica{}, err
		}
	}
	dst := filepath.Dir(w.vol.FinalizedPath(w.bpid, w.id))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return Replica{}, err
	}
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.replicas[w.bpid][w.id]; old != nil {
		s.removeFilesLocked(w.bpid, old)
	}
	if err := os.Rename(w.meta.Name(), filepath.Join(dst, MetaFileName(w.id, w.gs))); err != nil {
		return Replica{}, err
	}
	if err := os.Rename(w.blk.Name(), filepath.Join(dst, BlockFileName(w.id))); err != nil {
		return Replica{}, err
	}
	r := &Replica{ID: w.id, GenStamp: w.gs, NumBytes: w.n, State: Finalized, Volume: w.vol}
	if s.replicas[w.bpid] == nil {
		s.replicas[w.bpid] = map[int64]*Replica{}
	}
	s.replicas[w.bpid][w.id] = r
	w.vol.used += r.NumBytes + metaSize(r.NumBytes)
	return *r, nil
}

// Abort drops a replica being written.
func (w *ReplicaWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.blk.Close()
	w.meta.Close()
	w.removeFiles()
	w.release()
}

func (w *ReplicaWriter) removeFiles() {
	_ = os.Remove(w.blk.Name())
	_ = os.Remove(w.meta.Name())
}

// OpenReplica opens a finalized replica's block and meta files.
func (s *Store) OpenReplica(bpid string, id int64) (*ReplicaReader, error) {
	r, ok := s.Get(bpid, id)
	if !ok || r.State != Finalized {
		return nil, fmt.Errorf("%w: block %d in %s", ErrNoReplica, id, bpid)
	}
	dir := filepath.Dir(r.Volume.FinalizedPath(bpid, id))
	blk, err := os.Open(filepath.Join(dir, BlockFileName(id)))
	if err != nil {
		return nil, err
	}
	meta, err := os.Open(filepath.Join(dir, MetaFileName(id, r.GenStamp)))
	if err != nil {
		blk.Close()
		return nil, err
	}
	return &ReplicaReader{Replica: r, blk: blk, meta: meta}, nil
}

// ReplicaReader reads a finalized replica, verifying checksums.
type ReplicaReader struct {
	Replica
	blk, meta *os.File
}

// Close closes the files.
func (r *ReplicaReader) Close() error {
	r.meta.Close()
	return r.blk.Close()
}

// readPiece is how much of a replica is read and verified at a time.
const readPiece = 2048 * BytesPerChecksum // 1 MiB

var readBufs = sync.Pool{New: func() any { b := make([]byte, readPiece); return &b }}

// ReadVerified copies length bytes from offset to w, reading whole 512-byte
// chunks and checking each against the meta file before any of its bytes
// are written. It returns ErrChecksum (wrapped) at the first bad chunk.
func (r *ReplicaReader) ReadVerified(w io.Writer, offset, length int64) (int64, error) {
	if offset < 0 || length < 0 || offset+length > r.NumBytes {
		return 0, fmt.Errorf("range [%d, %d) is outside the replica's %d bytes", offset, offset+length, r.NumBytes)
	}
	first := offset / BytesPerChecksum
	pos := first * BytesPerChecksum
	end := offset + length
	// Small reads get a small buffer; large ones a pooled megabyte.
	piece := int64(readPiece)
	if span := end - pos; span < piece {
		piece = (span + BytesPerChecksum - 1) / BytesPerChecksum * BytesPerChecksum
	}
	var data []byte
	if piece == readPiece {
		bp := readBufs.Get().(*[]byte)
		defer readBufs.Put(bp)
		data = *bp
	} else {
		data = make([]byte, piece)
	}
	crcs := make([]byte, 4*(piece/BytesPerChecksum))
	var sent int64
	for pos < end {
		n := min(piece, r.NumBytes-pos)
		nc := (n + BytesPerChecksum - 1) / BytesPerChecksum
		if _, err := r.blk.ReadAt(data[:n], pos); err != nil {
			return sent, err
		}
		if _, err := r.meta.ReadAt(crcs[:4*nc], MetaHeaderLen+4*(pos/BytesPerChecksum)); err != nil {
			return sent, fmt.Errorf("%w: meta file too short: %v", ErrChecksum, err)
		}
		if err := VerifyChunks(data[:n], crcs[:4*nc], pos); err != nil {
			return sent, err
		}
		lo, hi := max(offset, pos)-pos, min(end, pos+n)-pos
		m, err := w.Write(data[lo:hi])
		sent += int64(m)
		if err != nil {
			return sent, err
		}
		pos += n
	}
	return sent, nil
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
	if _, err := io.Copy(h, io.NewSectionReader(rr.meta, MetaHeaderLen, 4*crcs)); err != nil {
		return [16]byte{}, 0, err
	}
	var sum [16]byte
	copy(sum[:], h.Sum(nil))
	return sum, crcs, nil
}
