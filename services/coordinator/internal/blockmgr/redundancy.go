package blockmgr

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
)

// The redundancy monitor (HDFS's RedundancyMonitor): every
// redundancy.interval it finds blocks with fewer live replicas than their
// replication and schedules TRANSFER commands (at most MaxStreams per
// source datanode), invalidates excess replicas, replaces corrupt replicas
// before deleting them, and reschedules transfers that did not complete
// within the pending timeout. Nothing is scheduled while the namespace is
// in safe mode or the block map is not synced.

// pending is a scheduled transfer.
type pending struct {
	targets  []*Node
	deadline time.Time
}

// RedundancyStats are the monitor's figures (Prometheus and fsck).
type RedundancyStats struct {
	UnderReplicated, Missing, Corrupt, Excess, PendingReplication int
	Scheduled                                                     int // transfers scheduled by the last pass
}

// CheckRedundancy runs one pass of the redundancy monitor.
func (m *Manager) CheckRedundancy() RedundancyStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	var st RedundancyStats
	// In safe mode the queues are initialised once the reported blocks
	// reach dfs.namenode.replqueue.threshold-pct (the figures are known),
	// but nothing is scheduled or deleted until it ends, as HDFS's
	// computeDatanodeWork.
	safe := m.nsSafeMode
	if !m.synced || (safe && !m.replQueuesReady()) {
		return st
	}
	now := m.cfg.Now()
	for id, p := range m.pendingRepl {
		if now.After(p.deadline) {
			delete(m.pendingRepl, id)
		}
	}
	type need struct {
		b    *Block
		live int
	}
	var under []need
	for _, b := range m.blocks {
		if !b.Complete {
			continue
		}
		live := m.liveHolders(b)
		want := int(b.Replication)
		if live >= want {
			delete(m.pendingRepl, b.ID)
		} else if p := m.pendingRepl[b.ID]; p != nil {
			// Targets that hold the block now are done; dead ones never will.
			p.targets = slices.DeleteFunc(p.targets, func(t *Node) bool { return t.dead || slices.Contains(b.holders, t) })
			if len(p.targets) == 0 {
				delete(m.pendingRepl, b.ID)
			}
		}
		switch {
		case live == 0 && len(b.holders) == 0:
			st.Missing++
		case live == 0:
			st.UnderReplicated++
			under = append(under, need{b, live})
		case live < want:
			st.UnderReplicated++
			under = append(under, need{b, live})
		case live > want:
			st.Excess += live - want
			if !safe {
				m.removeExcess(b, live-want)
			}
		}
		if len(b.corrupt) > 0 {
			st.Corrupt++
			if live >= want && !safe {
				m.dropCorrupt(b)
			}
		}
	}
	if safe {
		st.PendingReplication = len(m.pendingRepl)
		m.stats = st
		return st
	}
	// Highest priority first: the fewest live replicas.
	sort.Slice(under, func(i, j int) bool { return under[i].live < under[j].live })
	streams := map[*Node]int{}
	for _, n := range m.nodes {
		streams[n] = len(n.transfers) + n.xmits
	}
	for _, u := range under {
		if p := m.pendingRepl[u.b.ID]; p != nil {
			if u.live+len(p.targets) >= int(u.b.Replication) {
				continue
			}
		}
		if m.scheduleTransfer(u.b, u.live, streams, now) {
			st.Scheduled++
		}
	}
	st.PendingReplication = len(m.pendingRepl)
	m.checkDecommissioning()
	m.stats = st
	return st
}

// replQueuesReady reports whether the reported blocks reach
// dfs.namenode.replqueue.threshold-pct of the complete ones; m.mu is held.
func (m *Manager) replQueuesReady() bool {
	var complete, safe int64
	for _, b := range m.blocks {
		if b.Complete {
			complete++
			if len(b.holders) >= m.cfg.ReplicationMin {
				safe++
			}
		}
	}
	return float64(safe) >= m.cfg.ReplQueueThreshold*float64(complete)
}

// liveHolders counts replicas on live nodes that are not being decommissioned.
func (m *Manager) liveHolders(b *Block) int {
	n := 0
	for _, h := range b.holders {
		if !h.dead && h.adminState == "NORMAL" {
			n++
		}
	}
	return n
}

