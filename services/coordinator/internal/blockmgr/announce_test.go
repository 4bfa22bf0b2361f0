package blockmgr

import (
	"slices"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
)

// TestLocationAnnouncements: an answer given for keeping marks its blocks
// the mirror has; every later change to such a block's locations is
// announced once, numbered after the answer's seq; changes to blocks no
// one keeps are not, nor a block completing with the same holders; a node
// change every answer may show is announced as all.
func TestLocationAnnouncements(t *testing.T) {
	m, clk := newTestManager(nil)
	dn1, dn2, dn3 := register(t, m, 1), register(t, m, 2), register(t, m, 3)
	syncNS(m,
		dnproto.BlockEvent{ID: 1, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 2},
		dnproto.BlockEvent{ID: 2, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 2},
		dnproto.BlockEvent{ID: 3, GenStamp: 1001, NumBytes: 10, Replication: 2}) // being written
	report(t, m, dn1, 1, 1, 2, 3)
	if _, ok := m.TakeLocationChanges(); ok {
		t.Fatal("changes announced before any answer was kept")
	}
	locs, c := m.LocationsForCache([]int64{1, 3, 9}, []int64{1001, 1001, 1001}, "10.0.0.1")
	if len(locs[0].Locations) != 1 || !slices.Equal(c.Cacheable, []bool{true, true, false}) || c.ReaderRack != "/default-rack" {
		t.Fatalf("answer %+v, cache %+v", locs, c)
	}
	seq := c.Seq
	// Block 3 completes on the same holder: its kept answer stays good.
	m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, PrevSeq: 10, Seq: 11, Events: []dnproto.BlockEvent{{ID: 3, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 2}}})
	if a, ok := m.TakeLocationChanges(); ok {
		t.Fatalf("a block completing on the same holders was announced: %+v", a)
	}

	// A replica of block 1 reported by dn2, and of block 2 (not kept).
	if err := m.Incremental(&dnproto.IncrementalReport{DatanodeUUID: dn2, Blocks: []dnproto.ReceivedDeleted{
		{Block: dnproto.BlockRef{ID: 1, GenStamp: 1001, NumBytes: 10}, Status: dnproto.Received, StorageID: "DS-" + dn2},
		{Block: dnproto.BlockRef{ID: 2, GenStamp: 1001, NumBytes: 10}, Status: dnproto.Received, StorageID: "DS-" + dn2},
	}}); err != nil {
		t.Fatal(err)
	}
	a, ok := m.TakeLocationChanges()
	if !ok || a.Instance != c.Instance || a.From != seq || a.To != seq+1 || !slices.Equal(a.Blocks, []int64{1}) || a.All {
		t.Fatalf("announcement %+v (answer seq %d)", a, seq)
	}
	// Announced once: the next change of block 1 is not followed until it
	// is answered for keeping again.
	if err := m.Incremental(&dnproto.IncrementalReport{DatanodeUUID: dn3, Blocks: []dnproto.ReceivedDeleted{
		{Block: dnproto.BlockRef{ID: 1, GenStamp: 1001, NumBytes: 10}, Status: dnproto.Received, StorageID: "DS-" + dn3},
	}}); err != nil {
		t.Fatal(err)
	}
	if a, ok := m.TakeLocationChanges(); ok {
		t.Fatalf("a change announced twice: %+v", a)
	}

	// Kept again: a deletion, a corrupt mark, a dead node, a namespace
	// event are each announced.
	for _, change := range []struct {
		name string
		do   func()
	}{
		{"a deleted replica", func() {
			_ = m.Incremental(&dnproto.IncrementalReport{DatanodeUUID: dn3, Blocks: []dnproto.ReceivedDeleted{{Block: dnproto.BlockRef{ID: 1, GenStamp: 1001}, Status: dnproto.Deleted, StorageID: "DS-" + dn3}}})
		}},
		{"a corrupt replica", func() {
			_ = m.BadBlocks(&dnproto.BadBlocks{DatanodeUUID: dn2, Blocks: []dnproto.BlockRef{{ID: 1, GenStamp: 1001, NumBytes: 10}}})
		}},
		{"a new stamp", func() {
			m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, PrevSeq: 11, Seq: 12, Events: []dnproto.BlockEvent{{ID: 1, GenStamp: 1002, NumBytes: 10, Complete: true, Replication: 2}}})
		}},
	} {
		_, c := m.LocationsForCache([]int64{1}, []int64{1001}, "")
		if !c.Cacheable[0] {
			t.Fatalf("before %s: block 1 not cacheable", change.name)
		}
		change.do()
		// The change is numbered: an answer given after it (Seq at
		// least this) reflects it.
		if a, ok := m.TakeLocationChanges(); !ok || !slices.Equal(a.Blocks, []int64{1}) || a.From != c.Seq || !slices.Equal(a.Seqs, []uint64{c.Seq + 1}) {
			t.Fatalf("%s: announcement %+v %v (answer seq %d)", change.name, a, ok, c.Seq)
		}
		if _, after := m.LocationsForCache([]int64{1}, []int64{1001}, ""); after.Seq != c.Seq+1 {
			t.Fatalf("%s: an answer after the change has seq %d, the change %d", change.name, after.Seq, c.Seq+1)
		}
	}

	// A node change every answer may show: all.
	m.LocationsForCache([]int64{2}, []int64{1001}, "")
	if err := m.Decommission(dn1); err != nil {
		t.Fatal(err)
	}
	if a, ok := m.TakeLocationChanges(); !ok || !a.All {
		t.Fatalf("a decommission: %+v %v", a, ok)
	}
	// A dead node's replicas leave every kept answer holding them.
	m.LocationsForCache([]int64{2}, []int64{1001}, "")
	clk.t = clk.t.Add(time.Hour)
	for _, id := range []string{dn2, dn3} {
		m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: id})
	}
	if died := m.CheckLiveness(); len(died) != 1 {
		t.Fatalf("died: %v", died)
	}
	if a, ok := m.TakeLocationChanges(); !ok || !slices.Equal(a.Blocks, []int64{2}) {
		t.Fatalf("a dead holder: %+v %v", a, ok)
	}
	// A coordinator that becomes active announces all, even with nothing
	// kept.
	m.AnnounceAll()
	if a, ok := m.TakeLocationChanges(); !ok || !a.All {
		t.Fatalf("AnnounceAll: %+v %v", a, ok)
	}
}

