package datanode

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/gather"
	"github.com/granary-fs/granary/internal/lifecycle"
)

// actor is HDFS's BPServiceActor: a block pool's service to one
// coordinator — connect → handshake → verify/initialise storage → register
// → offerService (heartbeats, incremental and full block reports,
// commands). Every step retries with backoff while NATS or the coordinator
// cannot be reached; reads keep being served meanwhile.
type actor struct {
	dn    *Service
	nc    *nats.Conn
	bp    *bpService
	ns    string // the nameservice served
	coord string // the coordinator's HA ID ("" without coordinator HA)

	mu            sync.Mutex
	state         string // connecting, handshake, registering, running, refused
	lastHeartbeat time.Time
	lastReport    time.Time

	ibrMu   sync.Mutex
	ibr     []dnproto.ReceivedDeleted
	ibrKick chan struct{}
	// fbrMu orders the RECEIVED reports sent at once with the full
	// reports: a full report is taken and sent holding it, a RECEIVED is
	// sent holding it shared, so that a report taken before a replica was
	// finalized never reaches the coordinator after that replica's
	// RECEIVED (it would remove the replica again until the next full
	// report). HDFS gets the same order from sending both on one thread.
	fbrMu sync.RWMutex

	// The RECEIVED reports sent at once: while one is on its way, those
	// of other writers gather and go together in the next, as HDFS's
	// IncrementalBlockReportManager sends every pending entry in one
	// blockReceivedAndDeleted call.
	received gather.Gatherer[dnproto.ReceivedDeleted, struct{}]

	fbrNow chan struct{} // an administrator asked for a full report
}

func newActor(dn *Service, nc *nats.Conn, bp *bpService, coord string) *actor {
	return &actor{dn: dn, nc: nc, bp: bp, ns: bp.ns, coord: coord, state: "connecting", ibrKick: make(chan struct{}, 1),
		fbrNow: make(chan struct{}, 1)}
}

// String names the actor as HDFS's log lines do.
func (a *actor) String() string { return a.name(a.blockPool()) }

// name is String for block pool bpid (for callers holding the pool's lock).
func (a *actor) name(bpid string) string {
	name := "coordinator " + a.ns
	if a.coord != "" {
		name += "/" + a.coord
	}
	return fmt.Sprintf("Block pool %s service to %s", bpid, name)
}

func (a *actor) blockPool() string { return a.bp.blockPool() }

func (a *actor) setState(s string) {
	a.mu.Lock()
	a.state = s
	a.mu.Unlock()
}

// queueIBR adds replica changes to the next incremental report. A newer
// entry of a block replaces a pending one (HDFS keeps one pending entry
// per block: a RECEIVED supersedes its RECEIVING). A RECEIVED entry wakes
// the sender at once; RECEIVING and DELETED ones go with the next send —
// one woken by a RECEIVED, or the one that follows every heartbeat — as
// HDFS's IncrementalBlockReportManager batches them (BPServiceActor's
// offerService: sendImmediately() || sendHeartbeat).
func (a *actor) queueIBR(items ...dnproto.ReceivedDeleted) {
	urgent := false
	a.ibrMu.Lock()
	for _, it := range items {
		a.ibr = slices.DeleteFunc(a.ibr, func(p dnproto.ReceivedDeleted) bool { return p.Block.ID == it.Block.ID })
		a.ibr = append(a.ibr, it)
		urgent = urgent || it.Status == dnproto.Received
	}
	a.ibrMu.Unlock()
	if urgent {
		select {
		case a.ibrKick <- struct{}{}:
		default:
		}
	}
}

func (a *actor) run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := a.connectAndServe(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			// HDFS: the actor exits, and a datanode with no block pool
			// service left shuts down.
			a.setState("refused")
			a.bp.mu.Lock()
			a.bp.fatal = fatal.err
			a.bp.mu.Unlock()
			return fmt.Errorf("this datanode cannot join the cluster: %w", fatal.err)
		}
		a.dn.log.Info("block pool service: retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	return nil
}

// fatalError ends the actor: retrying cannot help.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return f.err.Error() }

func (a *actor) call(ctx context.Context, subj string, req, resp any) error {
	cctx, cancel := context.WithTimeout(ctx, a.dn.cfg.RPCTimeout)
	defer cancel()
	return dnproto.Call(cctx, a.nc, a.subj(subj), req, resp)
}

func (a *actor) connectAndServe(ctx context.Context) error {
	a.setState("handshake")
	var ni dnproto.NamespaceInfo
	if err := a.call(ctx, dnproto.SubjHandshake, struct{}{}, &ni); err != nil {
		return err
	}
	if err := a.bp.initBlockPool(ni); err != nil {
		return err
	}
	a.dn.beginPasses(ni.BlockPoolID)
	if err := a.register(ctx); err != nil {
		return err
	}
	return a.offerService(ctx)
}

