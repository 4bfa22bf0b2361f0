package storage

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestFileIOProfiled: with dfs.datanode.fileio.profiling.sampling.percentage
// at 100, a replica's two creates and two renames, its two deletes, its
// writes, its two fsyncs (synconclose) and its reads are counted and timed
// on its volume; at 0 (HDFS's default) nothing is. At 1, as HDFS, every
// metadata operation is still timed: only data operations are sampled.
func TestFileIOProfiled(t *testing.T) {
	for _, pct := range []int{0, 1, 100} {
		st := openStore(t)
		st.FileIOProfilingPercentage = pct
		st.SyncOnClose = true
		r, err := st.WriteFinalized(bp, 1<<30, 1001, []byte("profiled"))
		if err != nil {
			t.Fatal(err)
		}
		written, _ := r.Volume.FileIO()
		// From disk: a reader would use the CRCs the writer kept.
		rr, err := st.OpenReplicaOnDisk(bp, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rr.ReadVerified(io.Discard, 0, r.NumBytes); err != nil {
			t.Fatal(err)
		}
		rr.Close()
		if !st.Delete(bp, 1<<30, 1001) {
			t.Fatal("the replica was not deleted")
		}
		all, failed := r.Volume.FileIO()
		if pct == 0 {
			if all != [ioKinds]IOStat{} || failed != 0 {
				t.Fatalf("profiling off, yet %+v and %d errors", all, failed)
			}
			continue
		}
		if written[IOMetadata].Count != 4 || all[IOMetadata].Count != 6 {
			t.Fatalf("percentage %d: metadata operations: %d after the write, %d after the delete; want 4, 6", pct, written[IOMetadata].Count, all[IOMetadata].Count)
		}
		if pct < 100 {
			continue // data operations sampled
		}
		if written[IOWrite].Count < 2 || written[IOSync].Count != 2 || written[IORead].Count != 0 {
			t.Fatalf("after the write: %+v; want 2 writes or more, 2 syncs, no read", written)
		}
		if all[IORead].Count < 2 {
			t.Fatalf("after the read: %d reads, want the data's and the checksums'", all[IORead].Count)
		}
		for k, s := range all {
			if s.Time <= 0 {
				t.Fatalf("%s: %d operations took %v", IOKinds[k], s.Count, s.Time)
			}
		}
		if failed != 0 {
			t.Fatalf("%d operations failed", failed)
		}
		// A replica whose files went behind the datanode's back: its two
		// deletes fail, and are counted.
		gone, err := st.WriteFinalized(bp, 1<<30+1, 1001, []byte("gone"))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(gone.Volume.FinalizedPath(bp, gone.ID))
		for _, name := range []string{BlockFileName(gone.ID), MetaFileName(gone.ID, 1001)} {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		st.Delete(bp, gone.ID, 1001)
		if _, failed := gone.Volume.FileIO(); failed != 2 {
			t.Fatalf("%d failed operations counted, want the 2 deletes", failed)
		}
	}
}
