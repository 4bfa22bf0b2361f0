package blockmgr

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
)

var ni = dnproto.NamespaceInfo{ClusterID: "CID-1", BlockPoolID: "BP-1"}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestManager(topo map[string]string) (*Manager, *clock) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	return New(Config{Topology: topo, Now: c.now}), c
}

func register(t testing.TB, m *Manager, i int) string {
	id := fmt.Sprintf("dn-%d", i)
	err := m.Register(dnproto.Registration{
		DatanodeUUID: id, ClusterID: "CID-1", BlockPoolID: "BP-1", HostName: fmt.Sprintf("host%d", i),
		IPAddr: fmt.Sprintf("10.0.0.%d", i), HTTPPort: 9864, SoftwareVersion: dnproto.SoftwareVersion, Storages: []dnproto.StorageInfo{{StorageID: "DS-" + id}},
	}, ni)
	if err != nil {
		t.Fatal(err)
	}
	m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: id, Storages: []dnproto.StorageReport{{StorageID: "DS-" + id, Capacity: 1 << 40, Remaining: 1 << 40}}})
	return id
}

func syncNS(m *Manager, blocks ...dnproto.BlockEvent) {
	r := m.BeginResync(1, 10)
	r.Add(blocks)
	r.Commit()
}

func TestRegistrationChecksCluster(t *testing.T) {
	m, _ := newTestManager(nil)
	err := m.Register(dnproto.Registration{DatanodeUUID: "x", ClusterID: "CID-other", BlockPoolID: "BP-1", HTTPPort: 1}, ni)
	if err == nil {
		t.Fatal("a datanode of another cluster registered")
	}
	if r := m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: "unknown"}); len(r.Commands) != 1 || r.Commands[0].Action != dnproto.ActionReregister {
		t.Fatalf("unknown datanode's heartbeat reply %+v", r)
	}
}

// TestRegistrationChecksVersion: a datanode older than
// dfs.namenode.min.supported.datanode.version is refused with HDFS's
// IncorrectVersionException message; a newer one registers.
func TestRegistrationChecksVersion(t *testing.T) {
	m := New(Config{MinDatanodeVersion: "0.2.0"})
	reg := dnproto.Registration{DatanodeUUID: "x", ClusterID: "CID-1", BlockPoolID: "BP-1", HTTPPort: 1, SoftwareVersion: "0.1.9"}
	err := m.Register(reg, ni)
	if !errs.Is(err, errs.IncorrectVersion) || !strings.Contains(err.Error(),
		"The reported DataNode version is too low to communicate with this NameNode. DataNode version: '0.1.9' Minimum DataNode version: '0.2.0'") {
		t.Fatalf("an old datanode: %v", err)
	}
	reg.SoftwareVersion = "0.3.0"
	if err := m.Register(reg, ni); err != nil {
		t.Fatalf("a newer datanode: %v", err)
	}
}

func TestFullReportLeasesAreLimited(t *testing.T) {
	m, _ := newTestManager(nil)
	granted := 0
	for i := 0; i < 10; i++ {
		id := register(t, m, i)
		if r := m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: id, RequestLease: true}); r.LeaseID != 0 {
			granted++
		}
	}
	if granted != 6 || m.ActiveLeases() != 6 {
		t.Fatalf("%d leases granted (%d active), want 6", granted, m.ActiveLeases())
	}
	if err := m.FullReport(&dnproto.ReportChunk{DatanodeUUID: "dn-9", StorageID: "DS-dn-9", Count: 1}); err == nil {
		t.Fatal("a full report without a lease was accepted")
	}
	m.ReleaseLease(1)
	if r := m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: "dn-9", RequestLease: true}); r.LeaseID == 0 {
		t.Fatal("no lease granted after one was released")
	}
}

func report(t *testing.T, m *Manager, node string, reportID uint64, ids ...int64) {
	t.Helper()
	r := m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: node, RequestLease: true})
	if r.LeaseID == 0 {
		t.Fatal("no lease")
	}
	c := &dnproto.ReportChunk{DatanodeUUID: node, StorageID: "DS-" + node, LeaseID: r.LeaseID, ReportID: reportID, Count: 1, Last: true}
	for _, id := range ids {
		c.Replicas = append(c.Replicas, dnproto.Replica{ID: id, GenStamp: 1001, NumBytes: 10})
	}
	if err := m.FullReport(c); err != nil {
		t.Fatal(err)
	}
	m.ReleaseLease(r.LeaseID)
}

