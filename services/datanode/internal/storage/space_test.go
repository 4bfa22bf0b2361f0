package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVolumeWithoutRoomTakesNoReplica: a volume whose available space
// (free less dfs.datanode.du.reserved less the replicas being written) is
// under the block size takes no new replica — ErrOutOfSpace names the
// space, as HDFS's DiskOutOfSpaceException — and is not failed: it keeps
// serving its replicas.
func TestVolumeWithoutRoomTakesNoReplica(t *testing.T) {
	st, err := Open(volumes(t, 1), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InitBlockPool("CID-1", bp, 42, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriteFinalized(bp, 1, 1001, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	v := st.Volumes()[0]
	_, free, err := v.capacity()
	if err != nil {
		t.Fatal(err)
	}
	// A replica being written reserves its block size.
	w, err := st.CreateRBW(bp, 2, 1001, free/2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateRBW(bp, 3, 1001, free/2+free/4); !errors.Is(err, ErrOutOfSpace) {
		t.Fatalf("a block larger than what the writer in flight left: %v, want ErrOutOfSpace", err)
	}
	w.Abort()
	if w, err := st.CreateRBW(bp, 3, 1001, free/2+free/4); err != nil {
		t.Fatalf("after the writer aborted, its reservation is free again: %v", err)
	} else {
		w.Abort()
	}
	// dfs.datanode.du.reserved: nothing left, with a GiB to spare because
	// the disk is shared: whatever else runs may free space meanwhile.
	st.Reserved = free + 1<<30
	if _, err := st.CreateRBW(bp, 4, 1001, 1<<20); !errors.Is(err, ErrOutOfSpace) {
		t.Fatalf("with everything reserved: %v, want ErrOutOfSpace", err)
	}
	if r := st.Reports(bp)[0]; r.Failed || r.Remaining != 0 {
		t.Fatalf("a full volume reports %+v, want healthy with 0 remaining", r)
	}
	if failed, _ := st.CheckVolumes(); len(failed) != 0 {
		t.Fatal("the volume checker failed a full volume")
	}
	rr, err := st.OpenReplica(bp, 1)
	if err != nil {
		t.Fatalf("a replica on a full volume cannot be read: %v", err)
	}
	rr.Close()
}

// TestRestartLeavesVersionFilesAlone: a restart rewrites no VERSION file
// that already says the same (it failed on a full volume writing
// VERSION.tmp).
func TestRestartLeavesVersionFilesAlone(t *testing.T) {
	dirs := volumes(t, 1)
	openPool(t, dirs)
	files := []string{filepath.Join(dirs[0], "current", "VERSION"), filepath.Join(dirs[0], "current", bp, "current", "VERSION")}
	var before []os.FileInfo
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, fi)
	}
	openPool(t, dirs) // a restart
	for i, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(fi, before[i]) {
			t.Fatalf("%s was rewritten by a restart", f)
		}
	}
}

// TestBlockPoolVersionIsVerified: a block pool's VERSION is written once
// and verified on every later handshake; one naming another namespace ID
// (or block pool) is refused with HDFS's message and left as it was.
func TestBlockPoolVersionIsVerified(t *testing.T) {
	dirs := volumes(t, 2)
	st := openPool(t, dirs)
	version := filepath.Join(dirs[0], "current", bp, "current", "VERSION")
	before, err := os.Stat(version)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InitBlockPool("CID-1", bp, 42, 7); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(version); !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("a matching VERSION was rewritten")
	}
	err = st.InitBlockPool("CID-1", bp, 43, 7)
	if !errors.Is(err, ErrWrongNamespace) || !strings.Contains(err.Error(), "Incompatible namespaceIDs in") || !strings.Contains(err.Error(), "namenode namespaceID = 43; datanode namespaceID = 42") {
		t.Fatalf("another namespace's pool: %v", err)
	}
	if p, _ := readProperties(version); p["namespaceID"] != "42" {
		t.Fatalf("the refused VERSION was changed: %v", p)
	}
	// Another pool of the same cluster on the same volumes is fine.
	if err := st.InitBlockPool("CID-1", "BP-2-127.0.0.1-2", 77, 7); err != nil {
		t.Fatalf("a second block pool: %v", err)
	}
}
