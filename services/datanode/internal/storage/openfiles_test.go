package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/granary-fs/granary/internal/packet"
)

// TestOpenFilesAreKept: a finalized replica read twice is read from the
// same open files; a deletion, an append and a removal behind the
// datanode's back each stop them being used (the removal is reported as
// before), a reader holding them reads on until it closes them, and the
// least recently read go beyond the bound — every file the cache gave up
// is closed once its last reader is done.
func TestOpenFilesAreKept(t *testing.T) {
	st := openPool(t, volumes(t, 1))
	st.files = newOpenFiles(2)
	data := []byte(strings.Repeat("x", 1300))
	for id := int64(1); id <= 4; id++ {
		if _, err := st.WriteFinalized(bp, id, 1001, data); err != nil {
			t.Fatal(err)
		}
	}
	read := func(id int64) *ReplicaReader {
		t.Helper()
		rr, err := st.OpenReplica(bp, id)
		if err != nil {
			t.Fatalf("open %d: %v", id, err)
		}
		var buf bytes.Buffer
		if _, err := rr.ReadVerified(&buf, 0, rr.NumBytes); err != nil || !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("read %d: %v", id, err)
		}
		return rr
	}
	closed := func(f *os.File) bool { _, err := f.Stat(); return errors.Is(err, os.ErrClosed) }

	first := read(1)
	blk := first.blk
	first.Close()
	second := read(1)
	if second.blk != blk {
		t.Fatal("a second read of a finalized replica opened its files again")
	}
	// Deleted while a reader holds the files: it reads on; they close
	// with it.
	if !st.Delete(bp, 1, 1001) {
		t.Fatal("delete failed")
	}
	if closed(blk) {
		t.Fatal("a deletion closed files a reader holds")
	}
	var buf bytes.Buffer
	if _, err := second.ReadVerified(&buf, 0, second.NumBytes); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("a reader of a deleted replica: %v", err)
	}
	second.Close()
	if !closed(blk) {
		t.Fatal("a deleted replica's files stayed open after its last reader")
	}
	if _, err := st.OpenReplica(bp, 1); err == nil {
		t.Fatal("a deleted replica opened")
	}

	// Removed behind the datanode's back: noticed although its files are
	// kept open.
	r2 := read(2)
	r2.Close()
	r, _ := st.Get(bp, 2)
	if err := os.Remove(r.Volume.FinalizedPath(bp, 2)); err != nil {
		t.Fatal(err)
	}
	var ue *UnreadableError
	if _, err := st.OpenReplica(bp, 2); !errors.As(err, &ue) || !ue.Gone {
		t.Fatalf("a block file removed behind the datanode's back: %v", err)
	}
	if !closed(r2.blk) {
		t.Fatal("the removed replica's files stayed open")
	}

	// An append moves the replica: the next read opens the new files.
	r3 := read(3)
	r3.Close()
	w, err := st.AppendRBW(bp, 3, 1001, 1002, 1300)
	if err != nil {
		t.Fatal(err)
	}
	more := append(append([]byte(nil), data...), "more"...)
	if err := appendPackets(w, 1300, more[1300:]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finalize(); err != nil {
		t.Fatal(err)
	}
	if !closed(r3.blk) {
		t.Fatal("an appended replica's old files stayed open")
	}
	rr, err := st.OpenReplica(bp, 3)
	if err != nil || rr.NumBytes != 1304 || rr.GenStamp != 1002 {
		t.Fatalf("after the append: %+v %v", rr, err)
	}
	buf.Reset()
	if _, err := rr.ReadVerified(&buf, 0, rr.NumBytes); err != nil || !bytes.Equal(buf.Bytes(), more) {
		t.Fatalf("reading the appended replica: %v", err)
	}
	rr.Close()

	// At most two replicas' files stay open: a third written or read
	// closes the least recently used.
	read(4).Close() // open: 4, 3
	r4 := st.files.m[openKey{bp, 4}]
	if _, err := st.WriteFinalized(bp, 5, 1001, data); err != nil {
		t.Fatal(err)
	}
	if len(st.files.m) != 2 || closed(r4.blk) {
		t.Fatalf("%d replicas' files open; 4's closed: %v", len(st.files.m), closed(r4.blk))
	}
	read(4).Close() // 4, 5
	if _, err := st.WriteFinalized(bp, 6, 1001, data); err != nil {
		t.Fatal(err)
	}
	r5 := st.files.m[openKey{bp, 5}]
	if len(st.files.m) != 2 || r5 != nil || closed(r4.blk) {
		t.Fatalf("beyond the bound: %d open; the least recently used kept: %v; the one read again closed: %v", len(st.files.m), r5 != nil, closed(r4.blk))
	}
}

