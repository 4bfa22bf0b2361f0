package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// namesUnder lists the replica files under dir (recursively), relative to
// it.
func namesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), "blk_") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// TestTemporaryReplicas: a replica created by CreateTemporary has no file
// in the volume while it is written, is linked into finalized/ with its
// bytes and CRCs by Finalize, and leaves nothing when aborted or when the
// datanode goes away before finalizing it (a restart finds no replica,
// where a replica written in rbw/ comes back waiting to be recovered).
// Each way the volume can link an unnamed file is tried, and a volume
// without unnamed files, which writes the replica in rbw/.
func TestTemporaryReplicas(t *testing.T) {
	for _, mode := range []linkMode{linkEmptyPath, linkProcFD, noTempFiles} {
		t.Run(map[linkMode]string{linkEmptyPath: "emptypath", linkProcFD: "procfd", noTempFiles: "none"}[mode], func(t *testing.T) {
			dirs := volumes(t, 1)
			st := openPool(t, dirs)
			if st.volumes[0].link == noTempFiles {
				t.Fatalf("%s: no unnamed files on the test's file system (O_TMPFILE)", dirs[0])
			}
			st.volumes[0].link = mode
			cur := filepath.Join(dirs[0], "current", bp, "current")
			data := []byte(strings.Repeat("t", 1300))
			write := func(id int64) *ReplicaWriter {
				w, err := st.CreateTemporary(bp, id, 1001, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Write(data, ChecksumFile(data)[MetaHeaderLen:]); err != nil {
					t.Fatal(err)
				}
				return w
			}

			kept, dropped, lost := write(1<<30), write(1<<30+1), write(1<<30+2)
			files := namesUnder(t, cur)
			if mode == noTempFiles {
				if len(files) != 6 {
					t.Fatalf("without unnamed files the replicas being written are %v, want six files in rbw/", files)
				}
			} else if len(files) != 0 {
				t.Fatalf("replicas being written have names: %v", files)
			}
			dropped.Abort()
			r, err := kept.Finalize()
			if err != nil {
				t.Fatal(err)
			}
			if r.NumBytes != 1300 || r.State != Finalized {
				t.Fatalf("finalized %+v", r)
			}
			fin := r.Volume.finalizedDir(bp, 1<<30)
			if b, err := os.ReadFile(filepath.Join(fin, BlockFileName(1<<30))); err != nil || !bytes.Equal(b, data) {
				t.Fatalf("block file: %v (%d bytes)", err, len(b))
			}
			if m, err := os.ReadFile(filepath.Join(fin, MetaFileName(1<<30, 1001))); err != nil || !bytes.Equal(m, ChecksumFile(data)) {
				t.Fatalf("meta file: %v %x", err, m)
			}
			rd, err := st.OpenReplica(bp, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := rd.ReadVerified(&got, 0, 1300); err != nil || !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("read back: %v", err)
			}
			rd.Close()

			// lost is never finalized: the datanode "dies" (its
			// descriptors closed without Abort) and starts again.
			lost.blk.Close()
			lost.meta.Close()
			st2, err := Open(dirs, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := st2.Get(bp, 1<<30+1); ok {
				t.Fatal("the aborted replica is there after a restart")
			}
			r2, ok := st2.Get(bp, 1<<30+2)
			if mode == noTempFiles {
				if !ok || r2.State != RWR {
					t.Fatalf("without unnamed files the unfinished replica is %+v %v after a restart, want RWR", r2, ok)
				}
			} else if ok {
				t.Fatalf("the unfinished temporary replica is there after a restart: %+v", r2)
			}
			if r, ok := st2.Get(bp, 1<<30); !ok || r.State != Finalized || r.NumBytes != 1300 {
				t.Fatalf("the finalized replica after a restart: %+v %v", r, ok)
			}
			want := []string{
				filepath.Join("finalized", "subdir0", "subdir0", BlockFileName(1<<30)),
				filepath.Join("finalized", "subdir0", "subdir0", MetaFileName(1<<30, 1001)),
			}
			if mode == noTempFiles {
				want = append(want, filepath.Join("rbw", BlockFileName(1<<30+2)), filepath.Join("rbw", MetaFileName(1<<30+2, 1001)))
			}
			if got := namesUnder(t, cur); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("files after the restart: %v, want %v", got, want)
			}
		})
	}
}

// TestTemporaryReplacesAnOlderReplica: a temporary replica of a newer
// stamp replaces the finalized one (a transfer of a newer replica), and a
// stray block file where it is linked (a delete that failed) is replaced.
func TestTemporaryReplacesAnOlderReplica(t *testing.T) {
	st := openStore(t)
	if _, err := st.WriteFinalized(bp, 5, 1001, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriteFinalized(bp, 5, 1002, []byte("newer")); err != nil {
		t.Fatal(err)
	}
	r, _ := st.Get(bp, 5)
	fin := r.Volume.finalizedDir(bp, 5)
	if r.GenStamp != 1002 || r.NumBytes != 5 {
		t.Fatalf("replica %+v", r)
	}
	if _, err := os.Stat(filepath.Join(fin, MetaFileName(5, 1001))); !os.IsNotExist(err) {
		t.Fatalf("the older meta file is still there: %v", err)
	}
	if err := os.WriteFile(filepath.Join(fin, BlockFileName(6)), []byte("stray"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriteFinalized(bp, 6, 1001, []byte("fresh")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(fin, BlockFileName(6))); err != nil || string(b) != "fresh" {
		t.Fatalf("block 6: %q %v", b, err)
	}
}

// TestTemporaryWithoutRBW: a block pool whose rbw/ is missing (removed by
// hand) gets it back at the next temporary replica, as at the next replica
// written in rbw/.
func TestTemporaryWithoutRBW(t *testing.T) {
	dirs := volumes(t, 1)
	st := openPool(t, dirs)
	if err := os.RemoveAll(filepath.Join(dirs[0], "current", bp, "current", "rbw")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriteFinalized(bp, 3, 1001, []byte("after rbw/ went")); err != nil {
		t.Fatal(err)
	}
	if r, ok := st.Get(bp, 3); !ok || r.NumBytes != 15 {
		t.Fatalf("replica %+v %v", r, ok)
	}
}

// TestTemporaryAfterAFullProbe: a volume full when the datanode started
// (its probe for unnamed files failed with ENOSPC) writes temporary
// replicas in rbw/ meanwhile, and unnamed ones once a probe succeeds; a
// volume without O_TMPFILE support is not probed again.
func TestTemporaryAfterAFullProbe(t *testing.T) {
	for _, c := range []struct {
		name     string
		err      error
		unnamed2 bool // the second replica is unnamed
	}{
		{"full", syscall.ENOSPC, true},
		{"quota", syscall.EDQUOT, true},
		{"unsupported", syscall.EOPNOTSUPP, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dirs := volumes(t, 1)
			probeOpen = func(dir, name string) (*os.File, error) {
				return nil, &os.PathError{Op: "open", Path: dir, Err: c.err}
			}
			defer func() { probeOpen = openTemp }()
			st := openPool(t, dirs)
			rbw := filepath.Join(dirs[0], "current", bp, "current", "rbw")
			data := []byte("probed again")
			for i, unnamed := range []bool{false, c.unnamed2} {
				w, err := st.CreateTemporary(bp, int64(10+i), 1001, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Write(data, ChecksumFile(data)[MetaHeaderLen:]); err != nil {
					t.Fatal(err)
				}
				named := namesUnder(t, rbw)
				if unnamed && len(named) != 0 || !unnamed && len(named) != 2 {
					t.Fatalf("replica %d (unnamed: %v) being written: %v in rbw/", i, unnamed, named)
				}
				if _, err := w.Finalize(); err != nil {
					t.Fatal(err)
				}
				probeOpen = openTemp // the volume has room again
			}
		})
	}
}
