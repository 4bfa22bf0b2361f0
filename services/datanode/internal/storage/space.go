package storage

import (
	"errors"
	"fmt"
	"github.com/granary-fs/granary/internal/diskspace"
	"os"
	"syscall"
)

// A full volume is not a failed one (HDFS's DiskOutOfSpaceException is not
// a disk error): it stops receiving new replicas, and keeps serving reads
// and deletes. A volume takes a new replica only when its available space
// covers the replica's block size: free space less dfs.datanode.du.reserved
// less the block sizes reserved by the replicas being written to it
// (HDFS's reservedForReplicas).

// ErrOutOfSpace is returned (wrapped) when no volume has room for a block.
var ErrOutOfSpace = errors.New("out of space")

// isNoSpace reports whether err is the file system being full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// capacity returns the volume's file-system size and free bytes.
func (v *Volume) capacity() (total, free int64, err error) { return diskspace.Of(v.Dir) }

// available is the space a new replica may use on v.
func (s *Store) available(v *Volume) int64 {
	_, free, err := v.capacity()
	if err != nil {
		return 0
	}
	return max(0, free-s.Reserved-v.inflight.Load())
}

// nextVolume chooses, round-robin, a healthy volume with room for need
// bytes (HDFS's RoundRobinVolumeChoosingPolicy) and reserves them on it;
// the caller holds s.mu.
func (s *Store) nextVolume(need int64) (*Volume, error) {
	vols := s.healthy()
	if len(vols) == 0 {
		return nil, errors.New("no healthy volume")
	}
	var most int64
	for i := range vols {
		v := vols[(s.next+i)%len(vols)]
		avail := s.available(v)
		if avail >= need {
			s.next += i + 1
			v.inflight.Add(need)
			return v, nil
		}
		most = max(most, avail)
	}
	return nil, fmt.Errorf("%w: The volume with the most available space (=%d B) is less than the block size (=%d B)", ErrOutOfSpace, most, need)
}

// writeIfChanged writes a VERSION file unless it already holds p (the
// time-stamp comment aside): a full volume must not stop a restart.
func (p properties) writeIfChanged(path string) error {
	if old, err := readProperties(path); err == nil && len(old) == len(p) {
		same := true
		for k, v := range p {
			if old[k] != v {
				same = false
				break
			}
		}
		if same {
			return nil
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return p.write(path)
}