// TestWrittenReplicasStayOpen: a replica just written is read from the
// files its writer opened (no open of its own), through the finalized
// replica's paths, while the writer's own descriptors are closed; an
// append's writer (its files opened for writing only) leaves none.
func TestWrittenReplicasStayOpen(t *testing.T) {
	st := openPool(t, volumes(t, 1))
	data := []byte(strings.Repeat("w", 1300))
	w, err := st.CreateRBW(bp, 1, 1001, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(data, ChecksumFile(data)[MetaHeaderLen:]); err != nil {
		t.Fatal(err)
	}
	writerBlk := w.blk
	r, err := w.Finalize()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writerBlk.Stat(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("the writer's block file is not closed: %v", err)
	}
	kept := st.files.m[openKey{bp, 1}]
	if kept == nil {
		t.Fatal("a replica just written has no files kept open")
	}
	if kept.blk.Name() != r.Volume.FinalizedPath(bp, 1) {
		t.Fatalf("the kept block file is named %s, the replica's path is %s", kept.blk.Name(), r.Volume.FinalizedPath(bp, 1))
	}
	rr, err := st.OpenReplica(bp, 1)
	if err != nil {
		t.Fatal(err)
	}
	if rr.blk != kept.blk || kept.meta != nil || !bytes.Equal(rr.crcs, ChecksumFile(data)[MetaHeaderLen:]) {
		t.Fatal("reading a replica just written opened its files again, or did not read its kept CRCs")
	}
	var buf bytes.Buffer
	if _, err := rr.ReadVerified(&buf, 0, rr.NumBytes); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("read back: %v", err)
	}
	rr.Close()

	w, err = st.AppendRBW(bp, 1, 1001, 1002, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := appendPackets(w, 1300, []byte("more")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finalize(); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.files.crcs.get(bp, Replica{ID: 1, GenStamp: 1002, NumBytes: 1304, Volume: r.Volume}); ok {
		t.Fatal("an append's CRCs were kept")
	}
	if f := st.files.m[openKey{bp, 1}]; f != nil {
		t.Fatalf("an append left files open: %s", f.blk.Name())
	}
}

// TestFailedVolumeClosesItsFiles: the files kept open of replicas on a
// volume that fails its check are closed (the disk can be taken out); those
// of the other volume stay.
func TestFailedVolumeClosesItsFiles(t *testing.T) {
	dirs := volumes(t, 2)
	st := openPool(t, dirs)
	data := []byte("replica")
	for id := int64(1); id <= 6; id++ {
		if _, err := st.WriteFinalized(bp, id, 1001, data); err != nil {
			t.Fatal(err)
		}
	}
	byVol := map[*Volume][]*sharedFiles{}
	for _, f := range st.files.m {
		byVol[f.vol] = append(byVol[f.vol], f)
	}
	bad, good := st.Volumes()[0], st.Volumes()[1]
	if len(byVol[bad]) == 0 || len(byVol[good]) == 0 {
		t.Fatalf("replicas kept open per volume: %d and %d", len(byVol[bad]), len(byVol[good]))
	}
	if err := os.Rename(filepath.Join(bad.Dir, "current"), filepath.Join(bad.Dir, "gone")); err != nil {
		t.Fatal(err)
	}
	if failed, _ := st.CheckVolumes(); len(failed) != 1 || failed[0] != bad {
		t.Fatalf("failed volumes %v", failed)
	}
	closed := func(f *os.File) bool { _, err := f.Stat(); return errors.Is(err, os.ErrClosed) }
	for _, f := range byVol[bad] {
		if !closed(f.blk) || f.meta != nil && !closed(f.meta) {
			t.Fatalf("a file of the failed volume stayed open: %s", f.blk.Name())
		}
	}
	for _, f := range byVol[good] {
		if closed(f.blk) || st.files.m[f.key] != f {
			t.Fatalf("a file of the healthy volume was closed: %s", f.blk.Name())
		}
	}
	for _, e := range st.files.crcs.m {
		if e.vol == bad {
			t.Fatalf("the CRCs of block %d of the failed volume are kept", e.key.id)
		}
	}
}

// TestTruncatedReplicaClosesItsFiles: the files kept open of a replica cut
// by a truncate recovery are given up (closed, no reader holding them), and
// the replica under its new stamp reads back at its new length.
func TestTruncatedReplicaClosesItsFiles(t *testing.T) {
	st := openStore(t)
	data := []byte(strings.Repeat("t", 1300))
	if _, err := st.WriteFinalized(bp, 1, 1001, data); err != nil {
		t.Fatal(err)
	}
	kept := st.files.m[openKey{bp, 1}]
	if kept == nil {
		t.Fatal("the replica written has no files kept open")
	}
	if _, err := st.TruncateReplica(bp, 1, 1001, 1002, 700); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.blk.Stat(); !errors.Is(err, os.ErrClosed) || st.files.m[openKey{bp, 1}] != nil || st.files.crcs.m[openKey{bp, 1}] != nil {
		t.Fatalf("the truncated replica's kept files: %v, still cached: %v, CRCs kept: %v", err, st.files.m[openKey{bp, 1}] != nil, st.files.crcs.m[openKey{bp, 1}] != nil)
	}
	rr, err := st.OpenReplica(bp, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	var buf bytes.Buffer
	if _, err := rr.ReadVerified(&buf, 0, rr.NumBytes); err != nil || !bytes.Equal(buf.Bytes(), data[:700]) || rr.GenStamp != 1002 {
		t.Fatalf("read back %d bytes under stamp %d: %v", buf.Len(), rr.GenStamp, err)
	}
}

// TestOpenReplicasBudget: the datanodes of one process together keep no
// more descriptors open than their budget — one for a small replica whose
// CRCs are kept, two for a larger one —; each closes its own least
// recently used to stay within it. The process's budget is a quarter of
// its descriptors.
func TestOpenReplicasBudget(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if got, want := processBudget().limit, int64(max(128, lim.Cur/4)); got != want {
		t.Fatalf("the process's budget is %d descriptors, want %d (of %d)", got, want, lim.Cur)
	}
	budget := &openBudget{limit: 10}
	stores := []*Store{openPool(t, volumes(t, 1)), openPool(t, volumes(t, 1))}
	for _, st := range stores {
		st.files.budget = budget
	}
	data := []byte("x")
	const n = 31
	for i := range int64(n) {
		if _, err := stores[i%2].WriteFinalized(bp, i+1, 1001, data); err != nil {
			t.Fatal(err)
		}
		if got := budget.n.Load(); got > budget.limit {
			t.Fatalf("%d descriptors kept open, the budget is %d", got, budget.limit)
		}
	}
	if got := budget.n.Load(); got != budget.limit || len(stores[0].files.m)+len(stores[1].files.m) != int(budget.limit) {
		t.Fatalf("%d descriptors of %d replicas kept open at the end, want the budget's %d (one each)", got, len(stores[0].files.m)+len(stores[1].files.m), budget.limit)
	}
	for i := int64(n - 6); i < n; i++ {
		if stores[i%2].files.m[openKey{bp, i + 1}] == nil {
			t.Fatalf("replica %d, among the last written, was closed", i+1)
		}
	}
	// A replica beyond a packet keeps its meta file open too: two.
	if _, err := stores[0].WriteFinalized(bp, 100, 1001, bytes.Repeat([]byte("b"), 70<<10)); err != nil {
		t.Fatal(err)
	}
	if f := stores[0].files.m[openKey{bp, 100}]; f == nil || f.fds() != 2 || budget.n.Load() != budget.limit {
		t.Fatalf("after a 70 KiB replica: %d descriptors kept open, the budget is %d", budget.n.Load(), budget.limit)
	}
	for _, st := range stores {
		st.CloseOpenFiles()
	}
	if got := budget.n.Load(); got != 0 {
		t.Fatalf("%d descriptors counted open after both caches closed", got)
	}
}

// TestSyncBehindWrites: with dfs.datanode.sync.behind.writes a replica's
// data is handed to the disk every 8 MB as it is written (the calls
// succeed on this file system), and the replica reads back whole.
func TestSyncBehindWrites(t *testing.T) {
	st := openPool(t, volumes(t, 1))
	st.SyncBehindWrites = true
	data := bytes.Repeat([]byte("sync behind "), 20<<20/12) // ~20 MB
	w, err := st.CreateRBW(bp, 7, 1001, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 64 << 10 {
		chunk := data[off:min(len(data), off+64<<10)]
		if err := w.Write(chunk, ChecksumFile(chunk)[MetaHeaderLen:]); err != nil {
			t.Fatal(err)
		}
	}
	if w.managed != 2*CacheLagBytes {
		t.Fatalf("%d bytes handed to the disk of %d written, want %d", w.managed, len(data), 2*CacheLagBytes)
	}
	if _, err := w.Finalize(); err != nil {
		t.Fatal(err)
	}
	rr, err := st.OpenReplica(bp, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	var buf bytes.Buffer
	if _, err := rr.ReadVerified(&buf, 0, rr.NumBytes); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("read back: %v", err)
	}
}

// TestReadBuffersAreNotShared: readers of replicas of many sizes, some
// packet streams and some verified copies, all at once, each get their own
// replica's bytes and CRCs though the read buffers are pooled (the race
// detector watches the sharing).
func TestReadBuffersAreNotShared(t *testing.T) {
	st := openStore(t)
	sizes := []int{1, 511, 512, 1300, 64 << 10, 64<<10 + 1, 1<<20 + 700}
	want := map[int64][]byte{}
	for i, size := range sizes {
		id := int64(i + 1)
		data := bytes.Repeat([]byte{byte('a' + i)}, size)
		if _, err := st.WriteFinalized(bp, id, 1001, data); err != nil {
			t.Fatal(err)
		}
		want[id] = data
	}
	read := func(id int64, packets bool) error {
		rr, err := st.OpenReplica(bp, id)
		if err != nil {
			return err
		}
		defer rr.Close()
		var buf bytes.Buffer
		if !packets {
			if _, err := rr.ReadVerified(&buf, 0, rr.NumBytes); err != nil {
				return err
			}
			if !bytes.Equal(buf.Bytes(), want[id]) {
				return fmt.Errorf("block %d read back %d bytes unlike those written", id, buf.Len())
			}
			return nil
		}
		if _, err := rr.ReadPackets(&buf, 0, rr.NumBytes); err != nil {
			return err
		}
		pr := packet.NewReader(&buf)
		defer pr.Release()
		var got []byte
		for {
			data, crcs, _, err := pr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if bad := packet.Verify(data, crcs); bad >= 0 {
				return fmt.Errorf("block %d: chunk %d of a packet fails its CRC", id, bad)
			}
			got = append(got, data...)
		}
		if !bytes.Equal(got, want[id]) {
			return fmt.Errorf("block %d streamed %d bytes unlike those written", id, len(got))
		}
		return nil
	}
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 40 {
				id := int64((w+i)%len(sizes) + 1)
				if err := read(id, (w+i)%2 == 0); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}
