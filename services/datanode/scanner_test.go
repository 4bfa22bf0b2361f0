package datanode

import (
	"os"
	"path/filepath"
	"testing"
	"time"
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
