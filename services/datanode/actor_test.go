package datanode

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/natstest"
	"github.com/granary-fs/granary/internal/poll"
)

// serveCoordinator answers the datanode protocol on a real (embedded)
// NATS server as coordinator id ("" for one without HA), so that the
// datanode's side can be tested alone: the handshake, registration and
// full reports as a coordinator answers them, unless handlers has its own,
// and handlers for the rest.
func serveCoordinator(t *testing.T, nc *nats.Conn, id string, handlers map[string]dnproto.Handler) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ni := dnproto.NamespaceInfo{ClusterID: "CID-test", NamespaceID: 7, BlockPoolID: "BP-1-127.0.0.1-1"}
	defaults := map[string]dnproto.Handler{
		dnproto.SubjHandshake:   func(context.Context, []byte) (any, error) { return ni, nil },
		dnproto.SubjRegister:    registered,
		dnproto.SubjBlockReport: func(context.Context, []byte) (any, error) { return dnproto.BlockReportReply{}, nil },
	}
	for subj, h := range defaults {
		if handlers[subj] == nil {
			handlers[subj] = h
		}
	}
	for subj, h := range handlers {
		full := dnproto.In(dnproto.DefaultNameservice, dnproto.AnyIdentity(subj))
		if id != "" {
			full = dnproto.ToCoordinator(full, id)
		}
		if _, err := dnproto.Serve(nc, full, log, h); err != nil {
			t.Fatal(err)
		}
	}
}

// registered answers a registration with the datanode's own UUID.
func registered(_ context.Context, data []byte) (any, error) {
	var r dnproto.Registration
	_ = json.Unmarshal(data, &r)
	return dnproto.RegisterReply{DatanodeUUID: r.DatanodeUUID}, nil
}

// fakeCoordinator counts heartbeats and keeps the incremental reports,
// refusing the first failIBRs.
type fakeCoordinator struct {
	mu        sync.Mutex
	failIBRs  int // how many incremental reports to refuse
	ibrs      []dnproto.IncrementalReport
	heartbeat int
}

