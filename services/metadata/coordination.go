package metadata

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/gather"
	"github.com/granary-fs/granary/internal/lifecycle"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// coordination is the metadata service's side of the NATS contract with
// the coordinator: it publishes block changes after they commit, answers
// inventory and namespace-info requests, and polls the coordinator's
// safe-mode counts.
type coordination struct {
	s     *Service
	nc    *nats.Conn
	epoch int64

	mu        sync.Mutex
	queue     []pendingChanges
	kick      chan struct{}
	published atomic.Int64 // Seq of the last publication

	snapMu    sync.Mutex
	snapshots map[uint64]*snapshot
	snapID    uint64

	counts atomic.Pointer[dnproto.SafeModeCounts]

	// locs keeps the coordinator's location answers for readers.
	locs *locationCache

	// placements gathers the placement requests of concurrent writers:
	// their creates come in bursts (a committed edit-log batch answers
	// many at once, and they ask for their next blocks together), so most
	// would be on their way beside others, each a request and a reply.
	placements gather.Gatherer[dnproto.Placement, []dnproto.DatanodeInfo]

	// The active coordinator (coordinator HA): who holds the role, when it
	// last asked, and its claim's txid.
	claimMu   sync.Mutex
	claimant  string
	claimSeen time.Time
	claimTxID int64
}

type pendingChanges struct {
	seq     int64
	changes []namespace.BlockChange
}

type snapshot struct {
	seq     int64
	blocks  []namespace.BlockChange
	expires time.Time
}

// maxEventsPerMessage keeps publications well under NATS's payload limit.
const maxEventsPerMessage = 4096

// maxPlacementBatch bounds the placements of one request to the
// coordinator; beyond it a writer asks alone.
const maxPlacementBatch = 64

func newCoordination(s *Service, nc *nats.Conn, epoch, lastTxID int64) *coordination {
	c := &coordination{s: s, nc: nc, epoch: epoch, kick: make(chan struct{}, 1), snapshots: map[uint64]*snapshot{},
		placements: gather.Gatherer[dnproto.Placement, []dnproto.DatanodeInfo]{Max: maxPlacementBatch},
		locs:       newLocationCache(s.cfg.LocationCacheSize, s.cfg.LocationCacheTTL)}
	c.published.Store(lastTxID)
	watchLostAnnouncements(nc, []string{s.subj(dnproto.SubjLocationsChanged), s.subj(dnproto.SubjLocationsReceived)}, c.locs, s.log)
	return c
}

// watchLostAnnouncements makes nc drop everything locs keeps whenever
// announcements on subjs may have been lost: while the connection was down
// (a disconnection, a reconnection), or dropped by their subscription
// falling behind (a slow consumer). Every asynchronous error is logged.
func watchLostAnnouncements(nc *nats.Conn, subjs []string, locs *locationCache, log *slog.Logger) {
	nc.SetDisconnectErrHandler(func(*nats.Conn, error) { locs.drop() })
	nc.SetReconnectHandler(func(*nats.Conn) { locs.drop() })
	nc.SetErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		if sub != nil && slices.Contains(subjs, sub.Subject) {
			locs.drop()
		}
		log.Warn("NATS", "err", err)
	})
}

// followReceived keeps the locations the coordinator sends on subj of
// blocks being written (LocationsReceived) as it keeps a look-up's answer;
// one that does not decode is ignored (the look-up it spares is made).
func followReceived(nc *nats.Conn, subj string, locs *locationCache, log *slog.Logger) (*nats.Subscription, error) {
	return nc.Subscribe(subj, func(m *nats.Msg) {
		var r dnproto.LocationsReceived
		if err := dnproto.Unmarshal(m.Data, &r); err != nil {
			log.Warn("received locations do not decode", "err", err)
			return
		}
		locs.put(r.Request, r.Reply)
	})
}

// followAnnouncements applies the coordinator's announcements on subj to
// locs; one that does not decode drops everything.
func followAnnouncements(nc *nats.Conn, subj string, locs *locationCache, log *slog.Logger) (*nats.Subscription, error) {
	return nc.Subscribe(subj, func(m *nats.Msg) {
		var a dnproto.LocationsChanged
		if err := dnproto.Unmarshal(m.Data, &a); err != nil {
			log.Warn("a location announcement does not decode; dropping the kept locations", "err", err)
			locs.drop()
			return
		}
		locs.announced(a)
	})
}