func holders(m *Manager, id int64) int {
	locs := m.Locations([]int64{id}, nil, "")
	return len(locs[0].Locations)
}

func TestFullReportReplacesTheStoragesReplicas(t *testing.T) {
	m, _ := newTestManager(nil)
	dn := register(t, m, 1)
	syncNS(m, dnproto.BlockEvent{ID: 1, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 1},
		dnproto.BlockEvent{ID: 2, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 1},
		dnproto.BlockEvent{ID: 3, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 1})
	report(t, m, dn, 1, 1, 2)
	if holders(m, 1) != 1 || holders(m, 2) != 1 || holders(m, 3) != 0 {
		t.Fatal("first report not reflected")
	}
	if c := m.SafeModeCounts(); c.SafeBlocks != 2 || c.LiveDatanodes != 1 || !c.Synced {
		t.Fatalf("safe-mode counts %+v", c)
	}
	report(t, m, dn, 2, 2, 3)
	if holders(m, 1) != 0 || holders(m, 2) != 1 || holders(m, 3) != 1 {
		t.Fatal("second report did not replace the first")
	}
}

func TestUnknownAndStaleReplicasAreInvalidatedOutsideSafeMode(t *testing.T) {
	m, clk := newTestManager(nil)
	dn := register(t, m, 1)
	syncNS(m, dnproto.BlockEvent{ID: 1, GenStamp: 1005, NumBytes: 10, Complete: true, Replication: 1})
	report(t, m, dn, 1, 1, 99) // block 1 with a stale genstamp, block 99 unknown
	if n := m.Reconcile(); n != 0 {
		t.Fatalf("%d replicas invalidated while the namespace is in safe mode", n)
	}
	m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, Seq: 10, PrevSeq: 10, SafeMode: false})
	// The stale replica goes at once; the unknown one after the grace.
	if n := m.Reconcile(); n != 1 {
		t.Fatalf("%d replicas invalidated, want 1", n)
	}
	clk.t = clk.t.Add(31 * time.Second)
	m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: dn})
	if n := m.Reconcile(); n != 1 {
		t.Fatalf("%d replicas invalidated after the grace, want 1", n)
	}
	r := m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: dn})
	if len(r.Commands) != 1 || r.Commands[0].Action != dnproto.ActionInvalidate || len(r.Commands[0].Blocks) != 1 {
		t.Fatalf("heartbeat reply %+v", r)
	}
}

func TestEventGapForcesResync(t *testing.T) {
	m, _ := newTestManager(nil)
	syncNS(m)
	if !m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, Seq: 12, PrevSeq: 10, Events: []dnproto.BlockEvent{{ID: 5, GenStamp: 1001}}}) {
		t.Fatal("an in-order publication was refused")
	}
	if m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, Seq: 20, PrevSeq: 15}) || !m.NeedsResync() {
		t.Fatal("a gap did not unsync the mirror")
	}
	// Publications that arrive during the resync are applied after it.
	m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, Seq: 30, PrevSeq: 20, Events: []dnproto.BlockEvent{{ID: 6, GenStamp: 1001}}})
	r := m.BeginResync(1, 20)
	r.Add([]dnproto.BlockEvent{{ID: 5, GenStamp: 1001}})
	r.Commit()
	if m.NeedsResync() {
		t.Fatal("still unsynced after the inventory")
	}
	if _, ok := m.BlockInfo(6); !ok {
		t.Fatal("the publication received during the resync was lost")
	}
	if m.ApplyEvents(&dnproto.BlockEvents{Epoch: 2, Seq: 1, PrevSeq: 0}) {
		t.Fatal("a new metadata epoch did not unsync the mirror")
	}
}

