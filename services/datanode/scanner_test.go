package datanode

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestScannerCursorIsSavedEveryInterval: a pass records each replica it
// verified but saves the cursor only once cursorSaveInterval (HDFS's
// dfs.block.scanner.cursor.save.interval.ms, 10 minutes) has passed since
// the last save, not after every replica; a save replaces the file whole
// (nothing left beside it), and a restart resumes from the cursor saved.
func TestScannerCursorIsSavedEveryInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scanner.cursor")
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	f := openCursor(path, t0)
	if f.cur.Last != 0 || !f.cur.Start.IsZero() {
		t.Fatalf("no cursor file: %+v, want a pass from the beginning", f.cur)
	}
	f.cur.Start = t0
	for id := int64(1); id <= 100; id++ {
		if err := f.advance(id, t0.Add(time.Duration(id)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("100 replicas in 100 s saved the cursor (%v): it is saved every %v", err, cursorSaveInterval)
	}
	if err := f.advance(101, t0.Add(cursorSaveInterval)); err != nil {
		t.Fatal(err)
	}
	if got := openCursor(path, t0).cur; got.Last != 101 || !got.Start.Equal(t0) {
		t.Fatalf("after %v the saved cursor is %+v, want replica 101 of the pass started at %v", cursorSaveInterval, got, t0)
	}
	if err := f.advance(102, t0.Add(cursorSaveInterval+time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := openCursor(path, t0).cur.Last; got != 101 {
		t.Fatalf("a minute after a save the cursor was saved again (%d)", got)
	}
	// A stop (or the end of the pass) saves at once.
	if err := f.save(t0.Add(cursorSaveInterval + 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := openCursor(path, t0).cur.Last; got != 102 {
		t.Fatalf("saved at a stop: %d, want 102", got)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("%d files beside the cursor after its saves, want it alone", len(entries)-1)
	}
}

// TestScannerStoppedInsideTheLastReplica: a pass stopped while it verifies
// its last replica saves the cursor at the replica before, so that the next
// pass verifies that one, instead of recording the replica verified and
// the pass complete.
func TestScannerStoppedInsideTheLastReplica(t *testing.T) {
	natsURL, nc := embeddedNATS(t)
	(&fakeCoordinator{}).serve(t, nc)
	// No background scanner; 1 KiB/s, so the last replica takes a minute.
	dn := runDatanode(t, Config{NATSURL: natsURL, HeartbeatInterval: time.Hour, ScanPeriod: -1, ScanBytesPerSecond: 1 << 10})
	waitFor(t, "the first full report", func() bool { return dn.Info().LastBlockReport != nil })
	const first, last = 1<<30 + 1, 1<<30 + 2
	if err := dn.PutReplica(first, 1001, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := dn.PutReplica(last, 1001, bytes.Repeat([]byte("y"), 64<<10)); err != nil {
		t.Fatal(err)
	}
	bpid, v := dn.poolList()[0].blockPool(), dn.store.Volumes()[0]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); dn.scanPool(ctx, v, bpid) }()
	waitFor(t, "the first replica verified", func() bool { return counterValue(t, dn.metrics.scanned) >= 1 })
	cancel()
	<-done
	cur := openCursor(filepath.Join(v.Dir, "current", bpid, "scanner.cursor"), time.Now()).cur
	if cur.Last != first || cur.Start.IsZero() {
		t.Fatalf("cursor after a stop inside the last replica: %+v, want the pass under way at replica %d", cur, first)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestScannerBeginsWithTheBlockPool: the scanner's pass of a block pool
// the datanode takes up with no replica begins, and ends, as the pool is
// taken up (HDFS's VolumeScanner starts the pool's iterator when it is
// enabled): a replica written right after waits for the next period
// instead of being verified by a first pass that began later.
func TestScannerBeginsWithTheBlockPool(t *testing.T) {
	natsURL, nc := embeddedNATS(t)
	fake := &fakeCoordinator{}
	fake.serve(t, nc)
	before := time.Now()
	dn := runDatanode(t, Config{NATSURL: natsURL, HeartbeatInterval: time.Hour})
	bpid := dn.poolList()[0].blockPool()
	v := dn.store.Volumes()[0]
	cur := openCursor(cursorPath(v, bpid), time.Now()).cur
	if cur.Start.Before(before) || cur.Start.After(time.Now()) || cur.Last != 0 {
		t.Fatalf("cursor %+v as the pool is taken up at %v: want a pass begun then, complete", cur, before)
	}
	if err := dn.PutReplica(1<<30+1, 1001, []byte("new")); err != nil {
		t.Fatal(err)
	}
	// The pass is recent: the scanner waits out the period.
	if did, wait := dn.scanPool(context.Background(), v, bpid); did || wait < dn.cfg.ScanPeriod-time.Minute {
		t.Fatalf("a pass %v, the next in %v: want none before the period (%v)", did, wait, dn.cfg.ScanPeriod)
	}
	// A pool that has a cursor, or replicas, is left to the scanner.
	saved := cur.Start
	dn.beginPasses(bpid)
	if got := openCursor(cursorPath(v, bpid), time.Now()).cur; !got.Start.Equal(saved) {
		t.Fatalf("taken up again, the pool's pass began anew at %v", got.Start)
	}
}