// committed is the edit log's OnCommit hook: it only queues.
func (c *coordination) committed(lastTxID int64, changes []namespace.BlockChange) {
	if len(changes) == 0 {
		return
	}
	c.mu.Lock()
	c.queue = append(c.queue, pendingChanges{seq: lastTxID, changes: changes})
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// run publishes queued changes in commit order, and an empty publication
// every second so that the coordinator sees the epoch, the sequence and the
// safe-mode state even when nothing changes.
func (c *coordination) run(ctx context.Context) error {
	subs := []struct {
		subj string
		h    dnproto.Handler
	}{
		{c.s.subj(dnproto.SubjNamespaceInfo), func(context.Context, []byte) (any, error) { return c.s.namespaceInfo(), nil }},
		{c.s.subj(dnproto.SubjNamespaceInventory), dnproto.JSON(c.inventory)},
		{c.s.subj(dnproto.SubjBlockKeys), c.s.exportBlockKeys},
		{c.s.subj(dnproto.SubjCoordinatorClaim), dnproto.JSON(c.coordinatorClaim)},
	}
	for _, sub := range subs {
		s, err := dnproto.Serve(c.nc, sub.subj, c.s.log, sub.h)
		if err != nil {
			return err
		}
		defer s.Unsubscribe()
	}
	ann, err := followAnnouncements(c.nc, c.s.subj(dnproto.SubjLocationsChanged), c.locs, c.s.log)
	if err != nil {
		return err
	}
	defer ann.Unsubscribe()
	received, err := followReceived(c.nc, c.s.subj(dnproto.SubjLocationsReceived), c.locs, c.s.log)
	if err != nil {
		return err
	}
	defer received.Unsubscribe()
	go c.countsLoop(ctx)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			c.publishQueued()
			return nil
		case <-c.kick:
			c.publishQueued()
		case <-tick.C:
			if !c.publishQueued() {
				c.publish(nil, c.published.Load())
			}
		}
	}
}

// publishQueued publishes everything queued; it reports whether it
// published anything.
func (c *coordination) publishQueued() bool {
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	for _, p := range q {
		for len(p.changes) > 0 {
			k := min(len(p.changes), maxEventsPerMessage)
			c.publish(p.changes[:k], p.seq)
			p.changes = p.changes[k:]
		}
	}
	return len(q) > 0
}

func (c *coordination) publish(changes []namespace.BlockChange, seq int64) {
	ev := dnproto.BlockEvents{
		SafeMode: c.s.safe.On(), Epoch: c.epoch, Seq: seq, PrevSeq: c.published.Load(),
		Events: toEvents(changes),
	}
	if err := dnproto.Publish(c.nc, c.s.subj(dnproto.SubjNamespaceEvents), ev); err != nil {
		// The coordinator will notice the gap and resynchronise.
		c.s.log.Warn("publishing block changes failed", "seq", seq, "err", err)
	}
	c.published.Store(seq)
}

func toEvents(changes []namespace.BlockChange) []dnproto.BlockEvent {
	out := make([]dnproto.BlockEvent, len(changes))
	for i, ch := range changes {
		out[i] = dnproto.BlockEvent{
			ID: ch.ID, GenStamp: ch.GenStamp, NumBytes: ch.NumBytes, Replication: ch.Replication,
			Complete: ch.Complete, Removed: ch.Removed, InodeID: ch.InodeID,
		}
	}
	return out
}

