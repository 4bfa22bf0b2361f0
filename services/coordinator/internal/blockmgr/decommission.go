package blockmgr

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
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
		m.locChangedAll(false) // every answer may show it
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
	m.locChangedAll(false) // every answer may show it
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
			m.locChangedAll(false) // every answer may show it
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

// RefreshNodes applies an exclude list (dfs.hosts.exclude): datanodes whose
// IP, host name, ip:port or UUID is listed start decommissioning; listed
// before and no more, they return to service. It returns how many nodes
// changed state.
func (m *Manager) RefreshNodes(excluded map[string]bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := 0
	for _, n := range m.nodes {
		out := listed(n.reg, excluded)
		switch {
		case out && n.adminState == AdminNormal:
			n.adminState = AdminDecommissionInProgress
			m.locChangedAll(false) // every answer may show it
			changed++
		case !out && n.adminState != AdminNormal:
			n.adminState = AdminNormal
			m.locChangedAll(false) // every answer may show it
			changed++
		}
	}
	return changed
}

// SetIncluded applies a dfs.hosts include list (nil or empty: every host
// may join): a datanode whose IP, host name, ip:port or UUID is not listed
// is refused at registration and, when it was registered, at its next
// heartbeat (DisallowedDatanodeException, as HDFS's refreshNodes).
func (m *Manager) SetIncluded(hosts map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(hosts) == 0 {
		hosts = nil
	}
	m.included = hosts
}

// listed reports whether reg is named in hosts.
func listed(reg dnproto.Registration, hosts map[string]bool) bool {
	return hosts[reg.IPAddr] || hosts[reg.HostName] || hosts[reg.DatanodeUUID] ||
		hosts[reg.IPAddr+":"+strconv.Itoa(reg.HTTPPort)] || hosts[reg.HostName+":"+strconv.Itoa(reg.HTTPPort)]
}

// CheckAllowed refuses a registered datanode the include list now leaves
// out (its heartbeats are answered with the refusal).
func (m *Manager) CheckAllowed(uuid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.nodes[uuid]; n != nil {
		return m.disallowed(n.reg)
	}
	return nil
}

// disallowed is the refusal of a datanode the include list leaves out; m.mu
// is held.
func (m *Manager) disallowed(reg dnproto.Registration) error {
	if m.included == nil || listed(reg, m.included) {
		return nil
	}
	return errs.E(errs.DisallowedDatanode, "Datanode denied communication with namenode because the host is not in the include-list: DatanodeRegistration(%s:%d, datanodeUuid=%s, hostName=%s)",
		reg.IPAddr, reg.HTTPPort, reg.DatanodeUUID, reg.HostName)
}

// MetaSave writes the block manager's queues, as dfsadmin -metasave: the
// blocks waiting for replication, the transfers pending and the deletions
// queued per datanode.
func (m *Manager) MetaSave(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	live, dead := 0, 0
	for _, n := range m.nodes {
		if n.dead {
			dead++
		} else {
			live++
		}
	}
	fmt.Fprintf(w, "%d blocks in the block map\n", len(m.blocks))
	fmt.Fprintf(w, "Live Datanodes: %d\nDead Datanodes: %d\n", live, dead)
	var under []*Block
	missing := 0
	for _, b := range m.blocks {
		if b.Complete && m.liveHolders(b) < int(b.Replication) {
			under = append(under, b)
		}
		if b.Complete && len(b.holders) == 0 {
			missing++
		}
	}
	sort.Slice(under, func(i, j int) bool { return under[i].ID < under[j].ID })
	fmt.Fprintf(w, "Metasave: Blocks waiting for reconstruction: %d\n", len(under))
	for _, b := range under {
		var locs []string
		for _, h := range b.holders {
			locs = append(locs, fmt.Sprintf("%s:%d", h.reg.IPAddr, h.reg.HTTPPort))
		}
		fmt.Fprintf(w, "blk_%d_%d (replicas: l: %d d: %d c: %d e: 0)  %s\n", b.ID, b.GenStamp, m.liveHolders(b), len(b.holders)-m.liveHolders(b), len(b.corrupt), strings.Join(locs, " "))
	}
	fmt.Fprintf(w, "Metasave: Blocks being reconstructed: %d\n", len(m.pendingRepl))
	ids := make([]int64, 0, len(m.pendingRepl))
	for id := range m.pendingRepl {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		p := m.pendingRepl[id]
		fmt.Fprintf(w, "blk_%d StartTime: %s NumReconstructInProgress: %d\n", id, p.deadline.Add(-m.cfg.PendingTimeout).Format(time.RFC3339), len(p.targets))
	}
	fmt.Fprintf(w, "Metasave: Blocks currently missing: %d\n", missing)
	var uuids []string
	for id := range m.nodes {
		uuids = append(uuids, id)
	}
	sort.Strings(uuids)
	fmt.Fprintln(w, "Metasave: Number of datanodes: ", len(m.nodes))
	for _, id := range uuids {
		n := m.nodes[id]
		fmt.Fprintf(w, "%s:%d %s %s %d blocks, %d to invalidate, last contact %ds ago\n", n.reg.IPAddr, n.reg.HTTPPort, n.rack, n.adminState, len(n.replicas), len(n.invalidate), int(now.Sub(n.lastHeartbeat).Seconds()))
	}
}
