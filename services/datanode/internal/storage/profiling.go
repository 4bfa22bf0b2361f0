package storage

import (
	"math/rand/v2"
	"time"
)

// File I/O profiling, as HDFS's DataNodeVolumeMetrics with
// dfs.datanode.fileio.profiling.sampling.percentage: that percentage of
// the metadata operations on a volume's replica files — creating them in
// rbw/, renaming them into finalized/, deleting them — is timed, and the
// volume counts them and the time they took (HDFS's
// MetadataOperationRate). Reads and writes of the data are not profiled.
// A slow file system shows here first: ext4 without a journal, for
// minutes after many files were deleted, spends hundreds of microseconds
// finding an inode for each new file.

// MetadataOps is what a volume's profiled metadata operations took.
type MetadataOps struct {
	Count int64
	Time  time.Duration
}

// MetadataOps returns the volume's profiled metadata operations so far.
func (v *Volume) MetadataOps() MetadataOps {
	return MetadataOps{Count: v.metaOps.Load(), Time: time.Duration(v.metaNanos.Load())}
}

// metaOpStart is when a metadata operation starts, if it is sampled (zero
// otherwise).
func (s *Store) metaOpStart() time.Time {
	if p := s.FileIOProfilingPercentage; p >= 100 || p > 0 && rand.IntN(100) < p {
		return time.Now()
	}
	return time.Time{}
}

// metaOpDone counts a metadata operation on v that started at start.
func (v *Volume) metaOpDone(start time.Time) {
	if !start.IsZero() {
		v.metaOps.Add(1)
		v.metaNanos.Add(int64(time.Since(start)))
	}
}
