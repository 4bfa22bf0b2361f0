package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// replicaFiles returns the block and meta file of a finalized replica.
func replicaFiles(t *testing.T, r Replica) (data, meta []byte) {
	t.Helper()
	dir := filepath.Dir(r.Volume.FinalizedPath(bp, r.ID))
	data, err1 := os.ReadFile(filepath.Join(dir, BlockFileName(r.ID)))
	meta, err2 := os.ReadFile(filepath.Join(dir, MetaFileName(r.ID, r.GenStamp)))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return data, meta
}

// TestTruncateReplica: a replica cut in place under a new stamp has the
// files of a replica written at that length in one go (the last, partial
// chunk with its own CRC) and keeps them across a restart; a retry is
// answered with the replica; a wrong stamp, a longer length or a damaged
// kept chunk are refused and change nothing.
func TestTruncateReplica(t *testing.T) {
	dirs := volumes(t, 1)
	st := openPool(t, dirs)
	all := []byte(strings.Repeat("0123456789abcdef", 200)) // 3200 bytes
	for i, n := range []int64{1300, 1024, 1, 3199} {
		id := int64(1<<30 + i)
		if _, err := st.WriteFinalized(bp, id, 1001, all); err != nil {
			t.Fatal(err)
		}
		r, err := st.TruncateReplica(bp, id, 1001, 1005, n)
		if err != nil {
			t.Fatalf("truncate to %d: %v", n, err)
		}
		if r.GenStamp != 1005 || r.NumBytes != n {
			t.Fatalf("truncate to %d: %+v", n, r)
		}
		if data, meta := replicaFiles(t, r); string(data) != string(all[:n]) || string(meta) != string(ChecksumFile(all[:n])) {
			t.Fatalf("truncate to %d: the files differ from a replica written at that length", n)
		}
		dir := filepath.Dir(r.Volume.FinalizedPath(bp, id))
		if _, err := os.Stat(filepath.Join(dir, MetaFileName(id, 1001))); !os.IsNotExist(err) {
			t.Fatal("the old meta file is still there")
		}
		if again, err := st.TruncateReplica(bp, id, 1001, 1005, n); err != nil || again != r {
			t.Fatalf("a retried truncate: %+v %v", again, err)
		}
	}

	id := int64(1<<30 + 100)
	if _, err := st.WriteFinalized(bp, id, 1001, all); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		gs, newGS, n int64
	}{{1000, 1005, 100}, {1001, 1001, 100}, {1001, 1005, 3201}} {
		if _, err := st.TruncateReplica(bp, id, c.gs, c.newGS, c.n); err == nil {
			t.Fatalf("truncate %+v was accepted", c)
		}
	}
	r, _ := st.Get(bp, id)
	dir := filepath.Dir(r.Volume.FinalizedPath(bp, id))
	blk := filepath.Join(dir, BlockFileName(id))
	f, err := os.OpenFile(blk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("X"), 1500); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := st.TruncateReplica(bp, id, 1001, 1005, 1300); !errors.Is(err, ErrChecksum) {
		t.Fatalf("truncate inside a damaged chunk: %v, want a checksum error", err)
	}
	if r2, _ := st.Get(bp, id); r2 != r {
		t.Fatalf("a refused truncate changed the replica: %+v", r2)
	}

	// A restart finds the truncated replicas as they were left.
	reopened := openPool(t, dirs)
	if r, ok := reopened.Get(bp, 1<<30); !ok || r.GenStamp != 1005 || r.NumBytes != 1300 {
		t.Fatalf("after a restart: %+v %v", r, ok)
	}
}

// TestTruncateReplicaResumed: a truncate interrupted after the new meta
// file replaced the old one (the restart scan finds the replica under the
// new stamp at its old length) is finished by the retried recovery.
func TestTruncateReplicaResumed(t *testing.T) {
	dirs := volumes(t, 1)
	st := openPool(t, dirs)
	all := []byte(strings.Repeat("0123456789abcdef", 200))
	id := int64(1 << 30)
	r, err := st.WriteFinalized(bp, id, 1001, all)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(r.Volume.FinalizedPath(bp, id))
	if err := os.WriteFile(filepath.Join(dir, MetaFileName(id, 1005)), ChecksumFile(all[:1300]), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, MetaFileName(id, 1001))); err != nil {
		t.Fatal(err)
	}
	st = openPool(t, dirs)
	if r, ok := st.Get(bp, id); !ok || r.GenStamp != 1005 || r.NumBytes != 3200 {
		t.Fatalf("the interrupted replica at start: %+v %v", r, ok)
	}
	r, err = st.TruncateReplica(bp, id, 1001, 1005, 1300)
	if err != nil {
		t.Fatal(err)
	}
	if data, meta := replicaFiles(t, r); r.NumBytes != 1300 || string(data) != string(all[:1300]) || string(meta) != string(ChecksumFile(all[:1300])) {
		t.Fatalf("the resumed truncate left %+v and other files", r)
	}
}
