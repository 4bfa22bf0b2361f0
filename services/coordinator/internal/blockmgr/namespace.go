package blockmgr

import (
	"slices"

	"github.com/granary-fs/granary/internal/dnproto"
)

// The block map mirrors the namespace's blocks from the metadata service's
// events (dnproto.BlockEvents). Each publication names the sequence number
// of the previous one; a receiver that missed one, or sees a new metadata
// epoch, is no longer synced and must reload the inventory
// (BeginResync/ApplyInventory/EndResync), then apply the events that
// follow. Events carry absolute block states, so applying one twice, or one
// the inventory already reflects, is harmless.

// NeedsResync reports whether the mirror must be reloaded.
func (m *Manager) NeedsResync() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.synced
}

// maxPending bounds the publications kept while a resync runs.
const maxPending = 100_000

// ApplyEvents applies a publication. While unsynced it keeps it for the
// resync in progress; it returns false when the mirror is (or becomes)
// unsynced.
func (m *Manager) ApplyEvents(ev *dnproto.BlockEvents) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nsSafeMode = ev.SafeMode
	if !m.synced {
		if len(m.pending) < maxPending {
			m.pending = append(m.pending, ev)
		}
		return false
	}
	return m.applyLocked(ev)
}

func (m *Manager) applyLocked(ev *dnproto.BlockEvents) bool {
	switch {
	case ev.Epoch != m.epoch:
		m.synced, m.pending = false, nil
		return false
	case ev.Seq <= m.seq && ev.PrevSeq < m.seq:
		return true // already reflected
	case ev.PrevSeq != m.seq:
		m.synced, m.pending = false, nil
		return false
	}
	for i := range ev.Events {
		m.applyEvent(&ev.Events[i])
	}
	m.seq = ev.Seq
	return true
}

func (m *Manager) applyEvent(e *dnproto.BlockEvent) {
	b := m.blocks[e.ID]
	if e.Removed {
		if b != nil {
			m.locChanged(e.ID)
			// The namespace removed the block (IDs are never reused): its
			// replicas are deleted at the next reconcile pass, without the
			// grace a replica of a block not known yet gets.
			removed := m.cfg.Now().Add(-m.cfg.UnknownReplicaGrace)
			for _, h := range b.holders {
				h.suspects[e.ID] = removed
			}
			delete(m.blocks, e.ID)
		}
		return
	}
	created := b == nil
	if created {
		b = &Block{ID: e.ID}
		m.blocks[e.ID] = b
	}
	// A kept answer changes with the stamp or the holders; a block
	// completing with the same holders keeps it.
	_, kept := m.ann.answered[e.ID]
	var before []*Node
	if kept {
		before = slices.Clone(b.holders)
	}
	if b.GenStamp != e.GenStamp {
		b.corrupt = nil // marks were for the replicas of the old stamp
		m.locChanged(e.ID)
	}
	b.GenStamp, b.NumBytes, b.Replication, b.Complete, b.InodeID = e.GenStamp, e.NumBytes, e.Replication, e.Complete, e.InodeID
	// Re-link the replicas every node reported of this block, but those
	// known corrupt.
	b.holders = b.holders[:0]
	for _, n := range m.nodes {
		if r, ok := n.replicas[e.ID]; ok && !n.dead {
			if b.corrupt[n] {
				continue
			}
			if b.matches(r) {
				b.holders = append(b.holders, n)
			} else {
				n.suspects[e.ID] = m.cfg.Now()
			}
		}
	}
	if kept && !sameNodes(before, b.holders) {
		m.locChanged(e.ID)
	}
	if created && !b.Complete && len(b.holders) > 0 && m.ann.following {
		// Replicas reported RECEIVED before the event of their new block
		// (the writer was quick): their answer goes to the metadata
		// services now, as the report's would have (ReceivedBeforeTheirBlocks).
		m.receivedEarly = append(m.receivedEarly, e.ID)
	}
}

// ReceivedBeforeTheirBlocks is IncrementalLocations's answer for the
// blocks being written whose RECEIVED replicas were reported before the
// namespace event that made the blocks known, applied since the last
// call; nil when there are none.
func (m *Manager) ReceivedBeforeTheirBlocks() *dnproto.LocationsReceived {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := m.receivedEarly
	m.receivedEarly = nil
	return m.receivedLocked(ids)
}

// sameNodes reports whether a and b hold the same nodes.
func sameNodes(a, b []*Node) bool {
	if len(a) != len(b) {
		return false
	}
	for _, n := range a {
		if !slices.Contains(b, n) {
			return false
		}
	}
	return true
}

// Resync replaces the mirror with an inventory taken at (epoch, seq).
type Resync struct {
	m      *Manager
	blocks map[int64]*Block
	epoch  int64
	seq    int64
}

// BeginResync starts loading an inventory.
func (m *Manager) BeginResync(epoch, seq int64) *Resync {
	return &Resync{m: m, blocks: map[int64]*Block{}, epoch: epoch, seq: seq}
}

// Add adds one page of the inventory.
func (r *Resync) Add(blocks []dnproto.BlockEvent) {
	for _, e := range blocks {
		if !e.Removed {
			r.blocks[e.ID] = &Block{ID: e.ID, GenStamp: e.GenStamp, NumBytes: e.NumBytes, Replication: e.Replication, Complete: e.Complete, InodeID: e.InodeID}
		}
	}
}

// Commit installs the inventory and re-links every reported replica. The
// replicas known corrupt stay corrupt (HDFS's corrupt-replica map lives in
// the BlockManager, whatever happens to the namespace's event stream): a
// resync after a metadata restart must not offer them again.
func (r *Resync) Commit() {
	m := r.m
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.blocks
	m.blocks = r.blocks
	m.locChangedAll(false)
	for id, b := range m.blocks {
		if o := old[id]; o != nil && o.GenStamp == b.GenStamp && len(o.corrupt) > 0 {
			b.corrupt = o.corrupt
		}
	}
	for _, p := range m.pendingBad {
		if b := m.blocks[p.id]; b != nil && b.GenStamp == p.genStamp {
			m.markCorrupt(b, p.node)
		}
	}
	m.pendingBad = nil
	m.epoch, m.seq, m.synced = r.epoch, r.seq, true
	pending := m.pending
	m.pending = nil
	for _, n := range m.nodes {
		if n.dead {
			continue
		}
		for id, rep := range n.replicas {
			if b := m.blocks[id]; b != nil && b.matches(rep) && !b.corrupt[n] {
				b.holders = append(b.holders, n)
			}
		}
		n.checkAll = true
	}
	// Publications that arrived while the inventory was read.
	for _, ev := range pending {
		if !m.applyLocked(ev) {
			break
		}
	}
}

// SafeModeCounts returns the complete blocks with at least ReplicationMin
// live matching replicas and the number of live datanodes.
func (m *Manager) SafeModeCounts() dnproto.SafeModeCounts {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := dnproto.SafeModeCounts{Synced: m.synced}
	for _, n := range m.nodes {
		if !n.dead {
			c.LiveDatanodes++
		}
	}
	for _, b := range m.blocks {
		if b.Complete && len(b.holders) >= m.cfg.ReplicationMin {
			c.SafeBlocks++
		}
	}
	return c
}

// SetNamespaceSafeMode records whether the namespace is in safe mode.
func (m *Manager) SetNamespaceSafeMode(on bool) {
	m.mu.Lock()
	m.nsSafeMode = on
	m.mu.Unlock()
}