func (a *actor) register(ctx context.Context) error {
	a.setState("registering")
	a.bp.mu.Lock()
	reg := a.dn.registration(a.bp.bpid, a.bp.clusterID)
	a.bp.mu.Unlock()
	var reply dnproto.RegisterReply
	if err := a.call(ctx, dnproto.SubjRegister, reg, &reply); err != nil {
		if errs.Is(err, errs.IncorrectVersion) || errs.Is(err, errs.DisallowedDatanode) {
			return &fatalError{err}
		}
		return err
	}
	if reply.Keys != nil {
		a.dn.blockKeys.Update(*reply.Keys)
	}
	a.setState("running")
	a.dn.log.Info("registered with the coordinator", "datanode", reg.DatanodeUUID, "block_pool", reg.BlockPoolID, "coordinator", a.coord)
	a.rereportBad()
	return nil
}

// rereportBad sends again the bad-block reports of the replicas still held
// as they were when found corrupt.
func (a *actor) rereportBad() {
	bp, bpid := a.bp, a.blockPool()
	bp.badMu.Lock()
	var again []badReplica
	for id, b := range bp.bad {
		if r, ok := a.dn.store.Get(bpid, id); ok && r.GenStamp == b.ref.GenStamp {
			again = append(again, b)
		} else {
			delete(bp.bad, id)
		}
	}
	bp.badMu.Unlock()
	for _, b := range again {
		a.sendBad(b.ref, b.storageID)
	}
}

// offerService is the heartbeat loop (BPServiceActor.offerService).
func (a *actor) offerService(ctx context.Context) error {
	cfg := a.dn.cfg
	// A full report follows every registration, after a random delay of
	// up to blockreport.initialDelay.
	nextFBR := time.Now()
	if cfg.BlockReportInitialDelay > 0 {
		nextFBR = nextFBR.Add(time.Duration(rand.Int63n(int64(cfg.BlockReportInitialDelay))))
	}
	lctx, stopLifeline := context.WithCancel(ctx)
	defer stopLifeline()
	go a.lifelineSender(lctx)
	hb := time.NewTimer(0)
	defer hb.Stop()
	// A failed incremental report is sent again soon, not at the next
	// heartbeat: retry fires after a short back-off.
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	retryWait := 100 * time.Millisecond
	flushIBR := func() {
		if err := a.sendIBR(ctx); err != nil {
			a.dn.log.Warn("incremental block report failed; re-queued", "err", err, "retry_in", retryWait)
			retry.Reset(retryWait)
			retryWait = min(2*retryWait, cfg.HeartbeatInterval)
			return
		}
		retryWait = 100 * time.Millisecond
	}
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.ibrKick:
			flushIBR()
			continue
		case <-retry.C:
			flushIBR()
			continue
		case <-a.fbrNow:
			nextFBR = time.Now()
		case <-hb.C:
		}
		hb.Reset(cfg.HeartbeatInterval)
		wantFBR := !time.Now().Before(nextFBR)
		reply, err := a.heartbeat(ctx, wantFBR)
		if err != nil {
			if errs.Is(err, errs.DisallowedDatanode) {
				// Left out of the include list: this block pool service ends,
				// as HDFS's does.
				return &fatalError{err}
			}
			failures++
			if errs.Is(err, errs.Unregistered) || failures >= 10 {
				return err
			}
			a.dn.log.Warn("heartbeat failed", "err", err)
			continue
		}
		failures = 0
		a.bp.updateActorStatesFromHeartbeat(a, reply)
		if err := a.execute(ctx, reply.Commands); err != nil {
			return err
		}
		// Pending incremental reports go with every heartbeat, and before
		// a full report, so that it does not come before changes that
		// preceded it (HDFS's offerService: sendIBRs, then blockReport).
		flushIBR()
		if reply.LeaseID != 0 && wantFBR {
			cmds, err := a.sendFullReport(ctx, reply.LeaseID)
			if err != nil {
				a.dn.log.Warn("full block report failed", "err", err)
				continue
			}
			nextFBR = time.Now().Add(cfg.BlockReportInterval)
			// The commands of the report's reply are executed too.
			if err := a.execute(ctx, cmds); err != nil {
				return err
			}
		}
	}
}

