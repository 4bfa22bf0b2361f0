package blockmgr

import (
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
)

// ChooseTargets picks up to req.Replication datanodes for a new block with
// HDFS's default policy (BlockPlacementPolicyDefault): the first on the
// writer's node when it is a datanode, else a random one; the second on
// another rack; the third on the second's rack, another node; more at
// random with at most (replicas-1)/racks+2 per rack. Never two on one node;
// dead, stale, decommissioning, full and overloaded (load > 2 × average)
// nodes are skipped.
func (m *Manager) ChooseTargets(req dnproto.Placement) []dnproto.DatanodeInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	exclude := map[*Node]bool{}
	for _, id := range req.Exclude {
		if n := m.nodes[id]; n != nil {
			exclude[n] = true
		}
	}
	chosen := m.chooseLocked(req.Replication, req.ClientHost, exclude, req.BlockSize, nil)
	out := make([]dnproto.DatanodeInfo, len(chosen))
	now := m.cfg.Now()
	for i, n := range chosen {
		out[i] = n.info()
		n.scheduleBlock(now)
	}
	return out
}

// blocksScheduledRoll is HDFS's BLOCKS_SCHEDULED_ROLL_INTERVAL (10 min).
const blocksScheduledRoll = 10 * time.Minute

// rollBlocksScheduled is seed 000's rollBlocksScheduled: the writes
// scheduled to a node count for two roll intervals at most, so that a
// write that never reported does not count for ever.
func (n *Node) rollBlocksScheduled(now time.Time) {
	switch elapsed := now.Sub(n.scheduledRolled); {
	case elapsed >= 2*blocksScheduledRoll:
		n.scheduled = [2]int{}
		n.scheduledRolled = now
	case elapsed >= blocksScheduledRoll:
		n.scheduled[1], n.scheduled[0] = n.scheduled[0], 0
		n.scheduledRolled = now
	}
}

// scheduleBlock counts a write placed on n (HDFS's
// incrementBlocksScheduled); a RECEIVED report takes it back.
func (n *Node) scheduleBlock(now time.Time) {
	n.rollBlocksScheduled(now)
	n.scheduled[0]++
}

// blockReceived takes back one scheduled write
// (decrementBlocksScheduled): from the current interval, else the last.
func (n *Node) blockReceived() {
	switch {
	case n.scheduled[0] > 0:
		n.scheduled[0]--
	case n.scheduled[1] > 0:
		n.scheduled[1]--
	}
}

// BlocksScheduled is the writes placed on n that have not reported yet.
func (n *Node) BlocksScheduled() int { return n.scheduled[0] + n.scheduled[1] }

// chooseLocked picks up to want nodes not in exclude. existing are the
// racks of replicas the block already has (re-replication): the first new
// replica then goes to another rack when there is one.
func (m *Manager) chooseLocked(want int, clientHost string, exclude map[*Node]bool, blockSize int64, existing map[string]bool) []*Node {
	now := m.cfg.Now()
	load, live := 0, 0
	for _, n := range m.nodes {
		if m.state(n, now) == Live {
			load += n.xceivers
			live++
		}
	}
	avg := 0.0
	if live > 0 {
		avg = float64(load) / float64(live)
	}
	var good []*Node
	racks := map[string]bool{}
	for _, n := range m.nodes {
		if exclude[n] || m.state(n, now) != Live || n.adminState != "NORMAL" {
			continue
		}
		if !m.cfg.IgnoreLoad && avg > 0 && float64(n.xceivers) > 2*avg {
			continue
		}
		// HDFS's isGoodTarget: room for one more block beyond the writes
		// already scheduled to the node.
		if blockSize > 0 && len(n.storages) > 0 {
			n.rollBlocksScheduled(now)
			if n.remaining()-int64(n.BlocksScheduled())*blockSize < blockSize {
				continue
			}
		}
		good = append(good, n)
		racks[n.rack] = true
	}
	m.rng.Shuffle(len(good), func(i, j int) { good[i], good[j] = good[j], good[i] })
	want = min(want, len(good))
	if want <= 0 {
		return nil
	}
	maxPerRack := (want+len(existing)-1)/len(racks) + 2
	chosen := make([]*Node, 0, want)
	perRack := map[string]int{}
	taken := func(n *Node) bool {
		for _, c := range chosen {
			if c == n {
				return true
			}
		}
		return false
	}
	pick := func(ok func(n *Node) bool) bool {
		for _, n := range good {
			if !taken(n) && perRack[n.rack] < maxPerRack && ok(n) {
				chosen = append(chosen, n)
				perRack[n.rack]++
				return true
			}
		}
		return false
	}
	anyNode := func(*Node) bool { return true }
	if len(existing) > 0 {
		// Re-replication: a rack the block is not on yet, when there is one.
		if !pick(func(n *Node) bool { return !existing[n.rack] }) {
			pick(anyNode)
		}
		for len(chosen) < want && pick(anyNode) {
		}
		return chosen
	}
	// First replica: the writer's own node when it is a datanode.
	if !pick(func(n *Node) bool { return n.reg.IPAddr == clientHost || n.reg.HostName == clientHost }) {
		pick(anyNode)
	}
	if len(chosen) < want && !pick(func(n *Node) bool { return n.rack != chosen[0].rack }) {
		pick(anyNode)
	}
	if len(chosen) < want && !pick(func(n *Node) bool { return n.rack == chosen[1].rack }) {
		pick(anyNode)
	}
	for len(chosen) < want && pick(anyNode) {
	}
	return chosen
}

