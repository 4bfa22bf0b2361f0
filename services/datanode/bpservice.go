package datanode

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/services/datanode/internal/storage"
)

// bpService is HDFS's BPOfferService: the block pool of one nameservice,
// served through one actor (BPServiceActor) per coordinator of that
// nameservice — one without coordinator HA, one per -coordinators ID with
// it. Every actor registers, heartbeats and reports to its coordinator, so
// a standby keeps a warm block map; replica changes go to every actor;
// commands are executed only from the actor of the active coordinator,
// chosen by seed 004's rule (updateActorStatesFromHeartbeat).
type bpService struct {
	dn *Service
	ns string
	nc *nats.Conn

	// actors change on refreshNamenodes (HDFS's refreshNNList): read them
	// with actorList. running holds the cancel function of each started
	// actor; ended hears from each that stops.
	actorsMu sync.Mutex
	actors   []*actor
	running  map[*actor]context.CancelFunc
	runCtx   context.Context
	ended    chan actorEnd
	ha       atomic.Bool // coordinator HA: the claims in heartbeat replies decide

	mu        sync.Mutex
	bpid      string
	clusterID string
	fatal     error  // the datanode may not join (another cluster)
	active    *actor // bpServiceToActive
	lastClaim claim  // lastActiveClaim

	initMu sync.Mutex // one actor at a time initialises the pool's storage

	// bad are the replicas this datanode found corrupt (block ID → the
	// replica and its storage), re-reported after every registration so a
	// coordinator that restarted learns them again; an entry goes when the
	// replica is no longer the one held.
	badMu sync.Mutex
	bad   map[int64]badReplica
}

// claim orders the active claims of coordinators: HDFS orders them by the
// NameNode's txid; a coordinator's claim is the metadata writer epoch and
// txid at which it was made active (a takeover writes no edit, so the
// epoch comes first).
type claim struct{ epoch, txid int64 }

func (c claim) newerThan(o claim) bool {
	return c.epoch > o.epoch || (c.epoch == o.epoch && c.txid > o.txid)
}

func (c claim) String() string { return fmt.Sprintf("(epoch=%d, txid=%d)", c.epoch, c.txid) }

type badReplica struct {
	ref       dnproto.BlockRef
	storageID string
}

// actorEnd is an actor that stopped, with its error; removed when
// refreshNamenodes stopped it.
type actorEnd struct {
	a       *actor
	err     error
	removed bool
}

// newBPService is the service of nameservice ns with one actor per
// coordinator ID in coords (none or one empty ID: a coordinator without
// HA).
func newBPService(dn *Service, nc *nats.Conn, ns string, coords []string) *bpService {
	bp := &bpService{dn: dn, ns: ns, nc: nc, bad: map[int64]badReplica{}, running: map[*actor]context.CancelFunc{}, ended: make(chan actorEnd, 16)}
	if len(coords) == 0 {
		coords = []string{""}
	}
	bp.ha.Store(len(coords) > 1 || coords[0] != "")
	for _, c := range coords {
		bp.actors = append(bp.actors, newActor(dn, nc, bp, c))
	}
	return bp
}

// actorList is a copy of the actors.
func (bp *bpService) actorList() []*actor {
	bp.actorsMu.Lock()
	defer bp.actorsMu.Unlock()
	return slices.Clone(bp.actors)
}

// run runs the actors until ctx ends or all of them have ended; the
// error is the last actor's that ended with one (HDFS: the pool's service
// ends when its last actor does). Actors refreshCoordinators adds start
// here too; those it removes end without counting as errors.
func (bp *bpService) run(ctx context.Context) error {
	bp.actorsMu.Lock()
	bp.runCtx = ctx
	for _, a := range bp.actors {
		bp.startLocked(a)
	}
	bp.actorsMu.Unlock()
	var last error
	for e := range bp.ended {
		bp.actorsMu.Lock()
		delete(bp.running, e.a)
		left := len(bp.running)
		if left == 0 {
			bp.runCtx = nil // nothing more starts
		}
		bp.actorsMu.Unlock()
		if e.err != nil && !e.removed {
			last = e.err
		}
		if left == 0 {
			return last
		}
	}
	return last
}

// startLocked starts actor a under the pool's context (actorsMu held;
// nothing when the pool is not running).
func (bp *bpService) startLocked(a *actor) {
	if bp.runCtx == nil {
		return
	}
	pctx := bp.runCtx
	actx, cancel := context.WithCancel(pctx)
	bp.running[a] = cancel
	go func() {
		err := a.run(actx)
		removed := actx.Err() != nil && pctx.Err() == nil
		bp.ended <- actorEnd{a: a, err: err, removed: removed}
	}()
}

// refreshCoordinators is HDFS's BPOfferService.refreshNNList: actors start
// for coordinator IDs new to coords and stop for those no longer in it
// (an active one stopped leaves no active until another claims it).
func (bp *bpService) refreshCoordinators(coords []string) {
	if len(coords) == 0 {
		coords = []string{""}
	}
	bp.actorsMu.Lock()
	defer bp.actorsMu.Unlock()
	var kept []*actor
	for _, a := range bp.actors {
		if slices.Contains(coords, a.coord) {
			kept = append(kept, a)
			continue
		}
		bp.dn.log.Info("refreshNamenodes: stopping the actor of a coordinator no longer listed", "nameservice", bp.ns, "coordinator", a.coord)
		if cancel := bp.running[a]; cancel != nil {
			cancel()
		}
		bp.mu.Lock()
		if bp.active == a {
			bp.active = nil
		}
		bp.mu.Unlock()
	}
	for _, c := range coords {
		if !slices.ContainsFunc(kept, func(a *actor) bool { return a.coord == c }) {
			bp.dn.log.Info("refreshNamenodes: starting an actor for a new coordinator", "nameservice", bp.ns, "coordinator", c)
			a := newActor(bp.dn, bp.nc, bp, c)
			kept = append(kept, a)
			bp.startLocked(a)
		}
	}
	bp.actors = kept
	bp.ha.Store(len(coords) > 1 || coords[0] != "")
}

