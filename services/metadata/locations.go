package metadata

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
)

// locationCache keeps the block locations the coordinator answered for
// readers, so that a read of a complete block needs no NATS round trip.
// The coordinator numbers every later change to a kept answer and
// announces it (SubjLocationsChanged; docs/nats-protocol.md, "Cached
// locations"): an announced block is dropped, a gap in the numbering, a
// new coordinator instance or a lost connection drops everything, and
// nothing is kept longer than ttl. What a hit answers is what the
// coordinator answered at most one announcement ago: the same snapshot a
// reader holds while it reads.
type locationCache struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	instance string // the coordinator run the entries come from
	seq      uint64 // its last change reflected here
	blocks   map[int64]cachedLocation
	racks    map[string]string // reader host → rack, as the coordinator placed it

	// recent are the numbered changes of the announcements applied, in
	// order: every change after recentFrom up to seq. An answer older than
	// seq is still kept for a block none of the changes after it touched.
	recent     []numberedChange
	recentFrom uint64

	// putCh is closed (and cleared) by the next put, for waitHolders.
	putCh chan struct{}

	hits, misses atomic.Int64
}

type numberedChange struct {
	seq   uint64
	block int64
}

// maxRecent is how many numbered changes are remembered at least (twice
// as many at most).
const maxRecent = 4096

type cachedLocation struct {
	genStamp int64
	locs     []dnproto.DatanodeInfo
	at       time.Time
	seq      uint64 // the coordinator's last change the answer reflects
}

// maxRacks bounds the reader hosts whose racks are kept.
const maxRacks = 65536

func newLocationCache(max int, ttl time.Duration) *locationCache {
	return &locationCache{max: max, ttl: ttl, now: time.Now, blocks: map[int64]cachedLocation{}, racks: map[string]string{}}
}

// get answers req from the cache, each block's holders sorted for the
// reader; false when any block (or the reader's rack) is not there.
func (c *locationCache) get(req dnproto.LocationsRequest) ([]dnproto.BlockLocation, bool) {
	if c.max <= 0 {
		return nil, false
	}
	now := c.now()
	out := make([]dnproto.BlockLocation, len(req.Blocks))
	c.mu.Lock()
	rack, ok := c.racks[req.ClientHost]
	for i, id := range req.Blocks {
		e, hit := c.blocks[id]
		if !ok || !hit || i >= len(req.GenStamps) || e.genStamp != req.GenStamps[i] || now.Sub(e.at) > c.ttl {
			ok = false
			break
		}
		out[i] = dnproto.BlockLocation{ID: id, Locations: append([]dnproto.DatanodeInfo(nil), e.locs...)}
	}
	c.mu.Unlock()
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	for i := range out {
		dnproto.SortLocations(out[i].Locations, nil, req.ClientHost, rack, rand.Shuffle)
	}
	return out, true
}

// keeps reports whether the cache keeps anything (-location-cache-size
// above 0): only then are answers asked for keeping, which has the
// coordinator follow them and send those of blocks being written.
func (c *locationCache) keeps() bool { return c.max > 0 }

// waitHolders returns how many holders the kept answer of block id under
// stamp genStamp has; false when none is kept, or the one kept names no
// holder (the caller asks: a miss). It waits up to d for an answer to be
// put: the RECEIVED answer of a block being written is on its way when
// its writer completes (the coordinator sends it before it acknowledges
// the datanode's report, which the datanode awaits before it answers the
// writer), but may arrive after the writer's call.
func (c *locationCache) waitHolders(ctx context.Context, id, genStamp int64, d time.Duration) (int, bool) {
	if c.max <= 0 {
		return 0, false
	}
	var timer *time.Timer
	for {
		now := c.now()
		c.mu.Lock()
		e, ok := c.blocks[id]
		if ok && e.genStamp == genStamp && now.Sub(e.at) <= c.ttl && len(e.locs) > 0 {
			c.mu.Unlock()
			c.hits.Add(1)
			return len(e.locs), true
		}
		if d <= 0 {
			c.mu.Unlock()
			c.misses.Add(1)
			return 0, false
		}
		if c.putCh == nil {
			c.putCh = make(chan struct{})
		}
		next := c.putCh
		c.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		}
		select {
		case <-next:
		case <-timer.C:
			d = 0
		case <-ctx.Done():
			d = 0
		}
	}
}

