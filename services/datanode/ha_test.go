package datanode

import (
	"context"
	"encoding/json"
	"github.com/granary-fs/granary/internal/poll"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/dnproto"
)

// haCoordinator is one coordinator of an HA pair, as the datanode sees it:
// its HA status and the commands it sends with every heartbeat reply are
// set by the test.
type haCoordinator struct {
	id string

	mu         sync.Mutex
	state      string
	epoch      int64
	txid       int64
	cmds       []dnproto.Command
	heartbeats int
	registers  int
	ibrBlocks  map[int64]bool
	hold       func() // called before each heartbeat is answered, if set
}

func (c *haCoordinator) set(state string, epoch, txid int64, cmds ...dnproto.Command) {
	c.mu.Lock()
	c.state, c.epoch, c.txid, c.cmds = state, epoch, txid, cmds
	c.mu.Unlock()
}

func (c *haCoordinator) count() (heartbeats, registers int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heartbeats, c.registers
}

func (c *haCoordinator) serve(t *testing.T, nc *nats.Conn) {
	t.Helper()
	serveCoordinator(t, nc, c.id, map[string]dnproto.Handler{
		dnproto.SubjRegister: func(ctx context.Context, data []byte) (any, error) {
			c.mu.Lock()
			c.registers++
			c.mu.Unlock()
			return registered(ctx, data)
		},
		dnproto.SubjHeartbeat: func(context.Context, []byte) (any, error) {
			c.mu.Lock()
			hold := c.hold
			c.mu.Unlock()
			if hold != nil {
				hold()
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			c.heartbeats++
			return dnproto.HeartbeatReply{HAState: c.state, Epoch: c.epoch, TxID: c.txid, Commands: c.cmds}, nil
		},
		dnproto.SubjIncrementalReport: func(_ context.Context, data []byte) (any, error) {
			var r dnproto.IncrementalReport
			if err := json.Unmarshal(data, &r); err != nil {
				return nil, err
			}
			c.mu.Lock()
			for _, b := range r.Blocks {
				c.ibrBlocks[b.Block.ID] = true
			}
			c.mu.Unlock()
			return dnproto.Ack{}, nil
		},
	})
}

// TestSeed004ActiveClaims: a datanode of an HA pair of coordinators runs
// one actor per coordinator and applies seed 004's rule to the HA status
// of each heartbeat reply (HDFS's updateActorStatesFromHeartbeat): a
// standby's commands are ignored except REGISTER; after a failover, the
// old active that keeps claiming with its older claim has its commands
// ignored (a stale INVALIDATE deletes nothing); an active relinquishing is
// dropped; the active's commands are executed; replica changes reach both.
func TestSeed004ActiveClaims(t *testing.T) {
	natsURL, nc := embeddedNATS(t)
	c1 := &haCoordinator{id: "c1", ibrBlocks: map[int64]bool{}}
	c2 := &haCoordinator{id: "c2", ibrBlocks: map[int64]bool{}}
	c1.set("active", 1, 10)
	c2.set("standby", 0, 0)
	c1.serve(t, nc)
	c2.serve(t, nc)

	dn := runDatanode(t, Config{NATSURL: natsURL, Coordinators: map[string][]string{dnproto.DefaultNameservice: {"c1", "c2"}}, HeartbeatInterval: 20 * time.Millisecond})
	bp := dn.poolList()[0]
	activeIs := func(id string) func() bool {
		return func() bool {
			bp.mu.Lock()
			defer bp.mu.Unlock()
			return (bp.active == nil && id == "") || (bp.active != nil && bp.active.coord == id)
		}
	}
	waitFor(t, "c1 to be followed as active", activeIs("c1"))
	const x, y = 1<<30 + 1, 1<<30 + 2
	for _, id := range []int64{x, y} {
		if err := dn.PutReplica(id, 1001, []byte("replica")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both coordinators to hear of the replicas", func() bool {
		c1.mu.Lock()
		defer c1.mu.Unlock()
		c2.mu.Lock()
		defer c2.mu.Unlock()
		return c1.ibrBlocks[x] && c1.ibrBlocks[y] && c2.ibrBlocks[x] && c2.ibrBlocks[y]
	})
	has := func(id int64) bool { _, ok := dn.store.Get(bp.blockPool(), id); return ok }
	invalidate := func(id int64) dnproto.Command {
		return dnproto.Command{Action: dnproto.ActionInvalidate, Blocks: []dnproto.BlockRef{{ID: id, GenStamp: 1001}}}
	}
	// afterHeartbeats waits until c has answered n more heartbeats.
	afterHeartbeats := func(c *haCoordinator, n int) {
		h0, _ := c.count()
		waitFor(t, c.id+" heartbeats", func() bool { h, _ := c.count(); return h >= h0+n })
	}

	// A standby's INVALIDATE is ignored.
	c2.set("standby", 0, 0, invalidate(x))
	afterHeartbeats(c2, 5)
	if !has(x) {
		t.Fatal("a standby coordinator's INVALIDATE deleted a replica")
	}

	// Failover: c2 claims ACTIVE with a newer claim; c1, the old active,
	// keeps claiming with its older one and sends a stale INVALIDATE.
	c2.set("active", 2, 5)
	waitFor(t, "c2 to take over", activeIs("c2"))
	c1.set("active", 1, 10, invalidate(x))
	afterHeartbeats(c1, 5)
	if !has(x) {
		t.Fatal("the old active's stale INVALIDATE deleted a replica")
	}
	if !activeIs("c2")() {
		t.Fatal("the old active's stale claim took the active role back")
	}

	// The active's commands are executed.
	c2.set("active", 2, 5, invalidate(y))
	waitFor(t, "the active's INVALIDATE to delete y", func() bool { return !has(y) })
	c2.set("active", 2, 5)

	// The active relinquishes: it is dropped; as a standby its REGISTER
	// is still executed.
	c1.set("standby", 1, 10)
	_, regs := c2.count()
	c2.set("standby", 2, 5, dnproto.Command{Action: dnproto.ActionReregister})
	waitFor(t, "c2 to be dropped as active", activeIs(""))
	waitFor(t, "the standby's REGISTER to be executed", func() bool { _, r := c2.count(); return r > regs })
	if !has(x) {
		t.Fatal("x was deleted")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, 10*time.Second, what, cond)
}

// TestLifelineWhenHeartbeatsStall (seed 000's LifelineSender): while the
// coordinator does not answer heartbeats, the datanode sends lifelines on
// their own subject; once heartbeats flow again it stops.
func TestLifelineWhenHeartbeatsStall(t *testing.T) {
	natsURL, nc := embeddedNATS(t)
	c := &haCoordinator{ibrBlocks: map[int64]bool{}}
	c.set("active", 0, 0)
	c.serve(t, nc)
	var mu sync.Mutex
	stall, lifelines := false, 0
	release := make(chan struct{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The heartbeat responder stalls while stall is set (a coordinator too
	// busy for heartbeats); lifelines are counted.
	if _, err := dnproto.Serve(nc, dnproto.In(dnproto.DefaultNameservice, dnproto.AnyIdentity(dnproto.SubjLifeline)), log,
		func(context.Context, []byte) (any, error) {
			mu.Lock()
			lifelines++
			mu.Unlock()
			return dnproto.Ack{}, nil
		}); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.hold = func() {
		mu.Lock()
		s := stall
		mu.Unlock()
		if s {
			<-release
		}
	}
	c.mu.Unlock()
	runDatanode(t, Config{NATSURL: natsURL, HeartbeatInterval: 20 * time.Millisecond, LifelineInterval: 250 * time.Millisecond, RPCTimeout: 5 * time.Second, Logger: log})
	count := func() int { mu.Lock(); defer mu.Unlock(); return lifelines }
	if n := count(); n != 0 {
		t.Fatalf("%d lifelines while heartbeats flow", n)
	}
	mu.Lock()
	stall = true
	mu.Unlock()
	waitFor(t, "3 lifelines while heartbeats stall", func() bool { return count() >= 3 })
	mu.Lock()
	stall = false
	mu.Unlock()
	close(release)
	h0, _ := c.count()
	waitFor(t, "heartbeats again", func() bool { h, _ := c.count(); return h >= h0+3 })
	n := count()
	hb, _ := c.count()
	waitFor(t, "10 more heartbeats", func() bool { h, _ := c.count(); return h >= hb+10 })
	if got := count(); got > n+1 {
		t.Fatalf("lifelines went on while heartbeats flowed: %d then %d", n, got)
	}
}
