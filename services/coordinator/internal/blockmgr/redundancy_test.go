package blockmgr

import (
	"testing"

	"github.com/granary-fs/granary/internal/dnproto"
)

func TestRedundancyMonitorSchedulesAndTrims(t *testing.T) {
	m, _ := newTestManager(nil)
	a, b, c := register(t, m, 1), register(t, m, 2), register(t, m, 3)
	blocks := []dnproto.BlockEvent{}
	for i := int64(1); i <= 4; i++ {
		blocks = append(blocks, dnproto.BlockEvent{ID: i, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 3})
	}
	syncNS(m, blocks...)
	m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, Seq: 10, PrevSeq: 10})
	report(t, m, a, 1, 1, 2, 3, 4)
	report(t, m, b, 1, 1, 2, 3, 4)
	report(t, m, c, 1, 1, 2, 3, 4)
	// Down to 1: two excess replicas per block are invalidated.
	m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, Seq: 11, PrevSeq: 10, Events: setRepl(blocks, 1)})
	if st := m.CheckRedundancy(); st.Excess != 8 {
		t.Fatalf("excess %d, want 8", st.Excess)
	}
	for i := int64(1); i <= 4; i++ {
		if holders(m, i) != 1 {
			t.Fatalf("block %d has %d holders after trimming", i, holders(m, i))
		}
	}
	// Back up to 3: transfers are scheduled, at most 2 per source.
	m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, Seq: 12, PrevSeq: 11, Events: setRepl(blocks, 3)})
	total := 0
	for round := 0; round < 10 && total < 8; round++ {
		st := m.CheckRedundancy()
		total += st.Scheduled
		// Deliver the transfers: every target reports the new replica.
		for _, n := range []string{a, b, c} {
			r := m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: n})
			for _, cmd := range r.Commands {
				if cmd.Action != dnproto.ActionTransfer {
					continue
				}
				for i, blk := range cmd.Blocks {
					for _, addr := range cmd.Targets[i] {
						target := nodeByAddr(m, addr)
						if err := m.Incremental(&dnproto.IncrementalReport{DatanodeUUID: target, Blocks: []dnproto.ReceivedDeleted{
							{Block: blk, Status: dnproto.Received, StorageID: "DS-" + target},
						}}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		}
	}
	for i := int64(1); i <= 4; i++ {
		if holders(m, i) != 3 {
			t.Fatalf("block %d has %d holders, want 3 (transfers scheduled: %d)", i, holders(m, i), total)
		}
	}
}

func setRepl(blocks []dnproto.BlockEvent, r uint16) []dnproto.BlockEvent {
	out := append([]dnproto.BlockEvent(nil), blocks...)
	for i := range out {
		out[i].Replication = r
	}
	return out
}

func nodeByAddr(m *Manager, addr string) string {
	for id, n := range m.nodes {
		if n.reg.IPAddr+":9864" == addr {
			return id
		}
	}
	return ""
}

func TestWrongLengthReplicaIsCorrupt(t *testing.T) {
	m, _ := newTestManager(nil)
	a, b, c := register(t, m, 1), register(t, m, 2), register(t, m, 3)
	syncNS(m, dnproto.BlockEvent{ID: 1, GenStamp: 1001, NumBytes: 10, Complete: true, Replication: 2})
	m.ApplyEvents(&dnproto.BlockEvents{Epoch: 1, Seq: 10, PrevSeq: 10})
	report(t, m, a, 1, 1) // 10 bytes, as the namespace says
	report(t, m, b, 1, 1)
	// c holds the block finalized under the same stamp but 20 bytes long
	// (a longer replica left by a lease recovery at the shortest length).
	if err := m.Incremental(&dnproto.IncrementalReport{DatanodeUUID: c, Blocks: []dnproto.ReceivedDeleted{
		{Block: dnproto.BlockRef{ID: 1, GenStamp: 1001, NumBytes: 20}, Status: dnproto.Received, StorageID: "DS-" + c},
	}}); err != nil {
		t.Fatal(err)
	}
	m.Reconcile()
	if holders(m, 1) != 2 {
		t.Fatalf("%d holders: the wrong-length replica is offered", holders(m, 1))
	}
	if st := m.CheckRedundancy(); st.Corrupt != 1 {
		t.Fatalf("corrupt blocks %d, want 1", st.Corrupt)
	}
	// Enough good replicas: the wrong one is deleted from c.
	r := m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: c})
	deleted := false
	for _, cmd := range r.Commands {
		if cmd.Action == dnproto.ActionInvalidate {
			for _, blk := range cmd.Blocks {
				deleted = deleted || (blk.ID == 1 && blk.NumBytes == 20)
			}
		}
	}
	if !deleted {
		t.Fatalf("the wrong-length replica was not invalidated: %+v", r.Commands)
	}
}