// lifelineSender is seed 000's LifelineSender: every lifeline interval,
// if no heartbeat succeeded for that long (a coordinator too busy to
// answer them, or a heartbeat stuck waiting), it sends a lifeline, which
// the coordinator answers apart from heartbeats.
func (a *actor) lifelineSender(ctx context.Context) {
	interval := a.dn.cfg.LifelineInterval
	lifecycle.Every(ctx, interval, func() {
		a.mu.Lock()
		late := time.Since(a.lastHeartbeat) > interval
		a.mu.Unlock()
		if !late {
			return
		}
		st := a.dn.store
		l := dnproto.Lifeline{DatanodeUUID: st.DatanodeUUID(), BlockPoolID: a.blockPool(), FailedVolumes: st.FailedVolumes(),
			XceiverCount: int(a.dn.xceivers.Load()), XmitsInProgress: int(a.dn.xmits.Load()), Storages: a.storageReports()}
		cctx, cancel := context.WithTimeout(ctx, interval)
		err := dnproto.Call(cctx, a.nc, a.subj(dnproto.SubjLifeline), l, nil)
		cancel()
		if err != nil {
			a.dn.log.Warn("lifeline failed", "err", err)
		} else {
			a.dn.metrics.lifelines.Inc()
		}
	})
}

// storageReports are the volumes' figures for this actor's block pool,
// as heartbeats and lifelines carry them.
func (a *actor) storageReports() []dnproto.StorageReport {
	var out []dnproto.StorageReport
	for _, v := range a.dn.store.Reports(a.blockPool()) {
		out = append(out, dnproto.StorageReport{StorageID: v.StorageID, Failed: v.Failed, Capacity: v.Capacity,
			DfsUsed: v.DfsUsed, Remaining: v.Remaining, BlockPoolUsed: v.BPUsed})
	}
	return out
}

func (a *actor) heartbeat(ctx context.Context, wantLease bool) (*dnproto.HeartbeatReply, error) {
	st := a.dn.store
	hb := dnproto.Heartbeat{
		DatanodeUUID: st.DatanodeUUID(), BlockPoolID: a.blockPool(), FailedVolumes: st.FailedVolumes(),
		XceiverCount: int(a.dn.xceivers.Load()), XmitsInProgress: int(a.dn.xmits.Load()), RequestLease: wantLease,
		KeysGeneration: a.dn.blockKeys.Generation(),
		SlowDisks:      []string{}, SlowPeers: []string{}, Storages: a.storageReports(),
	}
	var reply dnproto.HeartbeatReply
	if err := a.call(ctx, dnproto.SubjHeartbeat, hb, &reply); err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.lastHeartbeat = time.Now()
	a.mu.Unlock()
	return &reply, nil
}

// execute runs the commands of a heartbeat reply: all of them from the
// active coordinator's actor; from a standby's only REGISTER and KEYUPDATE,
// as HDFS's processCommandFromStandby (the others are logged and ignored:
// a stale INVALIDATE deletes nothing).
func (a *actor) execute(ctx context.Context, cmds []dnproto.Command) error {
	active := a.bp.fromActive(a)
	bpid := a.blockPool()
	for _, c := range cmds {
		if !active && c.Action != dnproto.ActionReregister && c.Action != dnproto.ActionKeyUpdate {
			a.dn.log.Warn("Got a command from standby NN - ignoring command:"+c.Action, "actor", a.String())
			a.dn.metrics.standbyCommandsIgnored.Inc()
			continue
		}
		switch c.Action {
		case dnproto.ActionInvalidate:
			var deleted []dnproto.ReceivedDeleted
			for _, b := range c.Blocks {
				if r, ok := a.dn.store.Get(bpid, b.ID); ok && a.dn.store.Delete(bpid, b.ID, b.GenStamp) {
					deleted = append(deleted, dnproto.ReceivedDeleted{Block: b, Status: dnproto.Deleted, StorageID: r.Volume.StorageID})
				}
			}
			a.dn.log.Info("invalidated replicas", "count", len(deleted))
			if len(deleted) > 0 {
				a.bp.queueIBR(deleted...)
			}
		case dnproto.ActionReregister:
			a.dn.log.Info("the coordinator asked this datanode to re-register")
			if err := a.register(ctx); err != nil {
				return err
			}
			a.triggerFBR()
		case dnproto.ActionTransfer:
			for i, b := range c.Blocks {
				if i >= len(c.Targets) {
					break
				}
				token := ""
				if i < len(c.Tokens) {
					token = c.Tokens[i]
				}
				go func() {
					if err := a.dn.transfer(ctx, bpid, b, c.Targets[i], token); err != nil {
						a.dn.log.Warn("block transfer failed", "block", b.ID, "targets", c.Targets[i], "err", err)
					} else {
						a.dn.log.Info("block transferred", "block", b.ID, "targets", c.Targets[i])
					}
				}()
			}
		case dnproto.ActionFinalize:
			done, err := a.dn.store.FinalizeUpgrade(bpid)
			for _, d := range done {
				a.dn.log.Info("Finalizing upgrade for storage directory " + d)
			}
			if err != nil {
				a.dn.log.Warn("finalizing the upgrade failed", "block_pool", bpid, "err", err)
			}
		case dnproto.ActionKeyUpdate:
			if c.Keys != nil {
				a.dn.blockKeys.Update(*c.Keys)
				a.dn.log.Info("block keys updated", "keys", c.Keys.String())
			}
		case dnproto.ActionShutdown:
			a.dn.log.Warn("the coordinator asked this datanode to shut down")
			a.dn.shutdown()
		default:
			a.dn.log.Warn("unsupported command", "action", c.Action)
		}
	}
	return nil
}