func (n *Node) remaining() int64 {
	var r int64
	for _, s := range n.storages {
		if !s.Failed {
			r += s.Remaining
		}
	}
	return r
}

func (n *Node) info() dnproto.DatanodeInfo {
	d := dnproto.DatanodeInfo{
		UUID: n.reg.DatanodeUUID, HostName: n.reg.HostName, IPAddr: n.reg.IPAddr, HTTPPort: n.reg.HTTPPort,
		Rack: n.rack, Decommission: n.adminState != "NORMAL", Decommissioned: n.adminState == AdminDecommissioned,
	}
	if len(n.storageIDs) > 0 {
		d.StorageID = n.storageIDs[0]
	}
	return d
}

// Locations returns, for each block, the datanodes holding a good replica,
// in the order a reader on host reader should try them (HDFS's
// DatanodeManager.sortLocatedBlock): decommissioned nodes last, the others
// by network distance from the reader — its own node, then its rack, then
// other racks — with equally distant nodes in random order to spread the
// reads. An empty reader (an internal look-up) is at no known place.
// genStamps (optional) are the namespace's stamps of the blocks: when it is
// ahead of the mirror (its event not applied yet), the replicas reported
// under that stamp are answered, so that a reader is never told of fewer
// replicas than the namespace it asked has.
func (m *Manager) Locations(ids, genStamps []int64, reader string) []dnproto.BlockLocation {
	m.mu.Lock()
	defer m.mu.Unlock()
	out, _ := m.locations(ids, genStamps, reader)
	return out
}

// locations is Locations with m.mu held; it also returns the reader's rack.
func (m *Manager) locations(ids, genStamps []int64, reader string) ([]dnproto.BlockLocation, string) {
	readerRack, known := m.cfg.Topology[reader]
	if !known {
		readerRack = "/default-rack"
	}
	var hs []*Node
	out := make([]dnproto.BlockLocation, len(ids))
	for i, id := range ids {
		out[i].ID = id
		hs = hs[:0]
		b := m.blocks[id]
		switch {
		case i < len(genStamps) && genStamps[i] > 0 && (b == nil || genStamps[i] > b.GenStamp):
			for _, n := range m.nodes {
				if r, ok := n.replicas[id]; ok && !n.dead && r.genStamp == genStamps[i] && r.state == 0 && (b == nil || !b.corrupt[n]) {
					hs = append(hs, n)
				}
			}
		case b != nil:
			for _, h := range b.holders {
				if !h.dead {
					hs = append(hs, h)
				}
			}
		}
		out[i].Locations = make([]dnproto.DatanodeInfo, len(hs))
		out[i].Lengths = make([]int64, len(hs))
		for k, h := range hs {
			out[i].Locations[k] = h.info()
			out[i].Lengths[k] = h.replicas[id].numBytes
		}
		dnproto.SortLocations(out[i].Locations, out[i].Lengths, reader, readerRack, m.rng.Shuffle)
	}
	return out, readerRack
}

// NewerReplicas returns, for each block, the replicas whose generation
// stamp is newer than the block's — written under a stamp the namespace
// issued but did not record before its writer went away.
func (m *Manager) NewerReplicas(ids []int64) []dnproto.BlockLocation {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]dnproto.BlockLocation, len(ids))
	for i, id := range ids {
		out[i] = dnproto.BlockLocation{ID: id, Locations: []dnproto.DatanodeInfo{}, Lengths: []int64{}, GenStamps: []int64{}}
		b := m.blocks[id]
		if b == nil {
			continue
		}
		for _, n := range m.nodes {
			if r, ok := n.replicas[id]; ok && !n.dead && r.genStamp > b.GenStamp {
				out[i].Locations = append(out[i].Locations, n.info())
				out[i].Lengths = append(out[i].Lengths, r.numBytes)
				out[i].GenStamps = append(out[i].GenStamps, r.genStamp)
			}
		}
	}
	return out
}
