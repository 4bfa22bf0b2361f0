package blockmgr

import (
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
)

// Node is a registered datanode (HDFS's DatanodeDescriptor).
type Node struct {
	reg        dnproto.Registration
	rack       string
	storageIDs []string
	storages   map[string]dnproto.StorageReport
	replicas   map[int64]replica

	registeredAt  time.Time
	lastHeartbeat time.Time
	lastLifeline  time.Time // keeps the node from dying, not from going stale
	// scheduled are the writes placed on the node not reported yet, in
	// this roll interval and the last (HDFS's currApproxBlocksScheduled
	// and prevApproxBlocksScheduled).
	scheduled       [2]int
	scheduledRolled time.Time
	dead            bool
	xceivers        int
	xmits           int
	failedVolumes   int
	cacheCapacity   int64
	cacheUsed       int64
	adminState      string

	invalidate []dnproto.BlockRef  // replicas to delete, sent with heartbeats
	transfers  []dnproto.Command   // TRANSFER commands, sent with heartbeats
	suspects   map[int64]time.Time // replicas to check against the namespace, since when
	checkAll   bool                // check every replica (after a resync)
	reportID   uint64              // the full report being received
	reported   bool                // a full report has been processed
	lastReport time.Time           // when the last full report completed
}

func (n *Node) storageIndex(id string) uint16 {
	for i, s := range n.storageIDs {
		if s == id {
			return uint16(i)
		}
	}
	n.storageIDs = append(n.storageIDs, id)
	return uint16(len(n.storageIDs) - 1)
}

// Register records a datanode (phase 2 of the handshake); a registration
// counts as a heartbeat. A re-registration keeps no replicas: the node
// re-reports everything.
func (m *Manager) Register(reg dnproto.Registration, ni dnproto.NamespaceInfo) error {
	if reg.ClusterID != ni.ClusterID {
		return errs.E(errs.IncorrectVersion, "datanode %s belongs to cluster %s but this cluster is %s", reg.DatanodeUUID, reg.ClusterID, ni.ClusterID)
	}
	if reg.BlockPoolID != ni.BlockPoolID {
		return errs.E(errs.IncorrectVersion, "datanode %s serves block pool %s but this namespace's is %s", reg.DatanodeUUID, reg.BlockPoolID, ni.BlockPoolID)
	}
	if reg.DatanodeUUID == "" || reg.HTTPPort <= 0 || reg.HTTPPort > 65535 {
		return errs.E(errs.IllegalArgument, "registration needs a datanode UUID and an HTTP port")
	}
	// HDFS's verifySoftwareVersion (IncorrectVersionException's message).
	if dnproto.CompareVersions(reg.SoftwareVersion, m.cfg.MinDatanodeVersion) < 0 {
		return errs.E(errs.IncorrectVersion, "The reported DataNode version is too low to communicate with this NameNode. DataNode version: '%s' Minimum DataNode version: '%s'",
			reg.SoftwareVersion, m.cfg.MinDatanodeVersion)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.disallowed(reg); err != nil {
		return err
	}
	now := m.cfg.Now()
	if old := m.nodes[reg.DatanodeUUID]; old != nil && !old.dead {
		// Re-registration of a live node (HDFS's updateRegInfo): its
		// replicas stay in the block map — dropping them would make every
		// block it holds under-replicated for a moment and could schedule
		// transfers — and the full report that follows every registration
		// reconciles them. Unsent commands are dropped: they were decided
		// for the node's previous life.
		old.reg, old.rack = reg, m.rackOf(reg)
		m.locChangedAll(false) // its address may be another
		old.registeredAt, old.lastHeartbeat = now, now
		old.invalidate, old.transfers = nil, nil
		for _, s := range reg.Storages {
			old.storageIndex(s.StorageID)
		}
		return nil
	}
	if old := m.nodes[reg.DatanodeUUID]; old != nil {
		m.dropReplicas(old)
	}
	n := &Node{
		reg: reg, rack: m.rackOf(reg), storages: map[string]dnproto.StorageReport{}, replicas: map[int64]replica{},
		registeredAt: now, lastHeartbeat: now, adminState: "NORMAL", suspects: map[int64]time.Time{},
	}
	for _, s := range reg.Storages {
		n.storageIndex(s.StorageID)
	}
	m.nodes[reg.DatanodeUUID] = n
	return nil
}

func (m *Manager) rackOf(reg dnproto.Registration) string {
	for _, k := range []string{reg.IPAddr, reg.HostName} {
		if r, ok := m.cfg.Topology[k]; ok {
			return r
		}
	}
	return "/default-rack"
}

// Heartbeat records a heartbeat and returns the commands for the node. An
// unknown or dead node is told to re-register.
func (m *Manager) Heartbeat(hb dnproto.Heartbeat) dnproto.HeartbeatReply {
	m.mu.Lock()
	defer m.mu.Unlock()
	reply := dnproto.HeartbeatReply{HAState: "active", TxID: m.seq}
	n := m.nodes[hb.DatanodeUUID]
	if n == nil || n.dead {
		reply.Commands = []dnproto.Command{{Action: dnproto.ActionReregister}}
		return reply
	}
	now := m.cfg.Now()
	n.lastHeartbeat = now
	for _, s := range hb.Storages {
		n.storages[s.StorageID] = s
		n.storageIndex(s.StorageID)
	}
	n.xceivers, n.xmits, n.failedVolumes = hb.XceiverCount, hb.XmitsInProgress, hb.FailedVolumes
	n.cacheCapacity, n.cacheUsed = hb.CacheCapacity, hb.CacheUsed
	if len(n.invalidate) > 0 && !m.standby {
		k := min(len(n.invalidate), m.cfg.InvalidateLimit)
		reply.Commands = append(reply.Commands, dnproto.Command{
			Action: dnproto.ActionInvalidate, BlockPoolID: hb.BlockPoolID, Blocks: append([]dnproto.BlockRef(nil), n.invalidate[:k]...),
		})
		n.invalidate = n.invalidate[k:]
	}
	if len(n.transfers) > 0 && !m.standby {
		reply.Commands = append(reply.Commands, n.transfers...)
		n.transfers = nil
	}
	if hb.RequestLease {
		reply.LeaseID = m.grantLease(n, now)
	}
	return reply
}

type lease struct {
	node    string
	expires time.Time
}

// grantLease hands out a full-block-report lease while fewer than
// MaxFBRLeases are outstanding (HDFS's BlockReportLeaseManager). Nodes that
// have never reported come first: while some wait for a lease, a node that
// has reported before gets one only if a slot is left over for each of
// them.
func (m *Manager) grantLease(n *Node, now time.Time) uint64 {
	active := 0
	for id, l := range m.leases {
		if now.After(l.expires) {
			delete(m.leases, id)
			continue
		}
		if l.node == n.reg.DatanodeUUID {
			return id
		}
		active++
	}
	waiting := 0
	for id, since := range m.waitingFirstReport {
		if w := m.nodes[id]; w == nil || w.dead || w.reported || now.Sub(since) > 3*m.cfg.HeartbeatInterval {
			delete(m.waitingFirstReport, id) // reported, gone, or no longer asking
			continue
		}
		if id != n.reg.DatanodeUUID {
			waiting++
		}
	}
	free := m.cfg.MaxFBRLeases - active
	if !n.reported {
		if free <= 0 {
			m.waitingFirstReport[n.reg.DatanodeUUID] = now
			return 0
		}
		delete(m.waitingFirstReport, n.reg.DatanodeUUID)
	} else if free <= waiting {
		return 0
	}
	m.lease++
	m.leases[m.lease] = &lease{node: n.reg.DatanodeUUID, expires: now.Add(m.cfg.FBRLeaseLength)}
	return m.lease
}

// ActiveLeases returns the number of outstanding full-block-report leases.
func (m *Manager) ActiveLeases() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	n := 0
	for _, l := range m.leases {
		if !now.After(l.expires) {
			n++
		}
	}
	return n
}

