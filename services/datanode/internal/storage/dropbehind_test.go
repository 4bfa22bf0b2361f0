package storage

import (
	"bytes"
	"io"
	"os"
	"slices"
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

// diskVolume is a volume directory on a disk-backed file system: tmpfs
// pages are the files themselves and are never dropped, so on a tmpfs
// TMPDIR it is made beside the package instead.
func diskVolume(t *testing.T) []string {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(os.TempDir(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.TMPFS_MAGIC {
		return volumes(t, 1)
	}
	root, err := os.MkdirTemp(".", "dropbehind-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	return []string{root + "/vol"}
}

// TestDropCacheBehindWrites: with dfs.datanode.drop.cache.behind.writes a
// replica's data leaves the page cache as it is written, one lag behind
// the sync-behind point (HDFS's manageWriterOsCache): after 32 MB, the
// first 8 and 16 MB were dropped in turn and are no longer cached,
// the replica reads back whole, and without the setting nothing is
// dropped. An append starts managing the cache at the replica's end.
func TestDropCacheBehindWrites(t *testing.T) {
	dirs := diskVolume(t)
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
		orig := fadvise
		fadvise = func(fd int, off, n int64, advice int) error {
			if advice != unix.FADV_DONTNEED {
				return orig(fd, off, n, advice)
			}
			// Wait for the range's write-back first, so that what the
			// kernel drops does not depend on the disk's speed.
			if err := unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER); err != nil {
				t.Error(err)
			}
			calls = append(calls, call{off, n})
			return orig(fd, off, n, advice)
		}
		w, err := s.CreateRBW(bp, id, 1001, 64<<20)
		if err != nil {
			fadvise = orig
			t.Fatal(err)
		}
		for off := 0; off < len(data); off += 64 << 10 {
			chunk := data[off : off+64<<10]
			if err := w.Write(chunk, ChecksumFile(chunk)[MetaHeaderLen:]); err != nil {
				t.Fatal(err)
			}
		}
		fadvise = orig
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

// TestReadCacheManagement: a long read (over 256 KiB) asks the kernel to
// read dfs.datanode.readahead.bytes ahead, again each time it has gone
// half that far, never past the replica's end; with
// dfs.datanode.drop.cache.behind.reads it drops what it read every MiB and
// all it read at its end, and its pages are no longer cached afterwards. A
// short read does neither, unless the reader drops behind every read (the
// block scanner's), and then only what it read.
func TestReadCacheManagement(t *testing.T) {
	s := openPool(t, diskVolume(t))
	data := bytes.Repeat([]byte("read ahead "), 8<<20/11+1)[:8<<20]
	if _, err := s.WriteFinalized(bp, 9, 1001, data); err != nil {
		t.Fatal(err)
	}
	rr, err := s.OpenReplica(bp, 9)
	if err != nil {
		t.Fatal(err)
	}
	path := rr.blk.Name()
	rr.Close()
	// Clean pages: the kernel drops only those.
	if f, err := os.Open(path); err != nil {
		t.Fatal(err)
	} else if err := f.Sync(); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
	type call struct {
		off, n int64
		advice int
	}
	var calls []call
	orig := fadvise
	fadvise = func(fd int, off, n int64, advice int) error {
		calls = append(calls, call{off, n, advice})
		return orig(fd, off, n, advice)
	}
	defer func() { fadvise = orig }()
	read := func(offset, length int64, dropAll bool) {
		t.Helper()
		calls = nil
		rr, err := s.OpenReplica(bp, 9)
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Close()
		if dropAll {
			rr.DropBehind()
		}
		if _, err := rr.ReadPackets(io.Discard, offset, length); err != nil {
			t.Fatal(err)
		}
	}
	const mib = 1 << 20
	ahead, drop := unix.FADV_WILLNEED, unix.FADV_DONTNEED
	s.ReadaheadBytes = 4 * mib
	read(0, 8*mib, false)
	want := []call{{0, 4 * mib, ahead}, {2 * mib, 4 * mib, ahead}, {4 * mib, 4 * mib, ahead}, {6 * mib, 2 * mib, ahead}}
	if !slices.Equal(calls, want) {
		t.Fatalf("a long read advised %v, want %v", calls, want)
	}
	read(0, 256<<10, false)
	if len(calls) != 0 {
		t.Fatalf("a short read advised %v", calls)
	}
	s.ReadaheadBytes, s.DropCacheBehindReads = 0, true
	read(0, 8*mib, false)

	want = nil
	for off := int64(0); off < 7*mib; off += mib {
		want = append(want, call{off, mib, drop})
	}
	want = append(want, call{0, 8 * mib, drop}) // all it read, at its end
	if !slices.Equal(calls, want) {
		t.Fatalf("a long read dropping behind advised %v, want %v", calls, want)
	}
	if k := resident(t, path, 0, 8*mib); k != 0 {
		t.Fatalf("%d pages still cached after a read that dropped behind it", k)
	}
	read(mib, 1000, false)
	if len(calls) != 0 {
		t.Fatalf("a short read dropped %v without the scanner's setting", calls)
	}
	read(mib, 1000, true)
	if want := []call{{mib, 1024, drop}}; !slices.Equal(calls, want) {
		t.Fatalf("a short read of the scanner advised %v, want %v (the chunks it read)", calls, want)
	}
}
