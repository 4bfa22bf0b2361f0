package storage

import (
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"
)

// File I/O profiling, as HDFS's DataNodeVolumeMetrics with
// dfs.datanode.fileio.profiling.sampling.percentage: with it above 0 every
// metadata operation on a volume's replica files and that percentage of
// its data operations is timed (HDFS samples only the latter), and the
// volume counts them, the time they took and every failure, by kind — metadata
// (creating a replica's files in rbw/, renaming them into finalized/,
// deleting them; HDFS's MetadataOperationRate), read and write (the
// system calls that move a replica's data and checksums; ReadIoRate,
// WriteIoRate), sync (fsync and sync_file_range; SyncIoRate) — and errors
// (FileIoErrorRate). A slow or contended file system shows here first:
// ext4 without a journal, for minutes after many files were deleted,
// spends hundreds of microseconds finding an inode for each new file.

// IOKind is a kind of profiled operation.
type IOKind int

const (
	IOMetadata IOKind = iota
	IORead
	IOWrite
	IOSync
	ioKinds
)

// IOKinds are the kinds, in order, with their names.
var IOKinds = [ioKinds]string{"metadata", "read", "write", "sync"}

// IOStat is what a volume's profiled operations of one kind took.
type IOStat struct {
	Count int64
	Time  time.Duration
}

// FileIO returns what the volume's profiled operations of each kind
// (indexed as IOKinds) took so far, and how many failed.
func (v *Volume) FileIO() (stats [ioKinds]IOStat, errors int64) {
	for k := range stats {
		stats[k] = IOStat{Count: v.io[k].ops.Load(), Time: time.Duration(v.io[k].nanos.Load())}
	}
	return stats, v.ioErrors.Load()
}

type ioCounter struct{ ops, nanos atomic.Int64 }

// ioStart is when a data operation starts, as HDFS's
// ProfilingFileIoEvents.beforeFileIo: zero with profiling off, notTimed
// for an operation the pct percent sample leaves out.
func ioStart(pct int) time.Time {
	switch {
	case pct <= 0:
		return time.Time{}
	case pct >= 100 || rand.IntN(100) < pct:
		return time.Now()
	}
	return notTimed
}

// notTimed is ioStart's answer for an operation profiling counts only if
// it fails (HDFS's onFailure counts every failure).
var notTimed = time.Unix(0, 1)

// ioStart is when a data operation on one of the store's volumes starts.
func (s *Store) ioStart() time.Time { return ioStart(s.FileIOProfilingPercentage) }

// metaStart is when a metadata operation starts: with profiling on, every
// one is timed, as HDFS's beforeMetadataOp does (only data operations are
// sampled).
func (s *Store) metaStart() time.Time {
	if s.FileIOProfilingPercentage <= 0 {
		return time.Time{}
	}
	return time.Now()
}

// ioDone counts an operation of kind k on v that started at start and
// ended with err: its time if it was timed, its failure if profiling is
// on.
func (v *Volume) ioDone(k IOKind, start time.Time, err error) {
	if start.IsZero() {
		return
	}
	if err != nil {
		v.ioErrors.Add(1)
	}
	if start.Equal(notTimed) {
		return
	}
	v.io[k].ops.Add(1)
	v.io[k].nanos.Add(int64(time.Since(start)))
}

// profiledFile is a replica file whose writes are profiled: the target of
// a replica writer's buffers and of its direct writes.
type profiledFile struct {
	f   *os.File
	v   *Volume
	pct int
}

func (p *profiledFile) Write(b []byte) (int, error) {
	t := ioStart(p.pct)
	n, err := p.f.Write(b)
	p.v.ioDone(IOWrite, t, err)
	return n, err
}

// readAt reads from a replica file, profiled.
func readAt(f *os.File, v *Volume, pct int, b []byte, off int64) (int, error) {
	t := ioStart(pct)
	n, err := f.ReadAt(b, off)
	v.ioDone(IORead, t, err)
	return n, err
}