func (m *Manager) scheduleTransfer(b *Block, live int, streams map[*Node]int, now time.Time) bool {
	var source *Node
	for _, h := range b.holders {
		if h.dead || streams[h] >= m.cfg.MaxStreams {
			continue
		}
		if source == nil || streams[h] < streams[source] {
			source = h
		}
	}
	if source == nil {
		return false
	}
	exclude := map[*Node]bool{}
	for _, h := range b.holders {
		exclude[h] = true
	}
	for n := range b.corrupt {
		exclude[n] = true
	}
	if p := m.pendingRepl[b.ID]; p != nil {
		for _, t := range p.targets {
			exclude[t] = true
		}
	}
	targets := m.chooseLocked(int(b.Replication)-live, "", exclude, b.NumBytes, rackSet(b.holders))
	if len(targets) == 0 {
		return false
	}
	addrs := make([]string, len(targets))
	for i, t := range targets {
		addrs[i] = fmt.Sprintf("%s:%d", t.reg.IPAddr, t.reg.HTTPPort)
		t.cancelInvalidate(b.ID) // it must not delete the copy it is about to get
		t.scheduleBlock(now)
	}
	source.transfers = append(source.transfers, dnproto.Command{
		Action: dnproto.ActionTransfer, Blocks: []dnproto.BlockRef{{ID: b.ID, GenStamp: b.GenStamp, NumBytes: b.NumBytes}},
		Targets: [][]string{addrs},
	})
	streams[source]++
	p := m.pendingRepl[b.ID]
	if p == nil {
		p = &pending{}
		m.pendingRepl[b.ID] = p
	}
	p.targets = append(p.targets, targets...)
	p.deadline = now.Add(m.cfg.PendingTimeout)
	return true
}

func rackSet(nodes []*Node) map[string]bool {
	r := map[string]bool{}
	for _, n := range nodes {
		r[n.rack] = true
	}
	return r
}

// removeExcess invalidates k replicas of b: from racks holding more than
// one replica first (keeping rack diversity), then from the fullest node.
func (m *Manager) removeExcess(b *Block, k int) {
	for ; k > 0; k-- {
		perRack := map[string]int{}
		for _, h := range b.holders {
			perRack[h.rack]++
		}
		var victim *Node
		for _, h := range b.holders {
			if h.dead {
				continue
			}
			better := victim == nil ||
				(perRack[h.rack] > 1 && perRack[victim.rack] == 1) ||
				((perRack[h.rack] > 1) == (perRack[victim.rack] > 1) && h.remaining() < victim.remaining())
			if better {
				victim = h
			}
		}
		if victim == nil {
			return
		}
		m.invalidateReplica(victim, b.ID)
	}
}

// dropCorrupt deletes the corrupt replicas of a block that has enough good ones.
func (m *Manager) dropCorrupt(b *Block) {
	for n := range b.corrupt {
		m.invalidateReplica(n, b.ID)
	}
	b.corrupt = nil
}

func (m *Manager) invalidateReplica(n *Node, id int64) {
	r, ok := n.replicas[id]
	if !ok {
		return
	}
	n.invalidate = append(n.invalidate, dnproto.BlockRef{ID: id, GenStamp: r.genStamp, NumBytes: r.numBytes})
	m.removeReplica(n, id)
}

// Stats returns the figures of the last redundancy pass.
func (m *Manager) Stats() RedundancyStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// cancelInvalidate drops a queued (not yet sent) deletion of block id.
func (n *Node) cancelInvalidate(id int64) {
	kept := n.invalidate[:0]
	for _, r := range n.invalidate {
		if r.ID != id {
			kept = append(kept, r)
		}
	}
	n.invalidate = kept
}

// transferFailed forgets a pending transfer of block id to n (its replica
// went away), so that the block is rescheduled at the next pass.
func (m *Manager) transferFailed(n *Node, id int64) {
	p := m.pendingRepl[id]
	if p == nil {
		return
	}
	for i, t := range p.targets {
		if t == n {
			p.targets = append(p.targets[:i], p.targets[i+1:]...)
			break
		}
	}
	if len(p.targets) == 0 {
		delete(m.pendingRepl, id)
	}
}
