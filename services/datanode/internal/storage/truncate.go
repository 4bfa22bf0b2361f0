package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"syscall"
)

// TruncateReplica cuts finalized replica id, of generation stamp gs, to
// newLength bytes under stamp newGS: HDFS's in-place truncate recovery
// (FsDatasetImpl.updateReplicaUnderRecovery with a new length). The bytes
// kept are checked against the replica's checksums first; the last,
// partial chunk gets a CRC of its own.
//
// The steps leave the replica recoverable after a crash at any point: the
// new meta file is written aside and renamed into place (the restart scan
// then takes the replica under newGS), the old one removed, and only then
// is the block file cut. A replica already at newGS is cut again from its
// own meta file, and one already at newGS and newLength is returned as it
// is, so a retried recovery finishes what an interrupted one began.
func (s *Store) TruncateReplica(bpid string, id, gs, newGS, newLength int64) (Replica, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.replicas[bpid][id]
	switch {
	case r == nil || r.State != Finalized:
		return Replica{}, fmt.Errorf("%w: no finalized replica of block %d to truncate", ErrNoReplica, id)
	case r.GenStamp == newGS && r.NumBytes == newLength:
		return *r, nil
	case newGS <= gs:
		return Replica{}, fmt.Errorf("truncate of block %d: new generation stamp %d is not above %d", id, newGS, gs)
	case r.GenStamp != gs && r.GenStamp != newGS:
		return Replica{}, fmt.Errorf("%w: replica blk_%d_%d; the truncate expects stamp %d", ErrNoReplica, id, r.GenStamp, gs)
	case r.NumBytes < newLength:
		return Replica{}, fmt.Errorf("truncate of block %d to %d bytes: the replica has only %d", id, newLength, r.NumBytes)
	case s.writing[writingKey(bpid, id)] > 0:
		return Replica{}, fmt.Errorf("truncate of block %d: the replica is being written", id)
	}
	dir := r.Volume.finalizedDir(bpid, id)
	blkPath, oldMeta := filepath.Join(dir, BlockFileName(id)), filepath.Join(dir, MetaFileName(id, r.GenStamp))
	newMeta := filepath.Join(dir, MetaFileName(id, newGS))

	full := newLength / BytesPerChecksum
	meta := make([]byte, metaSize(newLength))
	mf, err := openFile(oldMeta, syscall.O_RDONLY, 0)
	if err != nil {
		return Replica{}, err
	}
	defer mf.Close()
	if _, err := mf.ReadAt(meta[:MetaHeaderLen+4*full], 0); err != nil {
		return Replica{}, fmt.Errorf("%w: meta file of block %d: %v", ErrChecksum, id, err)
	}
	if start := full * BytesPerChecksum; start < newLength {
		// The chunk holding the new end: checked against the CRC the meta
		// file has for it (over the whole chunk, or over the kept bytes
		// when a truncate to newGS began before), then given its own.
		end := min(start+BytesPerChecksum, r.NumBytes)
		if r.GenStamp == newGS {
			end = newLength
		}
		chunk := make([]byte, end-start)
		bf, err := openFile(blkPath, syscall.O_RDONLY, 0)
		if err != nil {
			return Replica{}, err
		}
		_, err = bf.ReadAt(chunk, start)
		bf.Close()
		if err != nil {
			return Replica{}, fmt.Errorf("%w: block %d: %v", ErrChecksum, id, err)
		}
		var crc [4]byte
		if _, err := mf.ReadAt(crc[:], MetaHeaderLen+4*full); err != nil {
			return Replica{}, fmt.Errorf("%w: meta file of block %d: %v", ErrChecksum, id, err)
		}
		if crc32.Checksum(chunk, castagnoli) != binary.BigEndian.Uint32(crc[:]) {
			return Replica{}, fmt.Errorf("%w: block %d at offset %d", ErrChecksum, id, start)
		}
		binary.BigEndian.PutUint32(meta[MetaHeaderLen+4*full:], crc32.Checksum(chunk[:newLength-start], castagnoli))
	}
	s.files.evict(bpid, id) // the replica's files change under it
	if err := writeFileAtomic(newMeta, meta); err != nil {
		return Replica{}, err
	}
	if oldMeta != newMeta {
		if err := os.Remove(oldMeta); err != nil {
			return Replica{}, err
		}
	}
	if err := truncateSync(blkPath, newLength); err != nil {
		return Replica{}, err
	}
	r.Volume.used -= r.NumBytes + metaSize(r.NumBytes) - newLength - metaSize(newLength)
	nr := &Replica{ID: id, GenStamp: newGS, NumBytes: newLength, State: Finalized, Volume: r.Volume}
	s.replicas[bpid][id] = nr
	return *nr, nil
}

// truncateSync cuts the file at path to n bytes and fsyncs it.
func truncateSync(path string, n int64) error {
	f, err := openFile(path, syscall.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(n)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