func (f *fakeCoordinator) serve(t *testing.T, nc *nats.Conn) {
	t.Helper()
	serveCoordinator(t, nc, "", map[string]dnproto.Handler{
		dnproto.SubjHeartbeat: func(context.Context, []byte) (any, error) {
			f.mu.Lock()
			f.heartbeat++
			f.mu.Unlock()
			return dnproto.HeartbeatReply{HAState: "active", LeaseID: 1}, nil
		},
		dnproto.SubjIncrementalReport: func(_ context.Context, data []byte) (any, error) {
			var r dnproto.IncrementalReport
			if err := json.Unmarshal(data, &r); err != nil {
				return nil, err
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			f.ibrs = append(f.ibrs, r)
			if f.failIBRs > 0 {
				f.failIBRs--
				return nil, errs.E(errs.Retriable, "coordinator busy")
			}
			return dnproto.Ack{}, nil
		},
	})
}

func TestLostIncrementalReportIsResent(t *testing.T) {
	natsURL, nc := embeddedNATS(t)
	fake := &fakeCoordinator{failIBRs: 2}
	fake.serve(t, nc)

	dir, err := os.MkdirTemp("", "granary-dn-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dn, err := New(Config{DataDirs: []string{dir}, NATSURL: natsURL, HTTPAddr: "127.0.0.1:0",
		HeartbeatInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dn.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-dn.Started()
	deadline := time.Now().Add(10 * time.Second)
	for dn.Info().Registration != "running" {
		if time.Now().After(deadline) {
			t.Fatal("the datanode did not register")
		}
		time.Sleep(10 * time.Millisecond)
	}
	const id = 1<<30 + 1
	if err := dn.PutReplica(id, 1001, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	// The first two sends are refused; the entry must come back until one
	// is accepted.
	for {
		fake.mu.Lock()
		n := len(fake.ibrs)
		fake.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d incremental reports were sent", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for i, r := range fake.ibrs[:3] {
		if len(r.Blocks) != 1 || r.Blocks[0].Block.ID != id || r.Blocks[0].Status != dnproto.Received || r.Blocks[0].Block.NumBytes != 5 {
			t.Fatalf("report %d: %+v", i, r)
		}
	}
	if len(fake.ibrs) != 3 {
		t.Fatalf("%d reports sent; the accepted one was sent again", len(fake.ibrs))
	}
}

// orderCoordinator records the order of the datanode's messages and grants
// a full-report lease only when told to.
type orderCoordinator struct {
	mu       sync.Mutex
	lease    bool
	failIBRs bool
	log      []string
	fbrCmds  []dnproto.Command
}

func (f *orderCoordinator) serve(t *testing.T, nc *nats.Conn) {
	t.Helper()
	serveCoordinator(t, nc, "", map[string]dnproto.Handler{
		dnproto.SubjHeartbeat: func(context.Context, []byte) (any, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.lease {
				f.failIBRs = false
				return dnproto.HeartbeatReply{HAState: "active", LeaseID: 1}, nil
			}
			return dnproto.HeartbeatReply{HAState: "active"}, nil
		},
		dnproto.SubjBlockReport: func(context.Context, []byte) (any, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.log = append(f.log, "fbr")
			return dnproto.BlockReportReply{Commands: f.fbrCmds}, nil
		},
		dnproto.SubjIncrementalReport: func(context.Context, []byte) (any, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.failIBRs {
				f.log = append(f.log, "ibr-refused")
				return nil, errs.E(errs.Retriable, "coordinator busy")
			}
			f.log = append(f.log, "ibr")
			return dnproto.Ack{}, nil
		},
	})
}

// TestReportOrderAndFullReportCommands (seed 004): incremental reports
// pending when a full report is due go first; a refused incremental
// report is sent again at once (within a second here, with heartbeats an
// hour apart), not at the next heartbeat; the commands of a full report's
// reply are executed.
func TestReportOrderAndFullReportCommands(t *testing.T) {
	natsURL, nc := embeddedNATS(t)
	const a, b = 1<<30 + 1, 1<<30 + 2
	f := &orderCoordinator{failIBRs: true, fbrCmds: []dnproto.Command{{Action: dnproto.ActionInvalidate, Blocks: []dnproto.BlockRef{{ID: b, GenStamp: 1001}}}}}
	f.serve(t, nc)
	start := func(hb time.Duration) (*Service, func()) {
		dn, err := New(Config{DataDirs: []string{t.TempDir()}, NATSURL: natsURL, HTTPAddr: "127.0.0.1:0",
			HeartbeatInterval: hb, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- dn.Run(ctx) }()
		<-dn.Started()
		waitFor(t, "registration", func() bool { return dn.Info().Registration == "running" })
		return dn, func() { cancel(); <-done }
	}
	logged := func(what string) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := 0
		for _, l := range f.log {
			if l == what {
				n++
			}
		}
		return n
	}

	// Heartbeats an hour apart: a refused incremental report comes back
	// by itself, soon.
	dn, stop := start(time.Hour)
	if err := dn.PutReplica(a, 1001, []byte("a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refused report to be sent again twice", func() bool { return logged("ibr-refused") >= 3 })
	stop()

	// Heartbeats every 50 ms: the report refused until the heartbeat
	// that grants the lease is sent before the full report.
	f.mu.Lock()
	f.log, f.failIBRs = nil, true
	f.mu.Unlock()
	dn, stop = start(50 * time.Millisecond)
	defer stop()
	if err := dn.PutReplica(b, 1001, []byte("b")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the report to be refused", func() bool { return logged("ibr-refused") >= 1 })
	f.mu.Lock()
	f.lease = true
	f.mu.Unlock()
	waitFor(t, "a full report", func() bool { return logged("fbr") >= 1 })
	f.mu.Lock()
	order := append([]string(nil), f.log...)
	f.mu.Unlock()
	first := map[string]int{}
	for i, l := range order {
		if _, ok := first[l]; !ok {
			first[l] = i
		}
	}
	if i, ok := first["ibr"]; !ok || i > first["fbr"] {
		t.Fatalf("the pending incremental report was not sent before the full report: %v", order)
	}
	// The full report's reply said INVALIDATE b.
	waitFor(t, "the full report's INVALIDATE to be executed", func() bool {
		_, ok := dn.store.Get(dn.poolList()[0].blockPool(), b)
		return !ok
	})
}

// TestIncrementalReportBatching (seed 004): RECEIVING and DELETED entries
// wait for the next send — a RECEIVED wakes it, and one follows every
// heartbeat (Hadoop 3's offerService) — a RECEIVED supersedes its block's
// pending RECEIVING, and all go in one report.
func TestIncrementalReportBatching(t *testing.T) {
	natsURL, nc := embeddedNATS(t)
	fake := &fakeCoordinator{}
	fake.serve(t, nc)
	// Heartbeats an hour apart: after the first, only a RECEIVED can send.
	dn := runDatanode(t, Config{NATSURL: natsURL, HeartbeatInterval: time.Hour})
	waitFor(t, "the first full report", func() bool { return dn.Info().LastBlockReport != nil })
	const a, b = 1<<30 + 1, 1<<30 + 2
	bp := dn.poolList()[0]
	bp.queueIBR(dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: a, GenStamp: 1001}, Status: dnproto.Receiving, StorageID: "DS-1"},
		dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: b, GenStamp: 1001}, Status: dnproto.Deleted, StorageID: "DS-1"})
	if err := dn.PutReplica(a, 1001, []byte("a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "an incremental report", func() bool { fake.mu.Lock(); defer fake.mu.Unlock(); return len(fake.ibrs) > 0 })
	fake.mu.Lock()
	got := map[string]bool{}
	for _, r := range fake.ibrs {
		for _, e := range r.Blocks {
			got[fmt.Sprintf("%d %s", e.Block.ID, e.Status)] = true
		}
	}
	want := map[string]bool{fmt.Sprintf("%d RECEIVED", a): true, fmt.Sprintf("%d DELETED", b): true}
	if len(fake.ibrs) != 1 || !maps.Equal(got, want) {
		t.Fatalf("reports %+v, want one with %v", fake.ibrs, want)
	}
	fake.mu.Unlock()

	// A deletion alone goes with the next heartbeat, not after HDFS 2's
	// delete report interval of 100 heartbeats (5 s here).
	natsURL2, nc2 := embeddedNATS(t)
	fast := &fakeCoordinator{}
	fast.serve(t, nc2)
	dn2 := runDatanode(t, Config{NATSURL: natsURL2, HeartbeatInterval: 50 * time.Millisecond})
	waitFor(t, "the first full report", func() bool { return dn2.Info().LastBlockReport != nil })
	dn2.poolList()[0].queueIBR(dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: b, GenStamp: 1001}, Status: dnproto.Deleted, StorageID: "DS-1"})
	poll.Until(t, 2*time.Second, "the deletion to be reported", func() bool {
		fast.mu.Lock()
		defer fast.mu.Unlock()
		return len(fast.ibrs) == 1 && fast.ibrs[0].Blocks[0].Block.ID == b
	})
}

// embeddedNATS starts a real NATS server in the test process and returns
// its URL and a connection to it, both closed when t ends.
func embeddedNATS(t *testing.T) (string, *nats.Conn) {
	t.Helper()
	url := natstest.Start(t)
	return url, natstest.Connect(t, url)
}

// runDatanode starts a datanode with cfg (a data directory of its own, any
// HTTP port, no logs unless cfg has a logger) and waits until it is
// registered; it stops when t ends.
func runDatanode(t *testing.T, cfg Config) *Service {
	t.Helper()
	cfg.DataDirs = []string{t.TempDir()}
	cfg.HTTPAddr = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dn, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dn.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-dn.Started()
	waitFor(t, "registration", func() bool { return dn.Info().Registration == "running" })
	return dn
}

// TestReceivedFollowsAFullReportInFlight: a RECEIVED that would be sent at
// once while a full report is on its way is sent after it, so that the
// report, taken before the replica was finalized, cannot remove the
// replica at the coordinator after its RECEIVED was counted.
func TestReceivedFollowsAFullReportInFlight(t *testing.T) {
	natsURL, nc := embeddedNATS(t)
	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	holding, release := make(chan struct{}), make(chan struct{})
	reports := 0
	serveCoordinator(t, nc, "", map[string]dnproto.Handler{
		dnproto.SubjHeartbeat: func(context.Context, []byte) (any, error) {
			return dnproto.HeartbeatReply{HAState: "active", LeaseID: 1}, nil
		},
		dnproto.SubjBlockReport: func(context.Context, []byte) (any, error) {
			mu.Lock()
			reports++
			second := reports == 2
			mu.Unlock()
			if second {
				close(holding)
				<-release
			}
			record("full report")
			return dnproto.BlockReportReply{}, nil
		},
		dnproto.SubjIncrementalReport: func(_ context.Context, data []byte) (any, error) {
			var r dnproto.IncrementalReport
			_ = json.Unmarshal(data, &r)
			for _, e := range r.Blocks {
				record(fmt.Sprintf("%s %d", e.Status, e.Block.ID))
			}
			return dnproto.Ack{}, nil
		},
	})
	dn := runDatanode(t, Config{NATSURL: natsURL, HeartbeatInterval: 50 * time.Millisecond})
	waitFor(t, "the first full report", func() bool { return dn.Info().LastBlockReport != nil })
	bp := dn.poolList()[0]
	bp.actors[0].triggerFBR()
	<-holding
	const id = 1<<30 + 7
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		bp.reportReceived(context.Background(), dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: id, GenStamp: 1001, NumBytes: 1}, Status: dnproto.Received, StorageID: "DS-1"})
	}()
	<-sent // not held back: the entry waits in the queue
	close(release)
	want := fmt.Sprintf("RECEIVED %d", id)
	waitFor(t, "the RECEIVED", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(events, want)
	})
	mu.Lock()
	defer mu.Unlock()
	if i := slices.Index(events, want); i == 0 || events[i-1] != "full report" || strings.Count(strings.Join(events[:i], ","), "full report") != 2 {
		t.Fatalf("events %v: the RECEIVED must follow the second full report", events)
	}
}

