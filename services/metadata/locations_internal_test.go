package metadata

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/natstest"
	"github.com/granary-fs/granary/internal/poll"
)

// TestLocationCache: a reader's look-up is kept as the coordinator marked
// it and answered again sorted for each reader; an announced block, a
// gap in the announcements, another coordinator, an answer older than an
// announcement, another stamp and the age limit each keep the cache from
// answering what may be stale.
func TestLocationCache(t *testing.T) {
	dn := func(i int, rack string) dnproto.DatanodeInfo {
		return dnproto.DatanodeInfo{UUID: "dn" + string(rune('0'+i)), IPAddr: "10.0.0." + string(rune('0'+i)), Rack: rack}
	}
	locs := []dnproto.DatanodeInfo{dn(1, "/r1"), dn(2, "/r2"), dn(3, "/r2")}
	req := func(reader string, ids ...int64) dnproto.LocationsRequest {
		gs := make([]int64, len(ids))
		for i := range gs {
			gs[i] = 1001
		}
		return dnproto.LocationsRequest{Blocks: ids, GenStamps: gs, ClientHost: reader}
	}
	reply := func(seq uint64, rack string, ids ...int64) dnproto.LocationsReply {
		r := dnproto.LocationsReply{Cache: &dnproto.LocationCache{Instance: "c1", Seq: seq, ReaderRack: rack}}
		for _, id := range ids {
			r.Blocks = append(r.Blocks, dnproto.BlockLocation{ID: id, Locations: locs})
			r.Cache.Cacheable = append(r.Cache.Cacheable, id != 3) // 3: under construction
		}
		return r
	}
	c := newLocationCache(100, time.Minute)
	if _, ok := c.get(req("10.0.0.2", 1)); ok {
		t.Fatal("an empty cache answered")
	}
	c.put(req("10.0.0.2", 1, 2, 3), reply(5, "/r2", 1, 2, 3))
	got, ok := c.get(req("10.0.0.2", 1, 2))
	if !ok || len(got) != 2 || got[0].Locations[0].UUID != "dn2" || got[0].Locations[1].UUID != "dn3" || got[0].Locations[2].UUID != "dn1" {
		t.Fatalf("a hit for the reader on dn2: %+v %v", got, ok)
	}
	if _, ok := c.get(req("10.0.0.2", 1, 3)); ok {
		t.Fatal("a block not marked cacheable was answered")
	}
	if _, ok := c.get(req("10.0.0.9", 1)); ok {
		t.Fatal("a reader whose rack is unknown was answered")
	}
	other := req("10.0.0.2", 1)
	other.GenStamps[0] = 1002
	if _, ok := c.get(other); ok {
		t.Fatal("another stamp was answered")
	}
	// Equally distant holders are shuffled: a reader on no datanode of
	// rack /r2 gets dn2 and dn3 first in both orders, dn1 always last.
	c.put(req("10.0.0.7", 2), reply(5, "/r2", 2))
	first := map[string]bool{}
	for range 200 {
		got, ok := c.get(req("10.0.0.7", 2))
		if !ok || got[0].Locations[2].UUID != "dn1" {
			t.Fatalf("a reader in /r2: %+v %v", got, ok)
		}
		first[got[0].Locations[0].UUID] = true
	}
	if !first["dn2"] || !first["dn3"] {
		t.Fatalf("first holders seen: %v (equally distant holders are not shuffled)", first)
	}

	// An announcement drops what it names.
	c.announced(dnproto.LocationsChanged{Instance: "c1", From: 5, To: 6, Blocks: []int64{1}})
	if _, ok := c.get(req("10.0.0.2", 1)); ok {
		t.Fatal("an announced block was answered")
	}
	if _, ok := c.get(req("10.0.0.2", 2)); !ok {
		t.Fatal("a block not announced was dropped")
	}
	// An answer older than an applied announcement is not kept.
	c.put(req("10.0.0.2", 1), reply(5, "/r2", 1))
	if _, ok := c.get(req("10.0.0.2", 1)); ok {
		t.Fatal("an answer older than an applied announcement was kept")
	}
	c.put(req("10.0.0.2", 1), reply(6, "/r2", 1))
	if _, ok := c.get(req("10.0.0.2", 1)); !ok {
		t.Fatal("a current answer was not kept")
	}
	// A gap (6 → 8 without 6 → 7) drops everything.
	c.announced(dnproto.LocationsChanged{Instance: "c1", From: 7, To: 8, Blocks: []int64{99}})
	if _, ok := c.get(req("10.0.0.2", 2)); ok {
		t.Fatal("a missed announcement left the cache answering")
	}
	// Another coordinator drops everything too.
	c.put(req("10.0.0.2", 2), reply(8, "/r2", 2))
	c.announced(dnproto.LocationsChanged{Instance: "c2", From: 0, To: 1, All: true})
	if _, ok := c.get(req("10.0.0.2", 2)); ok {
		t.Fatal("another coordinator's announcement left the cache answering")
	}
	// So does a lost connection.
	c.put(req("10.0.0.2", 2), dnproto.LocationsReply{Blocks: []dnproto.BlockLocation{{ID: 2, Locations: locs}},
		Cache: &dnproto.LocationCache{Instance: "c2", Seq: 1, ReaderRack: "/r2", Cacheable: []bool{true}}})
	if _, ok := c.get(req("10.0.0.2", 2)); !ok {
		t.Fatal("c2's answer was not kept")
	}
	c.drop()
	if _, ok := c.get(req("10.0.0.2", 2)); ok {
		t.Fatal("drop left the cache answering")
	}
	// Nothing is kept past its age limit.
	now := time.Now()
	young := newLocationCache(100, time.Minute)
	young.now = func() time.Time { return now }
	young.put(req("", 1), reply(1, "/default-rack", 1))
	if _, ok := young.get(req("", 1)); !ok {
		t.Fatal("a fresh answer was not kept")
	}
	now = now.Add(time.Minute + time.Second)
	if _, ok := young.get(req("", 1)); ok {
		t.Fatal("an answer outlived the age limit")
	}
	if c.hits.Load() == 0 || c.misses.Load() == 0 {
		t.Fatalf("hits %d, misses %d", c.hits.Load(), c.misses.Load())
	}
}