// TestIncrementalLocations: once a metadata service keeps answers, a
// RECEIVED replica of a block being written comes back as the answer to
// keep (no reader), marked so that its next change is announced; blocks
// already complete, of another stamp, or unknown come back as nothing. A
// second holder's report numbers a change to the answered block: its drop
// is announced, and the answer that comes with it is numbered after it.
func TestIncrementalLocations(t *testing.T) {
	m, _ := newTestManager(nil)
	dn1, dn2, dn3 := register(t, m, 1), register(t, m, 2), register(t, m, 3)
	syncNS(m,
		dnproto.BlockEvent{ID: 1, GenStamp: 1001, Replication: 3}, // being written
		dnproto.BlockEvent{ID: 2, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 3},
		dnproto.BlockEvent{ID: 3, GenStamp: 1002, Replication: 3})
	received := func(dn string, blocks ...dnproto.BlockRef) *dnproto.LocationsReceived {
		t.Helper()
		r := &dnproto.IncrementalReport{DatanodeUUID: dn}
		for _, b := range blocks {
			r.Blocks = append(r.Blocks, dnproto.ReceivedDeleted{Block: b, Status: dnproto.Received, StorageID: "DS-" + dn})
		}
		got, err := m.IncrementalLocations(r)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := received(dn1, dnproto.BlockRef{ID: 1, GenStamp: 1001, NumBytes: 10}); got != nil {
		t.Fatalf("answers sent while no metadata service keeps any: %+v", got)
	}
	m.LocationsForCache([]int64{9}, nil, "") // a metadata service keeps answers

	got := received(dn2,
		dnproto.BlockRef{ID: 1, GenStamp: 1001, NumBytes: 10},
		dnproto.BlockRef{ID: 2, GenStamp: 1001, NumBytes: 10}, // complete
		dnproto.BlockRef{ID: 3, GenStamp: 1001, NumBytes: 10}, // an older stamp
		dnproto.BlockRef{ID: 7, GenStamp: 1001, NumBytes: 10}) // unknown
	if got == nil || !slices.Equal(got.Request.Blocks, []int64{1}) || !slices.Equal(got.Request.GenStamps, []int64{1001}) ||
		!got.Request.Cache || got.Request.ClientHost != "" {
		t.Fatalf("request %+v", got)
	}
	c := got.Reply.Cache
	if c == nil || !slices.Equal(c.Cacheable, []bool{true}) || len(got.Reply.Blocks) != 1 || len(got.Reply.Blocks[0].Locations) != 2 {
		t.Fatalf("reply %+v, cache %+v", got.Reply, c)
	}
	if a, ok := m.TakeLocationChanges(); ok {
		t.Fatalf("a first answer numbered a change: %+v", a)
	}
	// The third holder: a change to the answered block, announced, and
	// its new answer numbered after it.
	got = received(dn3, dnproto.BlockRef{ID: 1, GenStamp: 1001, NumBytes: 10})
	if got == nil || len(got.Reply.Blocks[0].Locations) != 3 || got.Reply.Cache.Seq != c.Seq+1 {
		t.Fatalf("the third holder's answer %+v (first at seq %d)", got, c.Seq)
	}
	if a, ok := m.TakeLocationChanges(); !ok || !slices.Equal(a.Blocks, []int64{1}) || a.To != c.Seq+1 {
		t.Fatalf("the third holder's change: %+v %v", a, ok)
	}
	// Answered again: its next change is announced.
	if err := m.Incremental(&dnproto.IncrementalReport{DatanodeUUID: dn3, Blocks: []dnproto.ReceivedDeleted{
		{Block: dnproto.BlockRef{ID: 1, GenStamp: 1001}, Status: dnproto.Deleted, StorageID: "DS-" + dn3}}}); err != nil {
		t.Fatal(err)
	}
	if a, ok := m.TakeLocationChanges(); !ok || !slices.Equal(a.Blocks, []int64{1}) {
		t.Fatalf("a deletion after the answer: %+v %v", a, ok)
	}
}

// TestReceivedBeforeTheirBlocks: replicas reported RECEIVED before the
// namespace event of their new block come back, once it is applied, as
// the answer to keep — once, and only for a block still being written,
// once a metadata service keeps answers.
func TestReceivedBeforeTheirBlocks(t *testing.T) {
	m, _ := newTestManager(nil)
	dn1, dn2 := register(t, m, 1), register(t, m, 2)
	syncNS(m)
	m.LocationsForCache([]int64{9}, nil, "") // a metadata service keeps answers
	for _, dn := range []string{dn1, dn2} {
		got, err := m.IncrementalLocations(&dnproto.IncrementalReport{DatanodeUUID: dn, Blocks: []dnproto.ReceivedDeleted{
			{Block: dnproto.BlockRef{ID: 5, GenStamp: 1001, NumBytes: 10}, Status: dnproto.Received, StorageID: "DS-" + dn},
			{Block: dnproto.BlockRef{ID: 6, GenStamp: 1001, NumBytes: 10}, Status: dnproto.Received, StorageID: "DS-" + dn},
		}})
		if err != nil || got != nil {
			t.Fatalf("received before the blocks are known: %+v %v", got, err)
		}
	}
	if !m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, PrevSeq: 10, Seq: 11, Events: []dnproto.BlockEvent{
		{ID: 5, GenStamp: 1001, Replication: 2},                               // being written
		{ID: 6, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 2}, // closed already
	}}) {
		t.Fatal("the events were not applied")
	}
	got := m.ReceivedBeforeTheirBlocks()
	if got == nil || !slices.Equal(got.Request.Blocks, []int64{5}) || len(got.Reply.Blocks[0].Locations) != 2 || !slices.Equal(got.Reply.Cache.Cacheable, []bool{true}) {
		t.Fatalf("the early replicas' answer: %+v", got)
	}
	if again := m.ReceivedBeforeTheirBlocks(); again != nil {
		t.Fatalf("sent twice: %+v", again)
	}
}