func TestDeadDatanodeLeavesTheBlockMap(t *testing.T) {
	m, clk := newTestManager(nil)
	dn := register(t, m, 1)
	syncNS(m, dnproto.BlockEvent{ID: 1, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 1})
	report(t, m, dn, 1, 1)
	clk.t = clk.t.Add(31 * time.Second)
	if v, _ := m.Datanode(dn); v.State != "stale" {
		t.Fatalf("state after 31 s: %s", v.State)
	}
	if died := m.CheckLiveness(); len(died) != 0 {
		t.Fatal("dead too early")
	}
	clk.t = clk.t.Add(600 * time.Second)
	if died := m.CheckLiveness(); len(died) != 1 || holders(m, 1) != 0 {
		t.Fatalf("died %v, holders %d", died, holders(m, 1))
	}
	if r := m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: dn}); len(r.Commands) == 0 || r.Commands[0].Action != dnproto.ActionReregister {
		t.Fatal("a dead datanode's heartbeat was not answered with re-register")
	}
}

func TestPlacementFollowsTheDefaultPolicy(t *testing.T) {
	topo := map[string]string{}
	for i := 1; i <= 6; i++ {
		rack := "/rack-a"
		if i > 3 {
			rack = "/rack-b"
		}
		topo[fmt.Sprintf("10.0.0.%d", i)] = rack
	}
	m, _ := newTestManager(topo)
	for i := 1; i <= 6; i++ {
		register(t, m, i)
	}
	for round := 0; round < 200; round++ {
		targets := m.ChooseTargets(dnproto.Placement{Replication: 3, ClientHost: "10.0.0.2", BlockSize: 1 << 20})
		if len(targets) != 3 {
			t.Fatalf("%d targets", len(targets))
		}
		if targets[0].IPAddr != "10.0.0.2" {
			t.Fatalf("first replica on %s, not on the writer", targets[0].IPAddr)
		}
		if targets[1].Rack == targets[0].Rack {
			t.Fatalf("second replica on the writer's rack: %+v", targets)
		}
		if targets[2].Rack != targets[1].Rack || targets[2].UUID == targets[1].UUID {
			t.Fatalf("third replica not on the second's rack, another node: %+v", targets)
		}
	}
	// A writer that is not a datanode still gets 3 distinct nodes; more than
	// the cluster has is capped.
	targets := m.ChooseTargets(dnproto.Placement{Replication: 10, ClientHost: "192.0.2.1"})
	seen := map[string]bool{}
	for _, d := range targets {
		if seen[d.UUID] {
			t.Fatal("two replicas on one node")
		}
		seen[d.UUID] = true
	}
	if len(targets) != 6 {
		t.Fatalf("%d targets for replication 10 on 6 nodes", len(targets))
	}
}

func TestLocationsAreSortedForTheReader(t *testing.T) {
	// dn-1, dn-2, dn-3 on /rack-a; dn-4, dn-5 on /rack-b; all hold block 1.
	topo := map[string]string{}
	for i := 1; i <= 5; i++ {
		topo[fmt.Sprintf("10.0.0.%d", i)] = map[bool]string{true: "/rack-a", false: "/rack-b"}[i <= 3]
	}
	m, _ := newTestManager(topo)
	syncNS(m, dnproto.BlockEvent{ID: 1, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 5})
	for i := 1; i <= 5; i++ {
		report(t, m, register(t, m, i), 1, 1)
	}
	m.nodes["dn-3"].adminState = AdminDecommissioned
	order := func(reader string) []string {
		var out []string
		for _, d := range m.Locations([]int64{1}, nil, reader)[0].Locations {
			out = append(out, d.UUID)
		}
		return out
	}
	firsts := map[string]int{}
	secondRack := map[string]int{}
	for round := 0; round < 200; round++ {
		// A reader on dn-1: itself, then its rack (dn-2), then the other
		// rack in random order, the decommissioned dn-3 last.
		got := order("10.0.0.1")
		if len(got) != 5 || got[0] != "dn-1" || got[1] != "dn-2" || got[4] != "dn-3" {
			t.Fatalf("locations for a reader on dn-1: %v", got)
		}
		secondRack[got[2]]++
		// A reader that is no datanode, at no known rack: random order,
		// the decommissioned node still last.
		got = order("192.0.2.7")
		if len(got) != 5 || got[4] != "dn-3" {
			t.Fatalf("locations for an outside reader: %v", got)
		}
		firsts[got[0]]++
	}
	if len(secondRack) != 2 {
		t.Fatalf("equally distant replicas always in one order: %v", secondRack)
	}
	if len(firsts) != 4 {
		t.Fatalf("an outside reader was not offered every live replica first over 200 reads: %v", firsts)
	}
}