// initBlockPool sets up the pool's storage for the namespace a
// coordinator described (each actor does after its handshake).
func (bp *bpService) initBlockPool(ni dnproto.NamespaceInfo) error {
	bp.initMu.Lock()
	defer bp.initMu.Unlock()
	if err := bp.dn.store.InitBlockPool(ni.ClusterID, ni.BlockPoolID, ni.NamespaceID, ni.CTime); err != nil {
		if errors.Is(err, storage.ErrWrongCluster) || errors.Is(err, storage.ErrWrongNamespace) {
			// This datanode serves one block pool: with it refused there is
			// nothing left to serve (HDFS's datanode ends when its last
			// block pool service does).
			return &fatalError{err}
		}
		return err
	}
	bp.mu.Lock()
	defer bp.mu.Unlock()
	if bp.bpid != "" && bp.bpid != ni.BlockPoolID {
		// The nameservice was re-formatted: its old pool is retired (its
		// replicas stay on disk, no longer served or reported).
		bp.dn.log.Warn("Blockpool ID mismatch: previously connected to Blockpool ID "+bp.bpid+" but now connected to Blockpool ID "+ni.BlockPoolID,
			"nameservice", bp.ns)
	}
	bp.bpid, bp.clusterID = ni.BlockPoolID, ni.ClusterID
	return nil
}

func (bp *bpService) blockPool() string {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	return bp.bpid
}

// updateActorStatesFromHeartbeat is seed 004's rule, as HDFS's
// BPOfferService applies it to each heartbeat reply's NNHAStatusHeartbeat:
// a coordinator claiming ACTIVE is followed only if its claim is newer
// than the last active claim (an old active that has not heard it was
// replaced keeps claiming with an older one: split brain, ignored); an
// active that reports standby is dropped.
func (bp *bpService) updateActorStatesFromHeartbeat(a *actor, r *dnproto.HeartbeatReply) {
	if !bp.ha.Load() {
		return
	}
	name := a.String()
	bp.mu.Lock()
	defer bp.mu.Unlock()
	c := claim{r.Epoch, r.TxID}
	claimsActive := r.HAState == "active"
	thinksActive := bp.active == a
	switch {
	case claimsActive && !thinksActive:
		bp.dn.log.Info(fmt.Sprintf("Namenode %s trying to claim ACTIVE state with txid=%d", name, r.TxID), "claim", c.String())
		if !c.newerThan(bp.lastClaim) {
			bp.dn.log.Warn(fmt.Sprintf("NN %s tried to claim ACTIVE state at txid=%d but there was already a more recent claim at txid=%d",
				name, r.TxID, bp.lastClaim.txid), "claim", c.String(), "last_claim", bp.lastClaim.String())
			return
		}
		if bp.active == nil {
			bp.dn.log.Info(fmt.Sprintf("Acknowledging ACTIVE Namenode %s", name))
		} else {
			bp.dn.log.Info(fmt.Sprintf("Namenode %s taking over ACTIVE state from %s at higher txid=%d", name, bp.active.name(bp.bpid), r.TxID))
		}
		bp.active = a
	case !claimsActive && thinksActive:
		bp.dn.log.Info(fmt.Sprintf("Namenode %s relinquishing ACTIVE state with txid=%d", name, r.TxID))
		bp.active = nil
	}
	if bp.active == a && c.newerThan(bp.lastClaim) {
		bp.lastClaim = c
	}
}

// fromActive reports whether commands of a's coordinator are executed.
func (bp *bpService) fromActive(a *actor) bool {
	if !bp.ha.Load() {
		return true
	}
	bp.mu.Lock()
	defer bp.mu.Unlock()
	return bp.active == a
}

// queueIBR adds replica changes to every actor's next incremental report.
func (bp *bpService) queueIBR(items ...dnproto.ReceivedDeleted) {
	for _, a := range bp.actorList() {
		a.queueIBR(items...)
	}
}

// reportReceived tells the coordinators of a replica received: the first
// coordinator (the active, when known) at once, the others through their
// incremental-report queue, sent right away too.
func (bp *bpService) reportReceived(ctx context.Context, e dnproto.ReceivedDeleted) {
	actors := bp.actorList()
	bp.mu.Lock()
	first := bp.active
	bp.mu.Unlock()
	if first == nil || !slices.Contains(actors, first) {
		first = actors[0]
	}
	first.reportReceived(ctx, e)
	for _, a := range actors {
		if a != first {
			a.queueIBR(e)
		}
	}
}

// reportBad tells every coordinator about a corrupt replica, in the
// background.
func (bp *bpService) reportBad(b dnproto.BlockRef, storageID string) {
	bp.badMu.Lock()
	bp.bad[b.ID] = badReplica{ref: b, storageID: storageID}
	bp.badMu.Unlock()
	for _, a := range bp.actorList() {
		a.sendBad(b, storageID)
	}
}

// triggerFBR asks every actor for a full block report with its next
// heartbeat.
func (bp *bpService) triggerFBR() {
	for _, a := range bp.actorList() {
		a.triggerFBR()
	}
}