// put keeps what the coordinator marked cacheable in its answer to req,
// unless a change of the block newer than the answer was announced
// already (or may have been: one older than the changes remembered).
func (c *locationCache) put(req dnproto.LocationsRequest, reply dnproto.LocationsReply) {
	if c.max <= 0 || reply.Cache == nil || len(reply.Cache.Cacheable) != len(req.Blocks) {
		return
	}
	rc := reply.Cache
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc.Instance != c.instance {
		c.dropLocked()
		c.instance, c.seq = rc.Instance, rc.Seq
		c.forgetChangesLocked()
	}
	older := rc.Seq < c.seq
	if older && rc.Seq < c.recentFrom {
		return // changes after this answer are not all known: it may be stale
	}
	if !older {
		if len(c.racks) >= maxRacks {
			clear(c.racks)
		}
		c.racks[req.ClientHost] = rc.ReaderRack
	}
	for i, id := range req.Blocks {
		if !rc.Cacheable[i] || i >= len(req.GenStamps) || older && c.changedSinceLocked(id, rc.Seq) {
			continue
		}
		if len(c.blocks) >= c.max {
			c.evictLocked()
		}
		c.blocks[id] = cachedLocation{genStamp: req.GenStamps[i], locs: reply.Blocks[i].Locations, at: now, seq: rc.Seq}
	}
	if c.putCh != nil {
		close(c.putCh)
		c.putCh = nil
	}
}

// announced applies a coordinator's announcement.
func (c *locationCache) announced(a dnproto.LocationsChanged) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case a.Instance != c.instance:
		// Another coordinator: what the previous one answered goes.
		c.dropLocked()
		c.instance, c.seq = a.Instance, a.To
		c.forgetChangesLocked()
	case a.From > c.seq || a.All:
		// A missed announcement, or a change every answer may show.
		c.dropLocked()
		c.seq = max(c.seq, a.To)
		c.forgetChangesLocked()
	default:
		c.seq = max(c.seq, a.To)
		c.rememberLocked(a)
		for i, id := range a.Blocks {
			// An answer given after the block's change reflects it: the
			// next replicas of a block being written each change it, and
			// their RECEIVED answers (put) often arrive before the
			// announcement that numbers the change.
			if e, ok := c.blocks[id]; ok && i < len(a.Seqs) && e.seq >= a.Seqs[i] {
				continue
			}
			delete(c.blocks, id)
		}
	}
}

// drop forgets everything (a lost connection may have lost announcements;
// another coordinator took the role).
func (c *locationCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked()
	c.instance, c.seq = "", 0
	c.forgetChangesLocked()
}

// rememberLocked adds the numbered changes of announcement a, which
// follows the last one applied (c.seq already raised to a.To); one that
// does not number every change it covers (a coordinator before the
// numbers) leaves nothing remembered.
func (c *locationCache) rememberLocked(a dnproto.LocationsChanged) {
	if len(a.Seqs) != len(a.Blocks) || a.To-a.From != uint64(len(a.Blocks)) {
		c.forgetChangesLocked()
		return
	}
	for i, id := range a.Blocks {
		if a.Seqs[i] > c.recentFrom {
			c.recent = append(c.recent, numberedChange{a.Seqs[i], id})
		}
	}
	if len(c.recent) > 2*maxRecent { // the oldest go, maxRecent at a time
		n := len(c.recent) - maxRecent
		c.recentFrom = c.recent[n-1].seq
		c.recent = append(c.recent[:0], c.recent[n:]...)
	}
}

// forgetChangesLocked forgets the numbered changes: only answers as new
// as c.seq are kept until more are remembered.
func (c *locationCache) forgetChangesLocked() {
	c.recent = c.recent[:0]
	c.recentFrom = c.seq
}

// changedSinceLocked reports whether a remembered change after seq
// touched block id.
func (c *locationCache) changedSinceLocked(id int64, seq uint64) bool {
	i, _ := slices.BinarySearchFunc(c.recent, seq+1, func(ch numberedChange, s uint64) int { return cmp.Compare(ch.seq, s) })
	for _, ch := range c.recent[i:] {
		if ch.block == id {
			return true
		}
	}
	return false
}

func (c *locationCache) dropLocked() {
	clear(c.blocks)
}

// evictLocked makes room by dropping an eighth of the entries (the map's
// random order picks them).
func (c *locationCache) evictLocked() {
	n := max(1, len(c.blocks)/8)
	for id := range c.blocks {
		delete(c.blocks, id)
		if n--; n == 0 {
			return
		}
	}
}

// LocationCacheStats returns how many readers' look-ups the kept
// locations answered, and how many asked the coordinator, so far.
func (s *Service) LocationCacheStats() (hits, misses int64) {
	// s.coord is set before the namespace is published.
	if s.ns.Load() == nil || s.coord == nil {
		return 0, 0
	}
	return s.coord.locs.hits.Load(), s.coord.locs.misses.Load()
}