// TestReceivedReportsGather: the RECEIVED entries of writers that finish
// while a report is on its way go together in the next one, and each
// writer is answered only when the report holding its entry is. Refused
// (both reports are, here), the entries are queued and sent again.
func TestReceivedReportsGather(t *testing.T) {
	natsURL, nc := embeddedNATS(t)
	var mu sync.Mutex
	var reports [][]int64
	accepted := map[int64]bool{}
	holding, release := make(chan struct{}), make(chan struct{})
	serveCoordinator(t, nc, "", map[string]dnproto.Handler{
		dnproto.SubjHeartbeat: func(context.Context, []byte) (any, error) {
			return dnproto.HeartbeatReply{HAState: "active", LeaseID: 1}, nil
		},
		dnproto.SubjIncrementalReport: func(_ context.Context, data []byte) (any, error) {
			var r dnproto.IncrementalReport
			if err := json.Unmarshal(data, &r); err != nil {
				return nil, err
			}
			var ids []int64
			for _, e := range r.Blocks {
				ids = append(ids, e.Block.ID)
			}
			mu.Lock()
			reports = append(reports, ids)
			n := len(reports)
			mu.Unlock()
			if n == 1 {
				close(holding)
				<-release
			}
			if n <= 2 {
				return nil, errs.E(errs.Retriable, "coordinator busy")
			}
			mu.Lock()
			for _, id := range ids {
				accepted[id] = true
			}
			mu.Unlock()
			return dnproto.Ack{}, nil
		},
	})
	dn := runDatanode(t, Config{NATSURL: natsURL, HeartbeatInterval: time.Hour})
	waitFor(t, "the first full report", func() bool { return dn.Info().LastBlockReport != nil })
	a := dn.poolList()[0].actors[0]
	const base = 1 << 30
	var answered sync.WaitGroup
	var early atomic.Int32 // writers answered before the first report was
	report := func(id int64) {
		answered.Add(1)
		go func() {
			defer answered.Done()
			a.reportReceived(context.Background(), dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: id, GenStamp: 1001, NumBytes: 1}, Status: dnproto.Received, StorageID: "DS-1"})
			select {
			case <-release:
			default:
				early.Add(1)
			}
		}()
	}
	report(base)
	<-holding
	for i := int64(1); i <= 5; i++ {
		report(base + i)
	}
	waitFor(t, "five entries waiting", func() bool {
		return a.received.Waiting() == 5
	})
	close(release)
	answered.Wait()
	if n := early.Load(); n != 0 {
		t.Fatalf("%d writers answered before their report was", n)
	}
	waitFor(t, "the six entries accepted", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(accepted) == 6
	})
	mu.Lock()
	defer mu.Unlock()
	// The first report's entry, queued when it was refused, may go again
	// before the five that waited: they go together all the same.
	together := slices.ContainsFunc(reports, func(ids []int64) bool { return len(ids) == 5 && !slices.Contains(ids, base) })
	if len(reports[0]) != 1 || !together {
		t.Fatalf("reports %v: want one of the first entry, and one of the five that waited", reports)
	}
	for id := int64(base); id <= base+5; id++ {
		if !accepted[id] {
			t.Fatalf("block %d was never reported again (accepted %v)", id, accepted)
		}
	}
}
