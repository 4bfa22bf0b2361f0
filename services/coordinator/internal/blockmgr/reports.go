package blockmgr

import (
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
)

func (m *Manager) reportingNode(uuid string) (*Node, error) {
	n := m.nodes[uuid]
	if n == nil || n.dead {
		return nil, errs.E(errs.Unregistered, "Data node %s is not registered", uuid)
	}
	return n, nil
}

// FullReport processes one chunk of a full block report. The chunk must be
// sent under a lease granted in a heartbeat (LeaseID 0 is refused unless
// the node has never reported, as a first report after registration). Once
// the last chunk of a storage's report is in, replicas of that storage the
// report did not list are removed.
func (m *Manager) FullReport(c *dnproto.ReportChunk) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.reportingNode(c.DatanodeUUID)
	if err != nil {
		return err
	}
	l := m.leases[c.LeaseID]
	if l == nil || l.node != c.DatanodeUUID {
		return errs.E(errs.IO, "full block report from %s has no valid lease (lease ID %d)", c.DatanodeUUID, c.LeaseID)
	}
	if m.cfg.Now().After(l.expires) {
		// dfs.namenode.full.block.report.lease.length.ms: the datanode asks
		// for a new lease with a later heartbeat.
		delete(m.leases, c.LeaseID)
		return errs.E(errs.IO, "BR lease 0x%x is not valid for DN %s, because the lease has expired.", c.LeaseID, c.DatanodeUUID)
	}
	storage := n.storageIndex(c.StorageID)
	n.reportID = c.ReportID
	for _, r := range c.Replicas {
		m.addReplica(n, r.ID, replica{genStamp: r.GenStamp, numBytes: r.NumBytes, state: r.State, storage: storage, report: c.ReportID})
	}
	if c.Index == c.Count-1 {
		for id, r := range n.replicas {
			if r.storage == storage && r.report != c.ReportID {
				m.removeReplica(n, id)
			}
		}
		n.reported = true
		n.lastReport = m.cfg.Now()
	}
	return nil
}

// ReleaseLease ends a lease once a node's whole report is in.
func (m *Manager) ReleaseLease(id uint64) {
	m.mu.Lock()
	delete(m.leases, id)
	m.mu.Unlock()
}

// addReplica records what n reported of block id and links it to the
// namespace block when it matches; otherwise it becomes a suspect.
func (m *Manager) addReplica(n *Node, id int64, r replica) {
	n.replicas[id] = r
	b := m.blocks[id]
	if b != nil && b.matches(r) {
		if !b.corrupt[n] {
			m.addHolder(b, n)
		}
		return
	}
	if b != nil {
		m.removeHolder(b, n)
	}
	if _, ok := n.suspects[id]; !ok {
		n.suspects[id] = m.cfg.Now()
	}
}

func (m *Manager) removeReplica(n *Node, id int64) {
	delete(n.replicas, id)
	delete(n.suspects, id)
	if b := m.blocks[id]; b != nil {
		m.removeHolder(b, n)
		delete(b.corrupt, n)
	}
}

// Incremental processes an incremental block report.
func (m *Manager) Incremental(r *dnproto.IncrementalReport) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.incrementalLocked(r)
}

func (m *Manager) incrementalLocked(r *dnproto.IncrementalReport) error {
	n, err := m.reportingNode(r.DatanodeUUID)
	if err != nil {
		return err
	}
	for _, e := range r.Blocks {
		switch e.Status {
		case dnproto.Received:
			n.blockReceived()
			m.addReplica(n, e.Block.ID, replica{genStamp: e.Block.GenStamp, numBytes: e.Block.NumBytes, storage: n.storageIndex(e.StorageID), report: n.reportID})
		case dnproto.Receiving:
			if r, ok := n.replicas[e.Block.ID]; ok && r.state == dnproto.StateFinalized && r.genStamp >= e.Block.GenStamp {
				continue // a late RECEIVING of a replica already finalized
			}
			m.addReplica(n, e.Block.ID, replica{genStamp: e.Block.GenStamp, numBytes: e.Block.NumBytes, state: dnproto.StateRBW, storage: n.storageIndex(e.StorageID), report: n.reportID})
		case dnproto.Deleted:
			m.removeReplica(n, e.Block.ID)
			m.transferFailed(n, e.Block.ID)
		default:
			return errs.E(errs.IllegalArgument, "unknown incremental report status %q", e.Status)
		}
	}
	return nil
}

// Reconcile checks suspect replicas against the namespace and queues
// invalidation of those that belong to no block or carry a stale
// generation stamp. It does nothing until the namespace is synced and
// while it is in safe mode: no replica is deleted then. It returns how
// many replicas it queued.
func (m *Manager) Reconcile() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.synced || m.nsSafeMode {
		return 0
	}
	now := m.cfg.Now()
	queued := 0
	for _, n := range m.nodes {
		if n.dead {
			continue
		}
		if n.checkAll {
			for id := range n.replicas {
				if _, ok := n.suspects[id]; !ok {
					n.suspects[id] = now
				}
			}
			n.checkAll = false
		}
		for id, since := range n.suspects {
			r, ok := n.replicas[id]
			if !ok {
				delete(n.suspects, id)
				continue
			}
			b := m.blocks[id]
			if b == nil && now.Sub(since) < m.cfg.UnknownReplicaGrace {
				// A replica may be reported before the namespace event of
				// its new block arrives: give the mirror time to catch up.
				continue
			}
			delete(n.suspects, id)
			switch {
			case b != nil && b.matches(r):
				if !b.corrupt[n] { // a replica known corrupt is never offered again
					m.addHolder(b, n)
				}
			case b != nil && b.Complete && r.state == 0 && r.genStamp == b.GenStamp:
				// A finalized replica of the right stamp but another length
				// than the complete block (HDFS's SIZE_MISMATCH): corrupt,
				// deleted once the block has enough good replicas.
				m.removeHolder(b, n)
				if b.corrupt == nil {
					b.corrupt = map[*Node]bool{}
				}
				b.corrupt[n] = true
			case b == nil || r.genStamp < b.GenStamp:
				n.invalidate = append(n.invalidate, dnproto.BlockRef{ID: id, GenStamp: r.genStamp, NumBytes: r.numBytes})
				delete(n.replicas, id)
				if b != nil {
					m.removeHolder(b, n)
				}
				queued++
			}
		}
	}
	return queued
}

// markCorrupt takes n's replica out of b's locations as corrupt.
func (m *Manager) markCorrupt(b *Block, n *Node) {
	m.removeHolder(b, n)
	if b.corrupt == nil {
		b.corrupt = map[*Node]bool{}
	}
	b.corrupt[n] = true
}

// BadBlocks records replicas a datanode found corrupt: they stop counting
// as good copies (and are not offered to readers). Replacing them is the
// redundancy monitor's work.
func (m *Manager) BadBlocks(r *dnproto.BadBlocks) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.reportingNode(r.DatanodeUUID)
	if err != nil {
		return err
	}
	for _, b := range r.Blocks {
		if blk := m.blocks[b.ID]; blk != nil {
			m.markCorrupt(blk, n)
		} else if !m.synced && len(m.pendingBad) < maxPending {
			// A datanode re-reporting to a coordinator that is still
			// loading the namespace.
			m.pendingBad = append(m.pendingBad, pendingBad{id: b.ID, genStamp: b.GenStamp, node: n})
		}
	}
	return nil
}
