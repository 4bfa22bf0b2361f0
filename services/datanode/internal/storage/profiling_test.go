package storage

import "testing"

// TestMetadataOperationsProfiled: with
// dfs.datanode.fileio.profiling.sampling.percentage at 100 a replica's
// two creates and two renames, and its two deletes, are counted and
// timed on its volume; at 0 (HDFS's default) nothing is.
func TestMetadataOperationsProfiled(t *testing.T) {
	for _, pct := range []int{0, 100} {
		st := openStore(t)
		st.FileIOProfilingPercentage = pct
		r, err := st.WriteFinalized(bp, 1<<30, 1001, []byte("profiled"))
		if err != nil {
			t.Fatal(err)
		}
		written := r.Volume.MetadataOps()
		if !st.Delete(bp, 1<<30, 1001) {
			t.Fatal("the replica was not deleted")
		}
		all := r.Volume.MetadataOps()
		want := [2]int64{0, 0}
		if pct == 100 {
			want = [2]int64{4, 6}
		}
		if written.Count != want[0] || all.Count != want[1] {
			t.Fatalf("percentage %d: %d operations after the write, %d after the delete; want %d, %d", pct, written.Count, all.Count, want[0], want[1])
		}
		if (all.Time > 0) != (pct > 0) || written.Time > all.Time {
			t.Fatalf("percentage %d: times %v then %v", pct, written.Time, all.Time)
		}
	}
}