// TestIncrementalLocationsBounded: a report with more blocks being written
// than one message carries (a queued report sent at once) sends the first
// maxReceivedSent; the others' completes ask.
func TestIncrementalLocationsBounded(t *testing.T) {
	m, _ := newTestManager(nil)
	dn := register(t, m, 1)
	var events []dnproto.BlockEvent
	r := &dnproto.IncrementalReport{DatanodeUUID: dn}
	for id := int64(1); id <= maxReceivedSent+10; id++ {
		events = append(events, dnproto.BlockEvent{ID: id, GenStamp: 1001, Replication: 1})
		r.Blocks = append(r.Blocks, dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: id, GenStamp: 1001, NumBytes: 1}, Status: dnproto.Received, StorageID: "DS-" + dn})
	}
	syncNS(m, events...)
	m.LocationsForCache([]int64{1}, nil, "")
	got, err := m.IncrementalLocations(r)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("nothing to send")
	}
	if len(got.Request.Blocks) != maxReceivedSent || len(got.Reply.Blocks) != maxReceivedSent || got.Request.Blocks[0] != 1 {
		t.Fatalf("%d blocks asked, %d answered, the first %d; want the first %d", len(got.Request.Blocks), len(got.Reply.Blocks), got.Request.Blocks[0], maxReceivedSent)
	}
}