// State is a datanode's liveness as an operator sees it.
type State string

// The liveness states.
const (
	Live  State = "live"
	Stale State = "stale"
	Dead  State = "dead"
)

func (m *Manager) state(n *Node, now time.Time) State {
	switch {
	case n.dead:
		return Dead
	case now.Sub(n.lastHeartbeat) > m.cfg.StaleInterval:
		return Stale
	}
	return Live
}

// Lifeline records a datanode's lifeline (HDFS's handleLifeline): its
// figures and that it is alive, which keeps it from being declared dead;
// it is still stale while its heartbeats are late. An unknown or dead node
// must register (its next heartbeat is told so).
func (m *Manager) Lifeline(l dnproto.Lifeline) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.nodes[l.DatanodeUUID]
	if n == nil || n.dead {
		return errs.E(errs.Unregistered, "lifeline from an unregistered datanode %s", l.DatanodeUUID)
	}
	n.lastLifeline = m.cfg.Now()
	for _, s := range l.Storages {
		n.storages[s.StorageID] = s
		n.storageIndex(s.StorageID)
	}
	n.xceivers, n.xmits, n.failedVolumes = l.XceiverCount, l.XmitsInProgress, l.FailedVolumes
	return nil
}

// CheckLiveness marks nodes dead after DeadInterval without a heartbeat and
// removes their replicas from the block map (HeartbeatManager's check).
// It returns the UUIDs of the nodes it declared dead.
func (m *Manager) CheckLiveness() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	var died []string
	for id, n := range m.nodes {
		if !n.dead && now.Sub(n.lastHeartbeat) > m.cfg.DeadInterval() && now.Sub(n.lastLifeline) > m.cfg.DeadInterval() {
			n.dead = true
			m.dropReplicas(n)
			for lid, l := range m.leases {
				if l.node == id {
					delete(m.leases, lid)
				}
			}
			died = append(died, id)
		}
	}
	return died
}

// dropReplicas removes every replica of n from the block map.
func (m *Manager) dropReplicas(n *Node) {
	for id := range n.replicas {
		if b := m.blocks[id]; b != nil {
			m.removeHolder(b, n)
		}
	}
	n.replicas = map[int64]replica{}
	n.invalidate = nil
	n.transfers = nil
	n.suspects = map[int64]time.Time{}
	n.reported = false
}

// LiveCount returns the number of datanodes that are not dead.
func (m *Manager) LiveCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := 0
	for _, n := range m.nodes {
		if !n.dead {
			c++
		}
	}
	return c
}