// BenchmarkFullBlockReport measures report processing in blocks per second.
func BenchmarkFullBlockReport(b *testing.B) {
	m, _ := newTestManager(nil)
	dn := register(b, m, 1)
	const n = 100_000
	ev := make([]dnproto.BlockEvent, n)
	chunk := &dnproto.ReportChunk{DatanodeUUID: dn, StorageID: "DS-" + dn, Count: 1, Last: true}
	for i := range ev {
		ev[i] = dnproto.BlockEvent{ID: int64(1<<30 + i), GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 3}
		chunk.Replicas = append(chunk.Replicas, dnproto.Replica{ID: ev[i].ID, GenStamp: 1001, NumBytes: 10})
	}
	syncNS(m, ev...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: dn, RequestLease: true})
		chunk.LeaseID, chunk.ReportID = r.LeaseID, uint64(i+1)
		if err := m.FullReport(chunk); err != nil {
			b.Fatal(err)
		}
		m.ReleaseLease(r.LeaseID)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
}

// TestLocationsFollowTheAskedStamp: while the mirror still has a block's
// old stamp (or does not know the block yet), a look-up with the
// namespace's newer stamp gets the replicas reported under it.
func TestLocationsFollowTheAskedStamp(t *testing.T) {
	m, _ := newTestManager(nil)
	a, b := register(t, m, 1), register(t, m, 2)
	syncNS(m, dnproto.BlockEvent{ID: 1, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 2})
	for _, n := range []string{a, b} {
		if err := m.Incremental(&dnproto.IncrementalReport{DatanodeUUID: n, Blocks: []dnproto.ReceivedDeleted{
			{Block: dnproto.BlockRef{ID: 1, GenStamp: 1002, NumBytes: 30}, Status: dnproto.Received, StorageID: "DS-" + n},
			{Block: dnproto.BlockRef{ID: 2, GenStamp: 1003, NumBytes: 5}, Status: dnproto.Received, StorageID: "DS-" + n},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Locations([]int64{1, 2}, nil, ""); len(got[0].Locations) != 0 || len(got[1].Locations) != 0 {
		t.Fatalf("without stamps: %+v", got)
	}
	got := m.Locations([]int64{1, 2}, []int64{1002, 1003}, "")
	for i, want := range []int64{30, 5} {
		if len(got[i].Locations) != 2 || got[i].Lengths[0] != want {
			t.Fatalf("block %d with the namespace's stamp: %+v", got[i].ID, got[i])
		}
	}
	// An older stamp than the mirror's changes nothing.
	if got := m.Locations([]int64{1}, []int64{1000}, ""); len(got[0].Locations) != 0 {
		t.Fatalf("with an older stamp: %+v", got)
	}
}

// TestCorruptReplicasStayCorruptAcrossAResync: a namespace resync (the
// metadata service restarted: a new epoch) keeps the replicas reported
// corrupt out of the block's locations.
func TestCorruptReplicasStayCorruptAcrossAResync(t *testing.T) {
	m, _ := newTestManager(nil)
	a, b := register(t, m, 1), register(t, m, 2)
	blk := dnproto.BlockEvent{ID: 1, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 2}
	syncNS(m, blk)
	report(t, m, a, 1, 1)
	report(t, m, b, 1, 1)
	if err := m.BadBlocks(&dnproto.BadBlocks{DatanodeUUID: a, BlockPoolID: "BP-1", StorageID: "DS-" + a, Blocks: []dnproto.BlockRef{{ID: 1, GenStamp: 1001, NumBytes: 10}}}); err != nil {
		t.Fatal(err)
	}
	if holders(m, 1) != 1 {
		t.Fatalf("%d locations after a bad-block report, want 1", holders(m, 1))
	}
	// An event for the block (its file's replication changed, say).
	if !m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, Seq: 11, PrevSeq: 10, Events: []dnproto.BlockEvent{blk}}) {
		t.Fatal("event not applied")
	}
	if holders(m, 1) != 1 {
		t.Fatalf("%d locations after an event for the block, want the corrupt replica left out", holders(m, 1))
	}
	r := m.BeginResync(2, 1)
	r.Add([]dnproto.BlockEvent{blk})
	r.Commit()
	if holders(m, 1) != 1 {
		t.Fatalf("%d locations after a resync, want the corrupt replica left out", holders(m, 1))
	}
	// The reconcile pass after a resync checks every replica again.
	m.ApplyEvents(&dnproto.BlockEvents{Epoch: 2, Seq: 1, PrevSeq: 1, SafeMode: false})
	m.Reconcile()
	if holders(m, 1) != 1 {
		t.Fatalf("%d locations after the reconcile pass, want the corrupt replica left out", holders(m, 1))
	}
	// A new stamp (the block rewritten) starts with no corrupt replica.
	r = m.BeginResync(3, 1)
	blk.GenStamp = 1002
	r.Add([]dnproto.BlockEvent{blk})
	r.Commit()
	if got := m.Locations([]int64{1}, nil, ""); got[0].Corrupt {
		t.Fatalf("a new stamp kept the old stamp's corrupt mark: %+v", got[0])
	}
}

// TestReregistrationKeepsReplicas (seed 000): a live node registering again
// keeps its replicas in the block map — no block becomes under-replicated
// — and the full report that follows reconciles them.
func TestReregistrationKeepsReplicas(t *testing.T) {
	m, _ := newTestManager(nil)
	dn := register(t, m, 1)
	syncNS(m, dnproto.BlockEvent{ID: 1, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 1},
		dnproto.BlockEvent{ID: 2, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 1})
	report(t, m, dn, 1, 1, 2)
	register(t, m, 1)
	if holders(m, 1) != 1 || holders(m, 2) != 1 {
		t.Fatal("re-registration dropped the node's replicas")
	}
	if c := m.Cluster(); c.UnderReplicated != 0 {
		t.Fatalf("%d blocks under-replicated after a re-registration", c.UnderReplicated)
	}
	report(t, m, dn, 2, 2)
	if holders(m, 1) != 0 || holders(m, 2) != 1 {
		t.Fatal("the full report after the re-registration did not reconcile the replicas")
	}
}

// TestIncludeList (dfs.hosts): with an include list only the hosts it
// names register; a registered node it no longer names is refused.
func TestIncludeList(t *testing.T) {
	m, _ := newTestManager(nil)
	m.SetIncluded(map[string]bool{"10.0.0.1": true, "host2": true})
	register(t, m, 1)
	register(t, m, 2) // by host name
	err := m.Register(dnproto.Registration{DatanodeUUID: "dn-3", ClusterID: "CID-1", BlockPoolID: "BP-1", HostName: "host3",
		IPAddr: "10.0.0.3", HTTPPort: 9864, SoftwareVersion: dnproto.SoftwareVersion}, ni)
	if !errs.Is(err, errs.DisallowedDatanode) || !strings.Contains(err.Error(), "Datanode denied communication with namenode because the host is not in the include-list") {
		t.Fatalf("a host not included: %v", err)
	}
	if err := m.CheckAllowed("dn-1"); err != nil {
		t.Fatal(err)
	}
	m.SetIncluded(map[string]bool{"host2": true}) // refreshNodes
	if err := m.CheckAllowed("dn-1"); !errs.Is(err, errs.DisallowedDatanode) {
		t.Fatalf("a registered node no longer included: %v", err)
	}
	m.SetIncluded(nil)
	if err := m.CheckAllowed("dn-1"); err != nil {
		t.Fatalf("without an include list: %v", err)
	}
}

// TestFullReportLeaseExpiryAndPriority: a report under an expired lease
// (dfs.namenode.full.block.report.lease.length.ms) is refused with HDFS's
// message; while nodes that never reported wait for a lease, one that has
// reported before does not take the slot freed for them.
func TestFullReportLeaseExpiryAndPriority(t *testing.T) {
	m, clk := newTestManager(nil)
	m.cfg.MaxFBRLeases = 1
	a, b, c := register(t, m, 1), register(t, m, 2), register(t, m, 3)
	la := m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: a, RequestLease: true}).LeaseID
	if la == 0 {
		t.Fatal("no lease for a")
	}
	clk.t = clk.t.Add(m.cfg.FBRLeaseLength + time.Second)
	err := m.FullReport(&dnproto.ReportChunk{DatanodeUUID: a, StorageID: "DS-" + a, LeaseID: la, Count: 1, Last: true})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("BR lease 0x%x is not valid for DN %s, because the lease has expired.", la, a)) {
		t.Fatalf("a report under an expired lease: %v", err)
	}
	// a reports (under a new lease); b, which never reported, is refused
	// while c holds the only lease, and comes before a when it is free.
	report(t, m, a, 1)
	if lc := m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: c, RequestLease: true}).LeaseID; lc == 0 {
		t.Fatal("no lease for c")
	} else {
		if m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: b, RequestLease: true}).LeaseID != 0 {
			t.Fatal("b got a second lease")
		}
		m.ReleaseLease(lc)
	}
	if m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: a, RequestLease: true}).LeaseID != 0 {
		t.Fatal("a, which has reported, took the lease b (never reported) waits for")
	}
	if m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: b, RequestLease: true}).LeaseID == 0 {
		t.Fatal("b, never reported, got no lease")
	}
}

