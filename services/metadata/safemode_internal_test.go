package metadata

import (
	"testing"
	"time"
)

type fixedReports struct {
	safe int64
	live int
}

func (f *fixedReports) SafeBlocks() int64  { return f.safe }
func (f *fixedReports) LiveDatanodes() int { return f.live }

// TestSafeModeActivation: thresholds already met when safe mode is
// activated end it at once, with no extension (HDFS's activate); otherwise
// the extension runs once they are met; a threshold ≤ 0 waits for no block.
func TestSafeModeActivation(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	reports := &fixedReports{safe: 10, live: 1}

	met := newSafeMode(0.999, 0, 30*time.Second, func() int64 { return 10 })
	met.now = clock
	met.setReports(reports)
	met.activate()
	if met.On() {
		t.Fatal("thresholds met at activation: safe mode did not end at once")
	}

	pending := newSafeMode(0.999, 0, 30*time.Second, func() int64 { return 20 })
	pending.now = clock
	pending.setReports(reports)
	pending.activate()
	if !pending.On() {
		t.Fatal("10 of 20 blocks reported: safe mode is off")
	}
	reports.safe = 20
	pending.Check()
	if !pending.On() {
		t.Fatal("the extension was skipped after activation")
	}
	now = now.Add(30 * time.Second)
	pending.Check()
	if pending.On() {
		t.Fatal("safe mode did not end after the extension")
	}

	none := newSafeMode(-1, 0, 30*time.Second, func() int64 { return 1000 })
	none.now = clock
	none.activate()
	if none.On() {
		t.Fatal("a threshold of 0 waited for blocks")
	}
}
