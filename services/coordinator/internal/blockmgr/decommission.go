package blockmgr

import (
	"github.com/granary-fs/granary/internal/errs"
)

// Admin states, as HDFS's DatanodeInfo.AdminStates.
const (
	AdminNormal                 = "NORMAL"
	AdminDecommissionInProgress = "DECOMMISSION_INPROGRESS"
	AdminDecommissioned         = "DECOMMISSIONED"
)

// Decommission starts decommissioning a datanode: its replicas stop
// counting as live, so the redundancy monitor copies every block it holds
// elsewhere (it keeps serving reads and stays a copy source meanwhile);
// once all of them have enough live replicas it is DECOMMISSIONED.
func (m *Manager) Decommission(uuid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.nodes[uuid]
	if n == nil {
		return errs.E(errs.FileNotFound, "no datanode %s", uuid)
	}
	if n.adminState == AdminNormal {
		n.adminState = AdminDecommissionInProgress
	}
	return nil
}

// Recommission returns a datanode to service; its replicas count again
// (excess copies are trimmed by the redundancy monitor).
func (m *Manager) Recommission(uuid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.nodes[uuid]
	if n == nil {
		return errs.E(errs.FileNotFound, "no datanode %s", uuid)
	}
	n.adminState = AdminNormal
	return nil
}

// checkDecommissioning marks nodes whose every block has enough live
// replicas elsewhere as DECOMMISSIONED (HDFS's DatanodeAdminManager).
func (m *Manager) checkDecommissioning() {
	for _, n := range m.nodes {
		if n.adminState != AdminDecommissionInProgress || n.dead {
			continue
		}
		done := true
		for id := range n.replicas {
			b := m.blocks[id]
			if b != nil && b.Complete && m.liveHolders(b) < int(b.Replication) {
				done = false
				break
			}
		}
		if done {
			n.adminState = AdminDecommissioned
		}
	}
}

// Decommissioning returns how many of a decommissioning node's blocks
// still lack live replicas elsewhere (its progress).
func (m *Manager) Decommissioning(uuid string) (state string, pending int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.nodes[uuid]
	if n == nil {
		return "", 0, errs.E(errs.FileNotFound, "no datanode %s", uuid)
	}
	for id := range n.replicas {
		if b := m.blocks[id]; b != nil && b.Complete && m.liveHolders(b) < int(b.Replication) {
			pending++
		}
	}
	return n.adminState, pending, nil
}