// TestReceivingReplica: RECEIVING_BLOCK makes a replica being written known
// (RBW); a RECEIVING that arrives after the replica was finalized is
// ignored.
func TestReceivingReplica(t *testing.T) {
	m, _ := newTestManager(nil)
	dn := register(t, m, 1)
	syncNS(m, dnproto.BlockEvent{ID: 1, GenStamp: 1001, NumBytes: 0, Replication: 1})
	ibr := func(status string, n int64) {
		if err := m.Incremental(&dnproto.IncrementalReport{DatanodeUUID: dn, BlockPoolID: "BP-1",
			Blocks: []dnproto.ReceivedDeleted{{Block: dnproto.BlockRef{ID: 1, GenStamp: 1001, NumBytes: n}, Status: status, StorageID: "DS-" + dn}}}); err != nil {
			t.Fatal(err)
		}
	}
	ibr(dnproto.Receiving, 0)
	m.mu.Lock()
	r, ok := m.nodes[dn].replicas[1]
	m.mu.Unlock()
	if !ok || r.state != dnproto.StateRBW {
		t.Fatalf("a RECEIVING replica is not known as being written: %+v %v", r, ok)
	}
	ibr(dnproto.Received, 10)
	ibr(dnproto.Receiving, 0) // late
	m.mu.Lock()
	r = m.nodes[dn].replicas[1]
	m.mu.Unlock()
	if r.state != dnproto.StateFinalized || r.numBytes != 10 {
		t.Fatalf("a late RECEIVING changed the finalized replica: %+v", r)
	}
}

