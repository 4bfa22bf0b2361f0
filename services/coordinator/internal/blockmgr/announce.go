package blockmgr

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/granary-fs/granary/internal/dnproto"
)

// Location announcements (docs/nats-protocol.md, "Cached locations"): the
// metadata service keeps the locations it was answered with
// LocationsForCache, and this manager numbers every later change to a kept
// answer — a holder added or removed (a new replica, a deletion, a corrupt
// mark, a dead node), the block's stamp changing or the block removed — so
// that TakeLocationChanges can tell it which to drop. Changes to a node
// that every answer may show (its address, its decommission) drop them
// all.

// maxAnswered bounds the blocks whose answers are followed; past it every
// kept answer is dropped and following starts again.
const maxAnswered = 1 << 20

type announcements struct {
	instance  string
	following bool // a metadata service keeps answers (asked LocationsForCache)
	seq, sent uint64
	answered  map[int64]struct{} // blocks whose answers may be kept
	blocks    []int64            // changed since the last announcement
	seqs      []uint64           // the number of each one's change
	all       bool
	kick      chan struct{}
}

func newAnnouncements() announcements {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return announcements{instance: hex.EncodeToString(b[:]), answered: map[int64]struct{}{}, kick: make(chan struct{}, 1)}
}

func (a *announcements) signal() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// locChanged records that block id's locations changed (m.mu held).
func (m *Manager) locChanged(id int64) {
	a := &m.ann
	if len(a.answered) == 0 {
		return // nothing kept: a full report's replicas cost no hashing
	}
	if _, ok := a.answered[id]; !ok {
		return
	}
	delete(a.answered, id)
	a.seq++
	a.blocks = append(a.blocks, id)
	a.seqs = append(a.seqs, a.seq)
	a.signal()
}

// locChangedAll records a change every kept answer may show (m.mu held);
// force announces it even when nothing was answered.
func (m *Manager) locChangedAll(force bool) {
	a := &m.ann
	if len(a.answered) == 0 && !force {
		return
	}
	clear(a.answered)
	a.blocks, a.seqs, a.all = nil, nil, true
	a.seq++
	a.signal()
}

// LocationChanges is signalled when there are changes to announce.
func (m *Manager) LocationChanges() <-chan struct{} { return m.ann.kick }

// TakeLocationChanges returns the changes not announced yet, as the next
// announcement; false when there are none.
func (m *Manager) TakeLocationChanges() (dnproto.LocationsChanged, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := &m.ann
	if a.seq == a.sent {
		return dnproto.LocationsChanged{}, false
	}
	c := dnproto.LocationsChanged{Instance: a.instance, From: a.sent, To: a.seq, Blocks: a.blocks, Seqs: a.seqs, All: a.all}
	a.sent, a.blocks, a.seqs, a.all = a.seq, nil, nil, false
	return c, true
}

// AnnounceAll drops every answer kept from any coordinator: a coordinator
// that becomes active announces it, so that what another one answered is
// not used.
func (m *Manager) AnnounceAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.locChangedAll(true)
}

// LocationsForCache is Locations for an answer the asker keeps: each
// block whose stamp the mirror has is marked cacheable and its next change
// will be announced.
func (m *Manager) LocationsForCache(ids, genStamps []int64, reader string) ([]dnproto.BlockLocation, *dnproto.LocationCache) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ann.following = true
	return m.locationsForCacheLocked(ids, genStamps, reader)
}

func (m *Manager) locationsForCacheLocked(ids, genStamps []int64, reader string) ([]dnproto.BlockLocation, *dnproto.LocationCache) {
	out, rack := m.locations(ids, genStamps, reader)
	if len(m.ann.answered) >= maxAnswered {
		m.locChangedAll(false)
	}
	c := &dnproto.LocationCache{Instance: m.ann.instance, Seq: m.ann.seq, ReaderRack: rack, Cacheable: make([]bool, len(ids))}
	for i, id := range ids {
		b := m.blocks[id]
		if b == nil || i < len(genStamps) && genStamps[i] != b.GenStamp {
			continue
		}
		c.Cacheable[i] = true
		m.ann.answered[id] = struct{}{}
	}
	return out, c
}

// maxReceivedSent bounds the blocks of one LocationsReceived (a report
// queued while the coordinator was away can hold thousands), well under
// NATS's payload limit.
const maxReceivedSent = 1024

// IncrementalLocations is Incremental, and returns what the report made
// known of blocks being written: the LocationsForCache answer (no
// reader) for each block under construction that gained a RECEIVED
// replica, to tell the metadata services at once (SubjLocationsReceived)
// — nil when there is none, or when no metadata service keeps answers.
func (m *Manager) IncrementalLocations(r *dnproto.IncrementalReport) (*dnproto.LocationsReceived, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.incrementalLocked(r); err != nil {
		return nil, err
	}
	var ids []int64
	for _, e := range r.Blocks {
		if b := m.blocks[e.Block.ID]; e.Status == dnproto.Received && b != nil && b.GenStamp == e.Block.GenStamp {
			ids = append(ids, b.ID)
		}
	}
	return m.receivedLocked(ids), nil
}

// receivedLocked is the LocationsForCache answer, for no reader, of the
// blocks of ids still being written — nil when there is none, or when no
// metadata service keeps answers.
func (m *Manager) receivedLocked(ids []int64) *dnproto.LocationsReceived {
	if !m.ann.following {
		return nil
	}
	var req dnproto.LocationsRequest
	for _, id := range ids {
		b := m.blocks[id]
		if b == nil || b.Complete {
			continue
		}
		if len(req.Blocks) == maxReceivedSent {
			break // the rest ask, as before
		}
		req.Blocks = append(req.Blocks, b.ID)
		req.GenStamps = append(req.GenStamps, b.GenStamp)
	}
	if len(req.Blocks) == 0 {
		return nil
	}
	req.Cache = true
	blocks, cache := m.locationsForCacheLocked(req.Blocks, req.GenStamps, "")
	return &dnproto.LocationsReceived{Request: req, Reply: dnproto.LocationsReply{Blocks: blocks, Cache: cache}}
}
