package storage

import (
	"bytes"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of the file's bytes [off, off+n) in the page
// cache.
func resident(t *testing.T, path string, off, n int64) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), off, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (n+int64(os.Getpagesize())-1)/int64(os.Getpagesize()))
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	k := 0
	for _, v := range vec {
		k += int(v & 1)
	}
	return k
}

// TestDropCacheBehindWrites: with dfs.datanode.drop.cache.behind.writes a
// replica's data leaves the page cache as it is written, one lag behind
// the sync-behind point (HDFS's manageWriterOsCache): after 32 MB, the
// first 8 and 16 MB were dropped in turn and are no longer cached,
// the replica reads back whole, and without the setting nothing is
// dropped. An append starts managing the cache at the replica's end.
func TestDropCacheBehindWrites(t *testing.T) {
	dirs := volumes(t, 1)
	var st unix.Statfs_t
	if err := unix.Statfs(os.TempDir(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		// tmpfs pages are the files themselves and are never dropped:
		// write the replica on the disk holding the package instead.
		root, err := os.MkdirTemp(".", "dropbehind-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(root) })
		dirs = []string{root + "/vol"}
	}
	data := bytes.Repeat([]byte("drop behind "), 32<<20/12+1)[:32<<20]
	for _, drop := range []bool{true, false} {
		s := openPool(t, dirs)
		s.SyncBehindWrites, s.DropCacheBehindWrites = true, drop
		id := int64(7)
		if !drop {
			id = 8
		}
		type call struct{ off, n int64 }
		var calls []call
		orig := dropCache
		dropCache = func(fd int, off, n int64) error {
			// Wait for the range's write-back first, so that what the
			// kernel drops does not depend on the disk's speed.
			if err := unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER); err != nil {
				t.Error(err)
			}
			calls = append(calls, call{off, n})
			return orig(fd, off, n)
		}
		w, err := s.CreateRBW(bp, id, 1001, 64<<20)
		if err != nil {
			dropCache = orig
			t.Fatal(err)
		}
		for off := 0; off < len(data); off += 64 << 10 {
			chunk := data[off : off+64<<10]
			if err := w.Write(chunk, ChecksumFile(chunk)[MetaHeaderLen:]); err != nil {
				t.Fatal(err)
			}
		}
		dropCache = orig
		if drop {
			want := []call{{0, 8 << 20}, {0, 16 << 20}}
			if len(calls) != len(want) {
				t.Fatalf("dropped %v, want %v", calls, want)
			}
			for i := range want {
				if calls[i] != want[i] {
					t.Fatalf("dropped %v, want %v", calls, want)
				}
			}
			if k := resident(t, w.blk.Name(), 0, 16<<20); k != 0 {
				t.Fatalf("%d pages of the dropped 16 MB still cached", k)
			}
		} else if len(calls) != 0 {
			t.Fatalf("dropped %v without drop.cache.behind.writes", calls)
		}
		if _, err := w.Finalize(); err != nil {
			t.Fatal(err)
		}
		rr, err := s.OpenReplica(bp, id)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, err = rr.ReadVerified(&buf, 0, rr.NumBytes)
		rr.Close()
		if err != nil || !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("read back %d of %d bytes: %v", buf.Len(), len(data), err)
		}
		if drop {
			a, err := s.AppendRBW(bp, id, 1001, 1002, int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if a.managed != int64(len(data)) {
				t.Fatalf("an append manages the cache from byte %d, want the replica's end %d", a.managed, len(data))
			}
			a.Abort()
		}
		s.CloseOpenFiles()
	}
}