// TestLifelineKeepsANodeAlive (seed 000): with heartbeats held back and
// lifelines flowing, a node goes stale but never dead; once the lifelines
// stop too it dies after the dead interval.
func TestLifelineKeepsANodeAlive(t *testing.T) {
	m, clk := newTestManager(nil)
	dn := register(t, m, 1)
	dead := m.cfg.DeadInterval()
	for elapsed := time.Duration(0); elapsed < 3*dead; elapsed += 10 * time.Second {
		clk.t = clk.t.Add(10 * time.Second)
		if err := m.Lifeline(dnproto.Lifeline{DatanodeUUID: dn, BlockPoolID: "BP-1"}); err != nil {
			t.Fatal(err)
		}
		if died := m.CheckLiveness(); len(died) != 0 {
			t.Fatalf("a node sending lifelines died after %v without heartbeats", elapsed)
		}
	}
	if c := m.Cluster(); c.Stale != 1 {
		t.Fatalf("a node without heartbeats is not stale: %+v", c)
	}
	clk.t = clk.t.Add(dead + time.Second)
	if died := m.CheckLiveness(); len(died) != 1 {
		t.Fatal("a node with neither heartbeats nor lifelines did not die")
	}
	if err := m.Lifeline(dnproto.Lifeline{DatanodeUUID: dn}); !errs.Is(err, errs.Unregistered) {
		t.Fatalf("a dead node's lifeline: %v", err)
	}
}

