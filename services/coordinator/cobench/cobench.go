// Package cobench is `granary bench coordinator`: full block report
// processing and heartbeat handling, in-process and over a real (embedded)
// NATS server, printing the figures.
package cobench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/coordinator/internal/blockmgr"
)

// Main parses args and runs the benchmarks.
func Main(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("granary bench coordinator", flag.ContinueOnError)
	op := fs.String("op", "all", "fbr, heartbeat, heartbeat-nats or all")
	blocks := fs.Int("blocks", 1_000_000, "fbr: replicas in the report")
	nodes := fs.Int("datanodes", 1000, "heartbeat: simulated datanodes")
	clients := fs.Int("clients", 64, "heartbeat-nats: concurrent NATS connections")
	duration := fs.Duration("duration", 5*time.Second, "heartbeat: run time")
	pools := fs.Int("pools", 1, "fbr: block pools the datanode serves (federation), each reported to its own coordinator at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ops := []string{*op}
	if *op == "all" {
		ops = []string{"fbr", "heartbeat", "heartbeat-nats"}
	}
	for _, o := range ops {
		var err error
		switch o {
		case "fbr":
			err = fullReport(out, *blocks, max(1, *pools))
		case "heartbeat":
			err = heartbeatInProcess(out, *nodes, *duration)
		case "heartbeat-nats":
			err = heartbeatNATS(ctx, out, *nodes, *clients, *duration)
		default:
			err = fmt.Errorf("unknown op %q", o)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", o, err)
		}
	}
	return nil
}

var ni = dnproto.NamespaceInfo{ClusterID: "CID-bench", BlockPoolID: "BP-bench"}

func registration(i int) dnproto.Registration {
	id := fmt.Sprintf("dn-%06d", i)
	return dnproto.Registration{
		DatanodeUUID: id, ClusterID: ni.ClusterID, BlockPoolID: ni.BlockPoolID, HostName: id,
		IPAddr: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), HTTPPort: 9864, SoftwareVersion: dnproto.SoftwareVersion,
		Storages: []dnproto.StorageInfo{{StorageID: "DS-" + id, StorageType: "DISK"}},
	}
}

func heartbeat(i int) dnproto.Heartbeat {
	id := fmt.Sprintf("dn-%06d", i)
	return dnproto.Heartbeat{
		DatanodeUUID: id, BlockPoolID: ni.BlockPoolID,
		Storages: []dnproto.StorageReport{{StorageID: "DS-" + id, Capacity: 4 << 40, DfsUsed: 1 << 40, Remaining: 3 << 40, BlockPoolUsed: 1 << 40}},
	}
}

// fullReport times a datanode's first full report of n replicas of blocks
// the namespace knows, in chunks as a datanode sends them: decoding and
// processing, then a second (steady-state) report of the same replicas.
// With pools > 1 the datanode serves that many block pools (federation):
// each pool's coordinator (block manager) takes its own report of n
// replicas — the same block IDs in every pool — all at once.
func fullReport(out io.Writer, n, pools int) error {
	type pool struct {
		m      *blockmgr.Manager
		uuid   string
		chunks [][]byte
	}
	ps := make([]pool, pools)
	for p := range ps {
		pni := ni
		if p > 0 {
			pni.BlockPoolID = fmt.Sprintf("%s-%d", ni.BlockPoolID, p+1)
		}
		m := blockmgr.New(blockmgr.Config{})
		ev := make([]dnproto.BlockEvent, n)
		for i := range ev {
			ev[i] = dnproto.BlockEvent{ID: int64(1<<30 + i), GenStamp: 1001, NumBytes: 64 << 20, Complete: true, Replication: 3}
		}
		r := m.BeginResync(1, 1)
		r.Add(ev)
		r.Commit()
		reg := registration(1)
		reg.BlockPoolID = pni.BlockPoolID
		if err := m.Register(reg, pni); err != nil {
			return err
		}
		per := dnproto.MaxReplicasPerChunk
		count := (n + per - 1) / per
		var chunks [][]byte
		for c := 0; c < count; c++ {
			ch := &dnproto.ReportChunk{DatanodeUUID: reg.DatanodeUUID, BlockPoolID: pni.BlockPoolID, StorageID: "DS-" + reg.DatanodeUUID,
				ReportID: 1, Index: c, Count: count, Last: c == count-1}
			for i := c * per; i < min(n, (c+1)*per); i++ {
				ch.Replicas = append(ch.Replicas, dnproto.Replica{ID: ev[i].ID, GenStamp: 1001, NumBytes: 64 << 20})
			}
			chunks = append(chunks, dnproto.EncodeChunk(ch))
		}
		ps[p] = pool{m: m, uuid: reg.DatanodeUUID, chunks: chunks}
	}
	runtime.GC()
	report := func(p pool, round int) error {
		hb := p.m.Heartbeat(dnproto.Heartbeat{DatanodeUUID: p.uuid, RequestLease: true})
		var buf []dnproto.Replica
		for _, data := range p.chunks {
			c, err := dnproto.DecodeChunk(data, buf)
			if err != nil {
				return err
			}
			c.LeaseID, c.ReportID = hb.LeaseID, uint64(round+1)
			if err := p.m.FullReport(c); err != nil {
				return err
			}
			buf = c.Replicas
		}
		p.m.ReleaseLease(hb.LeaseID)
		return nil
	}
	for round, name := range []string{"first report", "repeat report"} {
		start := time.Now()
		errc := make(chan error, pools)
		for _, p := range ps {
			go func() { errc <- report(p, round) }()
		}
		for range ps {
			if err := <-errc; err != nil {
				return err
			}
		}
		el := time.Since(start)
		what := name
		if pools > 1 {
			what = fmt.Sprintf("%s, %d block pools at once", name, pools)
		}
		fmt.Fprintf(out, "--- fbr (%s) ---\nreplicas: %d in %d chunks, elapsed: %v\nblocks per sec: %.0f\n", what, n*pools, len(ps[0].chunks)*pools, el.Round(time.Millisecond), float64(n*pools)/el.Seconds())
	}
	for _, p := range ps {
		if c := p.m.SafeModeCounts(); c.SafeBlocks != int64(n) {
			return fmt.Errorf("only %d of %d blocks located after the report", c.SafeBlocks, n)
		}
	}
	return nil
}