// sendIBR sends the queued incremental report; on failure the entries go
// back to the front of the queue.
func (a *actor) sendIBR(ctx context.Context) error {
	a.ibrMu.Lock()
	items := a.ibr
	a.ibr = nil
	a.ibrMu.Unlock()
	if len(items) == 0 {
		return nil
	}
	err := a.call(ctx, dnproto.SubjIncrementalReport, dnproto.IncrementalReport{
		DatanodeUUID: a.dn.store.DatanodeUUID(), BlockPoolID: a.blockPool(), Blocks: items,
	}, nil)
	if err != nil {
		// Back to the front, unless a newer entry of the block came in.
		a.ibrMu.Lock()
		var back []dnproto.ReceivedDeleted
		for _, it := range items {
			if !slices.ContainsFunc(a.ibr, func(p dnproto.ReceivedDeleted) bool { return p.Block.ID == it.Block.ID }) {
				back = append(back, it)
			}
		}
		a.ibr = append(back, a.ibr...)
		a.ibrMu.Unlock()
		return err
	}
	a.dn.metrics.ibrSent.Add(float64(len(items)))
	return nil
}

// sendFullReport sends every storage's replicas under the lease, one
// message per storage, or several when a storage holds more than
// split.threshold replicas or a message would pass NATS's payload limit,
// and returns the commands the replies carried.
func (a *actor) sendFullReport(ctx context.Context, lease uint64) ([]dnproto.Command, error) {
	a.fbrMu.Lock()
	defer a.fbrMu.Unlock()
	start := time.Now()
	bpid := a.blockPool()
	byStorage := a.dn.store.Replicas(bpid)
	var cmds []dnproto.Command
	reportID := uint64(time.Now().UnixNano())
	chunkSize := min(a.dn.cfg.SplitThreshold, dnproto.MaxReplicasPerChunk)
	storages := make([]string, 0, len(byStorage))
	for id := range byStorage {
		storages = append(storages, id)
	}
	total := 0
	for si, sid := range storages {
		reps := byStorage[sid]
		n := max(1, (len(reps)+chunkSize-1)/chunkSize)
		for i := 0; i < n; i++ {
			part := reps[i*chunkSize : min(len(reps), (i+1)*chunkSize)]
			c := &dnproto.ReportChunk{
				DatanodeUUID: a.dn.store.DatanodeUUID(), BlockPoolID: bpid, StorageID: sid,
				LeaseID: lease, ReportID: reportID, Index: i, Count: n, Last: si == len(storages)-1 && i == n-1,
			}
			c.Replicas = make([]dnproto.Replica, len(part))
			for k, r := range part {
				c.Replicas[k] = dnproto.Replica{ID: r.ID, GenStamp: r.GenStamp, NumBytes: r.NumBytes, State: r.State}
			}
			cctx, cancel := context.WithTimeout(ctx, a.dn.cfg.RPCTimeout)
			var reply dnproto.BlockReportReply
			err := dnproto.CallRaw(cctx, a.nc, a.subj(dnproto.SubjBlockReport), dnproto.EncodeChunk(c), &reply)
			cancel()
			if err != nil {
				return nil, err
			}
			cmds = append(cmds, reply.Commands...)
			total += len(part)
		}
	}
	a.mu.Lock()
	a.lastReport = time.Now()
	a.mu.Unlock()
	a.dn.log.Info("sent full block report", "replicas", total, "storages", len(storages), "took", time.Since(start))
	return cmds, nil
}

// triggerFBR asks for a full block report with the next heartbeat.
func (a *actor) triggerFBR() {
	select {
	case a.fbrNow <- struct{}{}:
	default:
	}
}

// subj is a NATS subject of this datanode to the actor's coordinator.
func (a *actor) subj(t string) string {
	return dnproto.ToCoordinator(dnproto.In(a.ns, dnproto.ForIdentity(t, a.dn.cfg.NATSIdentity)), a.coord)
}