// inventory answers one page of a block snapshot. A new snapshot records
// the last published Seq first, so it reflects at least everything
// published up to it.
func (c *coordination) inventory(ctx context.Context, req *dnproto.InventoryRequest) (any, error) {
	ns := c.s.ns.Load()
	if ns == nil {
		return nil, errs.E(errs.Retriable, "NameNode still not started")
	}
	limit := req.Limit
	if limit <= 0 || limit > maxEventsPerMessage {
		limit = maxEventsPerMessage
	}
	c.snapMu.Lock()
	defer c.snapMu.Unlock()
	now := time.Now()
	for id, sn := range c.snapshots {
		if now.After(sn.expires) {
			delete(c.snapshots, id)
		}
	}
	sn := c.snapshots[req.Snapshot]
	if sn == nil {
		if req.Snapshot != 0 {
			return nil, errs.E(errs.Retriable, "inventory snapshot %d expired", req.Snapshot)
		}
		seq := c.published.Load()
		c.snapID++
		sn = &snapshot{seq: seq, blocks: ns.Blocks()}
		c.snapshots[c.snapID] = sn
		req.Snapshot = c.snapID
	}
	sn.expires = now.Add(time.Minute)
	i := sort.Search(len(sn.blocks), func(i int) bool { return sn.blocks[i].ID > req.AfterID })
	end := min(len(sn.blocks), i+limit)
	page := dnproto.InventoryPage{Epoch: c.epoch, Seq: sn.seq, Snapshot: req.Snapshot, Blocks: toEvents(sn.blocks[i:end]), More: end < len(sn.blocks)}
	if !page.More {
		delete(c.snapshots, req.Snapshot)
	}
	return page, nil
}

// countsLoop polls the coordinator's safe-mode counts every second.
func (c *coordination) countsLoop(ctx context.Context) {
	lifecycle.Every(ctx, time.Second, func() {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var counts dnproto.SafeModeCounts
		err := dnproto.Call(cctx, c.nc, c.s.subj(dnproto.SubjSafeModeCounts), struct{}{}, &counts)
		cancel()
		if err != nil {
			return
		}
		c.counts.Store(&counts)
		c.s.safe.Check()
	})
}

// SafeBlocks implements BlockReports.
func (c *coordination) SafeBlocks() int64 {
	if p := c.counts.Load(); p != nil && p.Synced {
		return p.SafeBlocks
	}
	return 0
}

// LiveDatanodes implements BlockReports.
func (c *coordination) LiveDatanodes() int {
	if p := c.counts.Load(); p != nil {
		return p.LiveDatanodes
	}
	return 0
}

func (s *Service) namespaceInfo() dnproto.NamespaceInfo {
	return dnproto.NamespaceInfo{
		ClusterID: s.info.ClusterID, NamespaceID: s.info.NamespaceID, BlockPoolID: s.info.BlockPoolID,
		LayoutVersion: s.info.LayoutVersion, CTime: s.info.CTime, SoftwareVersion: SoftwareVersion,
		HTTPAddresses: s.httpAddrs,
	}
}

// SoftwareVersion is reported in handshakes.
const SoftwareVersion = dnproto.SoftwareVersion

// coordinatorClaim decides which coordinator of the nameservice is active
// (coordinator HA): the active metadata service gives the role to the
// first coordinator that asks and keeps it for that one while it asks
// again within dnproto.CoordinatorLease; after that the next to ask gets
// it. Each grant is a claim (this writer's epoch, a txid) newer than the
// one before: the namespace's txid, or one past the last grant's when no
// edit came in between, so two grants never share a claim — and a new
// active metadata service's epoch is higher than every claim of the
// previous one. Datanodes follow the newest claim (seed 004's rule).
func (c *coordination) coordinatorClaim(_ context.Context, req *dnproto.CoordinatorClaimRequest) (any, error) {
	if req.CoordinatorID == "" {
		return nil, errs.E(errs.IllegalArgument, "coordinatorId is required")
	}
	now := time.Now()
	c.claimMu.Lock()
	defer c.claimMu.Unlock()
	if c.claimant != req.CoordinatorID && (c.claimant == "" || now.Sub(c.claimSeen) > dnproto.CoordinatorLease) {
		if c.claimant != "" {
			c.s.log.Warn("the active coordinator stopped asking for its role; it passes on", "from", c.claimant, "to", req.CoordinatorID)
		}
		c.claimant = req.CoordinatorID
		c.locs.drop() // the new active announces its own changes
		c.claimTxID = max(c.s.namespace().TxID(), c.claimTxID+1)
		c.s.log.Info("coordinator made active", "coordinator", req.CoordinatorID, "epoch", c.epoch, "txid", c.claimTxID)
	}
	active := c.claimant == req.CoordinatorID
	if active {
		c.claimSeen = now
	}
	return dnproto.CoordinatorClaim{Active: active, Holder: c.claimant, Epoch: c.epoch, TxID: c.claimTxID}, nil
}