// heartbeatInProcess calls the heartbeat handler from every core.
func heartbeatInProcess(out io.Writer, nodes int, d time.Duration) error {
	m := blockmgr.New(blockmgr.Config{})
	hbs := make([]dnproto.Heartbeat, nodes)
	for i := range hbs {
		if err := m.Register(registration(i), ni); err != nil {
			return err
		}
		hbs[i] = heartbeat(i)
	}
	var count atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < runtime.GOMAXPROCS(0); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := 0
			for i := g; ; i++ {
				if i%1024 == 0 && time.Now().After(deadline) {
					break
				}
				m.Heartbeat(hbs[i%nodes])
				local++
			}
			count.Add(int64(local))
		}()
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Fprintf(out, "--- heartbeat (in-process handler) ---\ndatanodes: %d, heartbeats: %d, elapsed: %v\nheartbeats per sec: %.0f\n", nodes, count.Load(), el.Round(time.Millisecond), float64(count.Load())/el.Seconds())
	return nil
}

// heartbeatNATS runs a real coordinator behind an embedded NATS server and
// sends heartbeats from many simulated datanodes over clients connections.
func heartbeatNATS(ctx context.Context, out io.Writer, nodes, clients int, d time.Duration) error {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true})
	if err != nil {
		return err
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("NATS did not start")
	}
	// The metadata service's part: answer the namespace identity.
	meta, err := nats.Connect(ns.ClientURL())
	if err != nil {
		return err
	}
	defer meta.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := dnproto.Serve(meta, dnproto.In(dnproto.DefaultNameservice, dnproto.SubjNamespaceInfo), quiet, func(context.Context, []byte) (any, error) { return ni, nil }); err != nil {
		return err
	}
	svc, err := coordinator.New(coordinator.Config{NATSURL: ns.ClientURL(), HTTPAddr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(cctx) }()
	defer func() { cancel(); <-done }()
	<-svc.Started()
	conns := make([]*nats.Conn, clients)
	for i := range conns {
		if conns[i], err = nats.Connect(ns.ClientURL()); err != nil {
			return err
		}
		defer conns[i].Close()
	}
	for i := 0; i < nodes; i++ {
		if err := dnproto.Call(ctx, conns[i%clients], dnproto.In(dnproto.DefaultNameservice, dnproto.ForIdentity(dnproto.SubjRegister, registration(i).DatanodeUUID)), registration(i), nil); err != nil {
			return fmt.Errorf("register: %w", err)
		}
	}
	var count, failed atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	// Several requests in flight per connection, as many datanodes share a
	// NATS client library connection pool in aggregate.
	const perConn = 4
	for c := 0; c < clients*perConn; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc := conns[c%clients]
			var reply dnproto.HeartbeatReply
			for i := c; time.Now().Before(deadline); i += clients * perConn {
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := dnproto.Call(rctx, nc, dnproto.In(dnproto.DefaultNameservice, dnproto.ForIdentity(dnproto.SubjHeartbeat, heartbeat(i%nodes).DatanodeUUID)), heartbeat(i%nodes), &reply)
				cancel()
				if err != nil {
					failed.Add(1)
					continue
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Fprintf(out, "--- heartbeat-nats (request/reply over NATS) ---\ndatanodes: %d, connections: %d, heartbeats: %d, failed: %d, elapsed: %v\nheartbeats per sec: %.0f\n",
		nodes, clients, count.Load(), failed.Load(), el.Round(time.Millisecond), float64(count.Load())/el.Seconds())
	return nil
}
