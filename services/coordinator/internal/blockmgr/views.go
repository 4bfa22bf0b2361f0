package blockmgr

import (
	"sort"
	"time"

	"github.com/granary-fs/granary/api"
)

func (m *Manager) view(n *Node, now time.Time) api.DatanodeView {
	v := api.DatanodeView{
		UUID: n.reg.DatanodeUUID, HostName: n.reg.HostName, IPAddr: n.reg.IPAddr, HTTPPort: n.reg.HTTPPort,
		Rack: n.rack, State: string(m.state(n, now)), AdminState: n.adminState,
		CacheCapacity: n.cacheCapacity, CacheUsed: n.cacheUsed, XceiverCount: n.xceivers, FailedVolumes: n.failedVolumes,
		Blocks: len(n.replicas), LastContact: int64(now.Sub(n.lastHeartbeat).Seconds()),
		LastHeartbeat: n.lastHeartbeat, LastReport: n.lastReport, RegisteredAt: n.registeredAt, Storages: append([]string(nil), n.storageIDs...),
	}
	v.StorageTypes = make([]string, len(n.storageIDs))
	for i, id := range n.storageIDs {
		v.StorageTypes[i] = "DISK"
		for _, s := range n.reg.Storages {
			if s.StorageID == id && s.StorageType != "" {
				v.StorageTypes[i] = s.StorageType
			}
		}
	}
	for _, s := range n.storages {
		v.Capacity += s.Capacity
		v.DfsUsed += s.DfsUsed
		v.Remaining += s.Remaining
		v.BlockPoolUsed += s.BlockPoolUsed
	}
	v.NonDfsUsed = max(0, v.Capacity-v.DfsUsed-v.Remaining)
	return v
}

// Datanodes lists every known datanode, sorted by host and UUID.
func (m *Manager) Datanodes() []api.DatanodeView {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	out := make([]api.DatanodeView, 0, len(m.nodes))
	for _, n := range m.nodes {
		out = append(out, m.view(n, now))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].HostName != out[j].HostName {
			return out[i].HostName < out[j].HostName
		}
		return out[i].UUID < out[j].UUID
	})
	return out
}

// Datanode returns one datanode.
func (m *Manager) Datanode(uuid string) (api.DatanodeView, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.nodes[uuid]
	if n == nil {
		return api.DatanodeView{}, false
	}
	return m.view(n, m.cfg.Now()), true
}

// Cluster returns the cluster summary.
func (m *Manager) Cluster() api.ClusterView {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	c := api.ClusterView{Blocks: len(m.blocks), Synced: m.synced, NamespaceSafe: m.nsSafeMode}
	for _, n := range m.nodes {
		switch m.state(n, now) {
		case Live:
			c.Live++
		case Stale:
			c.Stale++
		case Dead:
			c.Dead++
			continue
		}
		if n.adminState == AdminDecommissionInProgress {
			c.Decommissioning++
		}
		v := m.view(n, now)
		c.Capacity += v.Capacity
		c.DfsUsed += v.DfsUsed
		c.NonDfsUsed += v.NonDfsUsed
		c.Remaining += v.Remaining
		c.BlockPoolUsed += v.BlockPoolUsed
	}
	for _, b := range m.blocks {
		switch {
		case !b.Complete:
		case len(b.holders) == 0:
			c.Missing++
		case m.liveHolders(b) < int(b.Replication):
			c.UnderReplicated++
		}
	}
	return c
}

// BlockInfo returns one block of the map.
func (m *Manager) BlockInfo(id int64) (api.BlockView, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.blocks[id]
	if b == nil {
		return api.BlockView{}, false
	}
	v := api.BlockView{ID: b.ID, GenStamp: b.GenStamp, NumBytes: b.NumBytes, Replication: int(b.Replication), Complete: b.Complete, InodeID: b.InodeID, Locations: []string{}}
	for _, h := range b.holders {
		v.Locations = append(v.Locations, h.reg.DatanodeUUID)
	}
	sort.Strings(v.Locations)
	return v, true
}