// TestLostAnnouncementsDropKeptLocations: announcements of other blocks
// leave a kept location in place, but when the announcement subscription
// falls behind and NATS drops announcements (a slow consumer), everything
// kept is dropped: one of the lost announcements may have been the kept
// block's.
func TestLostAnnouncementsDropKeptLocations(t *testing.T) {
	url := natstest.Start(t)
	nc, pub := natstest.Connect(t, url), natstest.Connect(t, url)
	const subj = "granary.v1.ns1.locations.changed"
	locs := newLocationCache(100, time.Minute)
	req := dnproto.LocationsRequest{Blocks: []int64{1}, GenStamps: []int64{1001}, ClientHost: "10.0.0.1"}
	locs.put(req, dnproto.LocationsReply{Blocks: []dnproto.BlockLocation{{ID: 1, Locations: []dnproto.DatanodeInfo{{UUID: "dn1"}}}},
		Cache: &dnproto.LocationCache{Instance: "c1", Seq: 5, ReaderRack: "/r1", Cacheable: []bool{true}}})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	watchLostAnnouncements(nc, []string{subj}, locs, log)
	sub, err := followAnnouncements(nc, subj, locs, log)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := json.Marshal(dnproto.LocationsChanged{Instance: "c1", From: 5, To: 5, Blocks: []int64{99}})
	announce := func(n int) {
		t.Helper()
		for range n {
			if err := pub.Publish(subj, other); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	kept := func() bool { _, ok := locs.get(req); return ok }
	announce(10)
	poll.Until(t, 10*time.Second, "the announcements to be handled", func() bool { n, _, _ := sub.Pending(); return n == 0 })
	if !kept() {
		t.Fatal("announcements of another block dropped the kept location")
	}
	// The handler blocks on the cache while announcements pile up beyond
	// the subscription's limit.
	if err := sub.SetPendingLimits(2, -1); err != nil {
		t.Fatal(err)
	}
	locs.mu.Lock()
	announce(20)
	poll.Until(t, 10*time.Second, "NATS to drop announcements", func() bool { n, _ := sub.Dropped(); return n > 0 })
	locs.mu.Unlock()
	poll.Until(t, 10*time.Second, "the kept location to be dropped", func() bool { return !kept() })
}

// TestAnswerAfterAnAnnouncedChangeStays: an announcement that numbers
// its blocks' changes (Seqs) leaves a kept answer given after the change
// — the next replica of a block being written changes it, and its
// RECEIVED answer often arrives before the announcement — and drops one
// given before it; without the numbers every announced block goes.
func TestAnswerAfterAnAnnouncedChangeStays(t *testing.T) {
	c := newLocationCache(100, time.Minute)
	keep := func(id int64, seq uint64) { putAnswer(c, seq, 1, id) }
	kept := func(id int64) bool { _, ok := c.holders(id, 1001); return ok }
	keep(1, 5) // the coordinator's fifth change is block 1's
	keep(2, 4) // given before block 2's change, the fifth
	keep(3, 5)
	c.announced(dnproto.LocationsChanged{Instance: "c1", From: 0, To: 5, Blocks: []int64{1, 2}, Seqs: []uint64{5, 5}})
	if !kept(1) {
		t.Fatal("an answer given after its block's announced change was dropped")
	}
	if kept(2) {
		t.Fatal("an answer given before its block's announced change was kept")
	}
	c.announced(dnproto.LocationsChanged{Instance: "c1", From: 5, To: 6, Blocks: []int64{1}, Seqs: []uint64{6}})
	if kept(1) {
		t.Fatal("an answer given before a later change of its block was kept")
	}
	c.announced(dnproto.LocationsChanged{Instance: "c1", From: 6, To: 7, Blocks: []int64{3}})
	if kept(3) {
		t.Fatal("an announcement without the changes' numbers left its block")
	}
}

// TestOlderAnswerKeptWhenNoLaterChangeTouchedIt: an answer older than the
// last announcement applied is kept for a block none of the numbered
// changes after it touched, and not for one a change touched, nor when
// the changes after it are not all known (older than those remembered,
// or an announcement without the numbers).
func TestOlderAnswerKeptWhenNoLaterChangeTouchedIt(t *testing.T) {
	c := newLocationCache(100, time.Minute)
	answer := func(seq uint64, ids ...int64) { putAnswer(c, seq, 1, ids...) }
	kept := func(id int64) bool { _, ok := c.holders(id, 1001); return ok }
	answer(4, 100) // instance c1 from change 4 on
	c.announced(dnproto.LocationsChanged{Instance: "c1", From: 4, To: 7, Blocks: []int64{10, 11, 12}, Seqs: []uint64{5, 6, 7}})
	answer(5, 1, 11) // block 11 changed at 6, after this answer
	if !kept(1) {
		t.Fatal("an older answer of a block no later change touched was not kept")
	}
	if kept(11) {
		t.Fatal("an older answer of a block changed after it was kept")
	}
	answer(3, 2) // older than the changes remembered (from 4 on)
	if kept(2) {
		t.Fatal("an answer older than the changes remembered was kept")
	}
	c.announced(dnproto.LocationsChanged{Instance: "c1", From: 7, To: 8, Blocks: []int64{13}})
	answer(7, 3)
	if kept(3) {
		t.Fatal("an older answer was kept after an announcement without the numbers")
	}
	answer(8, 4)
	if !kept(4) {
		t.Fatal("an answer as new as the last announcement was not kept")
	}
}

// TestCompleteWaitsForItsReceivedAnswer: the holders of a block whose
// RECEIVED answer is on its way are answered once it is put (a put of
// another block does not end the wait); with nothing coming the wait runs
// out and is one miss.
func TestCompleteWaitsForItsReceivedAnswer(t *testing.T) {
	c := newLocationCache(100, time.Minute)
	answer := func(id int64) { putAnswer(c, 1, 2, id) }
	type result struct {
		n  int
		ok bool
	}
	got := make(chan result, 1)
	go func() {
		n, ok := c.waitHolders(context.Background(), 7, 1001, time.Minute)
		got <- result{n, ok}
	}()
	poll.Until(t, 10*time.Second, "the complete to wait", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.putCh != nil
	})
	answer(8)
	answer(7)
	if r := <-got; !r.ok || r.n != 2 {
		t.Fatalf("the awaited answer: %+v", r)
	}
	misses := c.misses.Load()
	if _, ok := c.waitHolders(context.Background(), 9, 1001, 20*time.Millisecond); ok || c.misses.Load() != misses+1 {
		t.Fatalf("nothing coming: kept %v, misses %d → %d", ok, misses, c.misses.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := c.waitHolders(ctx, 9, 1001, time.Minute); ok {
		t.Fatal("a cancelled wait answered")
	}
}

// TestReceivedLocationsAreKept: the locations the coordinator sends of a
// block being written (LocationsReceived, over a real NATS server) are
// kept as a look-up's answer: complete's replica count finds them without
// asking, and readers on a host whose rack is known are answered from
// them; one older than an announcement already applied is not kept.
func TestReceivedLocationsAreKept(t *testing.T) {
	url := natstest.Start(t)
	nc, pub := natstest.Connect(t, url), natstest.Connect(t, url)
	const subj = "granary.v1.ns1.ns.received"
	locs := newLocationCache(100, time.Minute)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := followReceived(nc, subj, locs, log); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil { // the server has the subscription
		t.Fatal(err)
	}
	send := func(id int64, seq uint64, holders ...string) {
		t.Helper()
		r := dnproto.LocationsReceived{
			Request: dnproto.LocationsRequest{Blocks: []int64{id}, GenStamps: []int64{1001}, Cache: true},
			Reply: dnproto.LocationsReply{Blocks: []dnproto.BlockLocation{{ID: id}},
				Cache: &dnproto.LocationCache{Instance: "c1", Seq: seq, ReaderRack: "/default-rack", Cacheable: []bool{true}}},
		}
		for _, h := range holders {
			r.Reply.Blocks[0].Locations = append(r.Reply.Blocks[0].Locations, dnproto.DatanodeInfo{UUID: h, IPAddr: h, Rack: "/r1"})
		}
		data, err := dnproto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(subj, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := locs.holders(1, 1001); ok {
		t.Fatal("holders of a block never sent")
	}
	send(1, 4, "10.0.0.1")
	poll.Until(t, 10*time.Second, "the received locations to be kept", func() bool { _, ok := locs.holders(1, 1001); return ok })
	if n, _ := locs.holders(1, 1001); n != 1 {
		t.Fatalf("%d holders kept, sent 1", n)
	}
	if _, ok := locs.holders(1, 1002); ok {
		t.Fatal("holders answered for another stamp")
	}
	// A reader whose rack is known (its own look-up) is answered.
	read := dnproto.LocationsRequest{Blocks: []int64{1}, GenStamps: []int64{1001}, ClientHost: "10.0.0.5"}
	if _, ok := locs.get(read); ok {
		t.Fatal("a reader of unknown rack answered")
	}
	locs.put(dnproto.LocationsRequest{Blocks: []int64{8}, GenStamps: []int64{1001}, ClientHost: "10.0.0.5"},
		dnproto.LocationsReply{Blocks: []dnproto.BlockLocation{{ID: 8}}, Cache: &dnproto.LocationCache{Instance: "c1", Seq: 4, ReaderRack: "/r5", Cacheable: []bool{true}}})
	if got, ok := locs.get(read); !ok || len(got[0].Locations) != 1 || got[0].Locations[0].UUID != "10.0.0.1" {
		t.Fatalf("a reader of known rack: %+v %v", got, ok)
	}
	// Older than an announcement applied: not kept.
	locs.announced(dnproto.LocationsChanged{Instance: "c1", From: 4, To: 6, Blocks: []int64{2}})
	send(2, 5, "10.0.0.2")
	send(3, 6, "10.0.0.3")
	poll.Until(t, 10*time.Second, "the newer answer to be kept", func() bool { _, ok := locs.holders(3, 1001); return ok })
	if _, ok := locs.holders(2, 1001); ok {
		t.Fatal("an answer older than an applied announcement was kept")
	}
	// An answer with no holder answers nothing: complete asks, a miss.
	send(4, 7)
	send(5, 8, "10.0.0.5")
	poll.Until(t, 10*time.Second, "the later answer to be kept", func() bool { _, ok := locs.holders(5, 1001); return ok })
	hits, misses := locs.hits.Load(), locs.misses.Load()
	if _, ok := locs.holders(4, 1001); ok || locs.hits.Load() != hits || locs.misses.Load() != misses+1 {
		t.Fatalf("an answer with no holder: kept %v, hits %d → %d, misses %d → %d", ok, hits, locs.hits.Load(), misses, locs.misses.Load())
	}
}

// holders is waitHolders without waiting.
func (c *locationCache) holders(id, genStamp int64) (int, bool) {
	return c.waitHolders(context.Background(), id, genStamp, 0)
}

// putAnswer puts coordinator c1's answer, as of its change seq, of blocks
// ids (stamp 1001), each held by holders datanodes and cacheable.
func putAnswer(c *locationCache, seq uint64, holders int, ids ...int64) {
	req := dnproto.LocationsRequest{}
	reply := dnproto.LocationsReply{Cache: &dnproto.LocationCache{Instance: "c1", Seq: seq}}
	for _, id := range ids {
		b := dnproto.BlockLocation{ID: id}
		for h := range holders {
			b.Locations = append(b.Locations, dnproto.DatanodeInfo{UUID: fmt.Sprint("dn", h+1)})
		}
		req.Blocks, req.GenStamps = append(req.Blocks, id), append(req.GenStamps, 1001)
		reply.Blocks = append(reply.Blocks, b)
		reply.Cache.Cacheable = append(reply.Cache.Cacheable, true)
	}
	c.put(req, reply)
}
