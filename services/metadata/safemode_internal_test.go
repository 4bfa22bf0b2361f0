package metadata

import (
	"strings"
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

// TestLowResources: a checked volume with less free space than the reserve
// is found; the safe mode it causes stays on after the space comes back
// until a manual leave, and says so; the edit log's failure safe mode ends
// by itself.
func TestLowResources(t *testing.T) {
	free := map[string]int64{"/a": 500 << 20, "/b": 50 << 20}
	f := func(d string) (int64, error) { return free[d], nil }
	if d, n := lowResources([]string{"/a", "/b"}, 100<<20, f); d != "/b" || n != 50<<20 {
		t.Fatalf("low: %q %d", d, n)
	}
	if d, _ := lowResources([]string{"/a"}, 100<<20, f); d != "" {
		t.Fatalf("/a has room, found %q", d)
	}
	sm := newSafeMode(0.999, 0, 0, func() int64 { return 0 })
	sm.activate()
	sm.EnterResourceLow()
	if !sm.On() || !strings.Contains(sm.Tip(), "Resources are low on NN. Please add or free up more resources then turn off safe mode manually.") {
		t.Fatalf("low resources: %v %q", sm.On(), sm.Tip())
	}
	sm.Check() // resources back: still on, until a manual leave
	if !sm.On() {
		t.Fatal("low-resource safe mode ended by itself")
	}
	sm.Leave()
	if sm.On() {
		t.Fatal("leave did not end low-resource safe mode")
	}
	sm.SetEditsFailing(true)
	if !sm.On() || !strings.Contains(sm.Tip(), "turned off automatically") {
		t.Fatalf("a failing edit log: %q", sm.Tip())
	}
	sm.SetEditsFailing(false)
	if sm.On() {
		t.Fatal("the edit log's safe mode outlived the failure")
	}
}