// TestBlocksScheduled (seed 000): each write placed on a node counts until
// its RECEIVED report (or two roll intervals), and placement leaves out a
// node whose remaining space the scheduled writes already take.
func TestBlocksScheduled(t *testing.T) {
	m, clk := newTestManager(nil)
	syncNS(m)
	small := "dn-small"
	if err := m.Register(dnproto.Registration{DatanodeUUID: small, ClusterID: "CID-1", BlockPoolID: "BP-1", HostName: "small",
		IPAddr: "10.0.0.9", HTTPPort: 9864, SoftwareVersion: dnproto.SoftwareVersion, Storages: []dnproto.StorageInfo{{StorageID: "DS-s"}}}, ni); err != nil {
		t.Fatal(err)
	}
	const bs = 64 << 20
	m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: small, Storages: []dnproto.StorageReport{{StorageID: "DS-s", Capacity: 3 * bs, Remaining: 2 * bs}}})
	choose := func() []dnproto.DatanodeInfo {
		return m.ChooseTargets(dnproto.Placement{Replication: 1, BlockSize: bs})
	}
	if got := choose(); len(got) != 1 || got[0].UUID != small {
		t.Fatalf("first write: %+v", got)
	}
	// Room for 2 blocks, one scheduled: one more fits, then none.
	if got := choose(); len(got) != 1 {
		t.Fatalf("second write: %+v", got)
	}
	if got := choose(); len(got) != 0 {
		t.Fatalf("a node whose space the scheduled writes take was chosen: %+v", got)
	}
	// A RECEIVED report takes one back.
	if err := m.Incremental(&dnproto.IncrementalReport{DatanodeUUID: small, BlockPoolID: "BP-1",
		Blocks: []dnproto.ReceivedDeleted{{Block: dnproto.BlockRef{ID: 77, GenStamp: 1001, NumBytes: 1}, Status: dnproto.Received, StorageID: "DS-s"}}}); err != nil {
		t.Fatal(err)
	}
	if got := choose(); len(got) != 1 {
		t.Fatalf("after a RECEIVED: %+v", got)
	}
	// Writes that never report stop counting after two roll intervals.
	clk.t = clk.t.Add(2 * blocksScheduledRoll)
	m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: small, Storages: []dnproto.StorageReport{{StorageID: "DS-s", Capacity: 3 * bs, Remaining: 2 * bs}}})
	if got := choose(); len(got) != 1 {
		t.Fatalf("after two roll intervals: %+v", got)
	}
}

// TestReplicationQueuesInSafeMode: in safe mode the redundancy figures are
// computed once the reported blocks reach dfs.namenode.replqueue.threshold-pct,
// but nothing is scheduled until safe mode ends (HDFS's
// initializeReplQueues and computeDatanodeWork).
func TestReplicationQueuesInSafeMode(t *testing.T) {
	m, _ := newTestManager(nil)
	m.cfg.ReplQueueThreshold = 0.5
	a, b := register(t, m, 1), register(t, m, 2)
	syncNS(m, dnproto.BlockEvent{ID: 1, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 2},
		dnproto.BlockEvent{ID: 2, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 2},
		dnproto.BlockEvent{ID: 3, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 2})
	m.SetNamespaceSafeMode(true)
	report(t, m, a, 1, 1)
	if st := m.CheckRedundancy(); st.UnderReplicated != 0 {
		t.Fatalf("1 of 3 blocks reported (under the 0.5 threshold): queues initialised %+v", st)
	}
	report(t, m, a, 2, 1, 2)
	st := m.CheckRedundancy()
	if st.UnderReplicated != 2 || st.Missing != 1 || st.Scheduled != 0 {
		t.Fatalf("2 of 3 reported, in safe mode: %+v, want 2 under-replicated, 1 missing, nothing scheduled", st)
	}
	m.SetNamespaceSafeMode(false)
	if st := m.CheckRedundancy(); st.Scheduled != 2 {
		t.Fatalf("out of safe mode: %+v, want 2 transfers to %s", st, b)
	}
}
