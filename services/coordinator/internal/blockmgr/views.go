package blockmgr

import (
	"sort"
	"time"
)

// DatanodeView is one datanode as `hdfs dfsadmin -report` shows it.
type DatanodeView struct {
	UUID          string    `json:"uuid" example:"3f2a..."`
	HostName      string    `json:"hostName" example:"dn1.example.com"`
	IPAddr        string    `json:"ipAddr" example:"10.0.0.5"`
	HTTPPort      int       `json:"httpPort" example:"9864"`
	Rack          string    `json:"rack" example:"/default-rack"`
	State         string    `json:"state" example:"live" enums:"live,stale,dead"`
	AdminState    string    `json:"adminState" example:"NORMAL"`
	Capacity      int64     `json:"capacity"`
	DfsUsed       int64     `json:"dfsUsed"`
	NonDfsUsed    int64     `json:"nonDfsUsed"`
	Remaining     int64     `json:"remaining"`
	BlockPoolUsed int64     `json:"blockPoolUsed"`
	CacheCapacity int64     `json:"cacheCapacity"`
	CacheUsed     int64     `json:"cacheUsed"`
	XceiverCount  int       `json:"xceiverCount"`
	FailedVolumes int       `json:"failedVolumes"`
	Blocks        int       `json:"blocks"`
	LastContact   int64     `json:"lastContactSeconds"`
	LastHeartbeat time.Time `json:"lastHeartbeat"`
	RegisteredAt  time.Time `json:"registeredAt"`
	Storages      []string  `json:"storages"`
}

// ClusterView is the cluster summary (the head of dfsadmin -report).
type ClusterView struct {
	Capacity        int64 `json:"capacity"`
	DfsUsed         int64 `json:"dfsUsed"`
	NonDfsUsed      int64 `json:"nonDfsUsed"`
	Remaining       int64 `json:"remaining"`
	BlockPoolUsed   int64 `json:"blockPoolUsed"`
	Live            int   `json:"liveDatanodes"`
	Stale           int   `json:"staleDatanodes"`
	Dead            int   `json:"deadDatanodes"`
	Blocks          int   `json:"blocks"`
	Missing         int   `json:"missingBlocks"`
	UnderReplicated int   `json:"underReplicatedBlocks"`
	Synced          bool  `json:"namespaceSynced"`
	NamespaceSafe   bool  `json:"namespaceInSafeMode"`
}

// BlockView is one block with its replicas.
type BlockView struct {
	ID          int64    `json:"id"`
	GenStamp    int64    `json:"genStamp"`
	NumBytes    int64    `json:"numBytes"`
	Replication int      `json:"replication"`
	Complete    bool     `json:"complete"`
	InodeID     int64    `json:"inodeId"`
	Locations   []string `json:"locations"` // datanode UUIDs
}

func (m *Manager) view(n *Node, now time.Time) DatanodeView {
	v := DatanodeView{
		UUID: n.reg.DatanodeUUID, HostName: n.reg.HostName, IPAddr: n.reg.IPAddr, HTTPPort: n.reg.HTTPPort,
		Rack: n.rack, State: string(m.state(n, now)), AdminState: n.adminState,
		CacheCapacity: n.cacheCapacity, CacheUsed: n.cacheUsed, XceiverCount: n.xceivers, FailedVolumes: n.failedVolumes,
		Blocks: len(n.replicas), LastContact: int64(now.Sub(n.lastHeartbeat).Seconds()),
		LastHeartbeat: n.lastHeartbeat, RegisteredAt: n.registeredAt, Storages: append([]string(nil), n.storageIDs...),
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
func (m *Manager) Datanodes() []DatanodeView {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	out := make([]DatanodeView, 0, len(m.nodes))
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
func (m *Manager) Datanode(uuid string) (DatanodeView, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.nodes[uuid]
	if n == nil {
		return DatanodeView{}, false
	}
	return m.view(n, m.cfg.Now()), true
}

// Cluster returns the cluster summary.
func (m *Manager) Cluster() ClusterView {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	c := ClusterView{Blocks: len(m.blocks), Synced: m.synced, NamespaceSafe: m.nsSafeMode}
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
		case len(b.holders) < int(b.Replication):
			c.UnderReplicated++
		}
	}
	return c
}

// BlockInfo returns one block of the map.
func (m *Manager) BlockInfo(id int64) (BlockView, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.blocks[id]
	if b == nil {
		return BlockView{}, false
	}
	v := BlockView{ID: b.ID, GenStamp: b.GenStamp, NumBytes: b.NumBytes, Replication: int(b.Replication), Complete: b.Complete, InodeID: b.InodeID, Locations: []string{}}
	for _, h := range b.holders {
		v.Locations = append(v.Locations, h.reg.DatanodeUUID)
	}
	sort.Strings(v.Locations)
	return v, true
}
