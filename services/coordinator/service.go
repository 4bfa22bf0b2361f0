// Package coordinator is Granary's block manager service (HDFS's
// BlockManager, DatanodeManager and HeartbeatManager): it answers datanodes'
// handshakes, registrations, heartbeats and block reports over NATS, keeps
// the block map and the datanode registry (soft state, rebuilt after a
// restart from re-registrations, reports and the metadata service's
// inventory), places new blocks, and serves an HTTP admin API.
//
// Shutdown order: stop HTTP → drain NATS → stop the loops.
package coordinator

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/blocktoken"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/lifecycle"
	"github.com/granary-fs/granary/internal/natsconn"
	"github.com/granary-fs/granary/internal/pausemon"
	"github.com/granary-fs/granary/internal/simpleauth"
	"github.com/granary-fs/granary/internal/tlsconf"
	"github.com/granary-fs/granary/services/coordinator/internal/blockmgr"
)

// Config configures the coordinator.
type Config struct {
	// Conf is the effective configuration as the command built it —
	// flags, GRANARY_* variables, -conf files, defaults — which GET /conf
	// shows.
	Conf    []api.ConfProperty
	NATSURL string
	// NATSNKeyFile and NATSCAFile authenticate to NATS with an nkey and
	// check its TLS certificate (docs/security.md).
	NATSNKeyFile, NATSCAFile string
	// Nameservice is dfs.nameservice.id (default ns1): the namespace whose
	// blocks this coordinator manages; it names every NATS subject.
	Nameservice string
	// CoordinatorID is this coordinator's HA ID (HDFS's
	// dfs.ha.namenode.id): with one, several coordinators of the
	// nameservice run active and standby (docs/ha.md); datanodes list the
	// IDs (-coordinators). Empty: the only coordinator, always active.
	CoordinatorID string
	// TLS is the HTTPS material of the HTTP API.
	TLS      tlsconf.Files
	HTTPAddr string // default :9880
	// Superuser and Supergroup may run the administrative endpoints
	// (decommission, refreshNodes, metasave), as HDFS's dfsadmin requires.
	Superuser  string // default: the user running the process
	Supergroup string // dfs.permissions.superusergroup, "supergroup"
	// Auth is how callers of the HTTP API authenticate (-auth simple|token;
	// token mode takes bearer JWTs).
	Auth auth.Config
	// HTTPIdleTimeout closes idle keep-alive connections
	// (hadoop.http.idle_timeout.ms, 60 s).
	HTTPIdleTimeout time.Duration
	// TopologyFile maps hosts to racks: lines "host-or-ip /rack" (HDFS's
	// TableMapping); unlisted hosts are on /default-rack.
	TopologyFile string
	// HostsExcludeFile is dfs.hosts.exclude: datanodes to decommission,
	// re-read by refreshNodes.
	HostsExcludeFile string
	// HostsFile is dfs.hosts, the include list: when set, only the
	// datanodes it names may register (DisallowedDatanodeException for the
	// others); re-read by refreshNodes.
	HostsFile         string
	HeartbeatInterval time.Duration
	RecheckInterval   time.Duration
	StaleInterval     time.Duration
	MaxFBRLeases      int
	// ReconcileInterval is how often suspect replicas are checked against
	// the namespace (default 1 s).
	ReconcileInterval time.Duration
	// UnknownReplicaGrace: see blockmgr.Config (default 30 s).
	UnknownReplicaGrace time.Duration
	// RedundancyInterval is dfs.namenode.redundancy.interval.seconds (3 s).
	RedundancyInterval time.Duration
	MaxStreams         int           // dfs.namenode.replication.max-streams (2)
	PendingTimeout     time.Duration // dfs.namenode.reconstruction.pending.timeout-sec (300 s)
	// MinDatanodeVersion is dfs.namenode.min.supported.datanode.version
	// (default dnproto.MinDatanodeVersion).
	MinDatanodeVersion string
	// ReplQueueThreshold is dfs.namenode.replqueue.threshold-pct (0.999).
	ReplQueueThreshold float64
	// Upgrade is HDFS's -upgrade start option seen from the datanodes: the
	// full-report replies withhold FINALIZE — the datanodes keep the
	// previous layout of upgraded block pool slices, for a rollback — until
	// admin -finalizeUpgrade. Without it every full report's reply carries
	// FINALIZE, as a finalized NameNode's does.
	Upgrade bool
	// IgnoreLoad is dfs.namenode.redundancy.considerLoad=false (default:
	// consider it, skipping datanodes busier than twice the average).
	IgnoreLoad bool
	Logger     *slog.Logger
}

// Service is a running coordinator.
type Service struct {
	pauses    *pausemon.Monitor // HDFS\'s JvmPauseMonitor
	idents    identities
	authn     *auth.Authenticator
	blockKeys *blocktoken.Set // the metadata service's, when block tokens are on
	cfg       Config
	log       *slog.Logger
	mgr       *blockmgr.Manager
	nc        *nats.Conn
	metrics   *metrics

	ha                 haState
	upgradeFinalized   atomic.Bool
	transfersScheduled atomic.Int64 // by the redundancy monitor, since start

	niMu      sync.Mutex
	lastEpoch atomic.Int64 // the metadata writer's epoch in the last events
	ni        *dnproto.NamespaceInfo

	resync   chan struct{}
	listener net.Listener
	addrSet  chan struct{}
	started  chan struct{}
	once     sync.Once
}

// New returns a coordinator; nothing happens until Run.
func New(cfg Config) (*Service, error) {
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = ":9880"
	}
	if cfg.Nameservice == "" {
		cfg.Nameservice = dnproto.DefaultNameservice
	}
	cfg.Superuser, cfg.Supergroup = simpleauth.Defaults(cfg.Superuser, cfg.Supergroup)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReconcileInterval == 0 {
		cfg.ReconcileInterval = time.Second
	}
	if cfg.RedundancyInterval == 0 {
		cfg.RedundancyInterval = 3 * time.Second
	}
	topo, err := readTopology(cfg.TopologyFile)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, log: cfg.Logger.With("service", "coordinator"),
		mgr: blockmgr.New(blockmgr.Config{
			HeartbeatInterval: cfg.HeartbeatInterval, RecheckInterval: cfg.RecheckInterval,
			StaleInterval: cfg.StaleInterval, MaxFBRLeases: cfg.MaxFBRLeases, Topology: topo,
			UnknownReplicaGrace: cfg.UnknownReplicaGrace, MaxStreams: cfg.MaxStreams, PendingTimeout: cfg.PendingTimeout,
			IgnoreLoad: cfg.IgnoreLoad, MinDatanodeVersion: cfg.MinDatanodeVersion, ReplQueueThreshold: cfg.ReplQueueThreshold,
		}),
		resync: make(chan struct{}, 1), addrSet: make(chan struct{}), started: make(chan struct{}),
	}
	s.pauses = pausemon.New(s.log)
	s.metrics = newMetrics(s)
	if err := s.loadIncluded(); err != nil {
		return nil, err
	}
	s.blockKeys = blocktoken.NewSet()
	if cfg.Auth.CAFile == "" {
		cfg.Auth.CAFile = cfg.TLS.CA
	}
	if s.authn, err = auth.New(cfg.Auth, simpleauth.Policy{Superuser: cfg.Superuser, Supergroup: cfg.Supergroup}, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// readTopology reads a TableMapping file.
func readTopology(path string) (map[string]string, error) {
	topo := map[string]string{}
	if path == "" {
		return topo, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("topology file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 2 || !strings.HasPrefix(fields[1], "/") {
			return nil, fmt.Errorf("topology file %s:%d: want \"host /rack\"", path, line)
		}
		topo[fields[0]] = fields[1]
	}
	return topo, sc.Err()
}

// Addr returns the HTTP address once listening.
func (s *Service) Addr() string {
	<-s.addrSet
	return s.listener.Addr().String()
}

// Started is closed once the coordinator answers on NATS.
func (s *Service) Started() <-chan struct{} { return s.started }

// Manager exposes the block manager (benchmarks drive it in-process).
func (s *Service) Manager() *blockmgr.Manager { return s.mgr }

// Run serves until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	defer s.once.Do(func() { close(s.started) })
	nc, err := natsconn.Connect(natsconn.Config{URL: s.cfg.NATSURL, Name: "granary-coordinator", Identity: "coordinator",
		NKeyFile: s.cfg.NATSNKeyFile, CAFile: s.cfg.NATSCAFile})
	if err != nil {
		return fmt.Errorf("connecting to NATS at %s: %w", s.cfg.NATSURL, err)
	}
	s.nc = nc
	defer nc.Close()

	g := lifecycle.New(ctx)
	g.Go("pause monitor", func(ctx context.Context) error { s.pauses.Run(ctx); return nil })
	ln, err := tlsconf.Listen(s.cfg.HTTPAddr, s.cfg.TLS)
	if err != nil {
		return fmt.Errorf("coordinator HTTP: %w", err)
	}
	s.listener = ln
	close(s.addrSet)
	g.Go("coordinator HTTP server", lifecycle.Serve(lifecycle.NewServer(s.routes(), s.cfg.HTTPIdleTimeout), ln, nil))

	if err := s.subscribe(); err != nil {
		g.Fail(err)
		return g.Wait()
	}
	s.log.Info("coordinator started", "http", ln.Addr().String(), "nats", s.cfg.NATSURL)
	s.once.Do(func() { close(s.started) })

	loops := map[string]func(context.Context){
		"namespace resync": s.resyncLoop, "liveness monitor": s.livenessLoop,
		"reconciler": s.reconcileLoop, "redundancy monitor": s.redundancyLoop,
		"block keys": s.blockKeysLoop, "location announcements": s.announceLoop,
	}
	if s.cfg.CoordinatorID != "" {
		loops["HA claim"] = s.claimLoop
	} else {
		// Locations a previous run answered are not to be kept (an HA
		// coordinator announces this when it becomes active).
		s.mgr.AnnounceAll()
	}
	for name, loop := range loops {
		g.Go(name, func(ctx context.Context) error { loop(ctx); return nil })
	}
	s.requestResync()
	err = g.Wait()
	_ = nc.Drain()
	s.log.Info("coordinator stopped", "err", err)
	return err
}

// announceLoop publishes the changes to locations the metadata services
// keep (SubjLocationsChanged), each batch once it is there.
func (s *Service) announceLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.mgr.LocationChanges():
		}
		c, ok := s.mgr.TakeLocationChanges()
		if !ok {
			continue
		}
		if err := dnproto.Publish(s.nc, s.subj(dnproto.SubjLocationsChanged), c); err != nil {
			// The metadata services see the gap in the numbering at the
			// next announcement and drop everything they kept.
			s.log.Warn("announcing location changes failed", "err", err)
		}
	}
}

func (s *Service) subscribe() error {
	handlers := map[string]dnproto.Handler{}
	for tmpl, h := range map[string]dnproto.Handler{
		dnproto.SubjHandshake:         s.handshake,
		dnproto.SubjRegister:          dnproto.JSON(s.register),
		dnproto.SubjHeartbeat:         dnproto.JSON(s.heartbeat),
		dnproto.SubjBlockReport:       s.blockReport,
		dnproto.SubjIncrementalReport: dnproto.JSON(s.incremental),
		dnproto.SubjBadBlocks:         dnproto.JSON(s.badBlocks),
		dnproto.SubjLifeline:          dnproto.JSON(s.lifeline),
	} {
		handlers[dnproto.ToCoordinator(dnproto.AnyIdentity(tmpl), s.cfg.CoordinatorID)] = h
	}
	if s.cfg.CoordinatorID == "" {
		maps.Copy(handlers, s.activeHandlers())
	}
	if _, err := s.serve(handlers); err != nil {
		return err
	}
	_, err := s.nc.Subscribe(s.subj(dnproto.SubjNamespaceEvents), s.namespaceEvents)
	return err
}

// activeHandlers answer the metadata service: only the active coordinator
// subscribes to them.
func (s *Service) activeHandlers() map[string]dnproto.Handler {
	return map[string]dnproto.Handler{
		dnproto.SubjReaderBadBlocks: dnproto.JSON(s.badBlocks),
		dnproto.SubjSafeModeCounts: func(context.Context, []byte) (any, error) {
			return s.mgr.SafeModeCounts(), nil
		},
		dnproto.SubjChooseTargets: dnproto.JSON(func(_ context.Context, req *dnproto.ChooseTargetsRequest) (any, error) {
			reply := dnproto.ChooseTargetsReply{Targets: s.mgr.ChooseTargets(req.Placement)}
			if len(req.More) > 0 {
				reply.More = make([][]dnproto.DatanodeInfo, len(req.More))
				for i, p := range req.More {
					reply.More[i] = s.mgr.ChooseTargets(p)
				}
			}
			return reply, nil
		}),
		dnproto.SubjBlockLocations: dnproto.JSON(func(_ context.Context, req *dnproto.LocationsRequest) (any, error) {
			if req.Newer {
				return dnproto.LocationsReply{Blocks: s.mgr.NewerReplicas(req.Blocks)}, nil
			}
			if req.Cache {
				blocks, cache := s.mgr.LocationsForCache(req.Blocks, req.GenStamps, req.ClientHost)
				return dnproto.LocationsReply{Blocks: blocks, Cache: cache}, nil
			}
			return dnproto.LocationsReply{Blocks: s.mgr.Locations(req.Blocks, req.GenStamps, req.ClientHost)}, nil
		}),
		dnproto.SubjCluster: func(context.Context, []byte) (any, error) {
			return s.mgr.Cluster(), nil
		},
		dnproto.SubjDatanodes: func(context.Context, []byte) (any, error) {
			return api.DatanodeList{Datanodes: s.mgr.Datanodes()}, nil
		},
	}
}

// serve subscribes each handler to its subject in this nameservice.
func (s *Service) serve(handlers map[string]dnproto.Handler) ([]*nats.Subscription, error) {
	var subs []*nats.Subscription
	for tmpl, h := range handlers {
		subj := s.subj(tmpl)
		// Look-ups that change nothing are answered concurrently (one
		// queue member per core); reports keep their order.
		members := 1
		if tmpl == dnproto.SubjBlockLocations || tmpl == dnproto.SubjChooseTargets {
			members = runtime.GOMAXPROCS(0)
		}
		for range members {
			sub, err := dnproto.Serve(s.nc, subj, s.log, s.counted(subj, h))
			if err != nil {
				return subs, err
			}
			subs = append(subs, sub)
		}
	}
	return subs, nil
}

// namespaceInfo returns the namespace identity, asking the metadata service
// the first time.
func (s *Service) namespaceInfo(ctx context.Context) (dnproto.NamespaceInfo, error) {
	s.niMu.Lock()
	defer s.niMu.Unlock()
	if s.ni != nil {
		return *s.ni, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var ni dnproto.NamespaceInfo
	if err := dnproto.Call(cctx, s.nc, s.subj(dnproto.SubjNamespaceInfo), struct{}{}, &ni); err != nil {
		return ni, errs.Wrap(errs.Retriable, err, "the metadata service is not reachable yet")
	}
	s.ni = &ni
	return ni, nil
}

func (s *Service) handshake(ctx context.Context, _ []byte) (any, error) {
	return s.namespaceInfo(ctx)
}

func (s *Service) register(ctx context.Context, reg *dnproto.Registration) (any, error) {
	ni, err := s.namespaceInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.bindIdentity(ctx, reg.DatanodeUUID); err != nil {
		s.log.Warn("registration refused", "datanode", reg.DatanodeUUID, "err", err)
		return nil, err
	}
	if err := s.mgr.Register(*reg, ni); err != nil {
		s.log.Warn("registration refused", "datanode", reg.DatanodeUUID, "err", err)
		return nil, err
	}
	if reg.SoftwareVersion != dnproto.SoftwareVersion {
		s.log.Info(fmt.Sprintf("Reported DataNode version '%s' of DN %s does not match NameNode version '%s'. Note: This is normal during a rolling upgrade.",
			reg.SoftwareVersion, reg.DatanodeUUID, dnproto.SoftwareVersion))
	}
	s.log.Info("datanode registered", "datanode", reg.DatanodeUUID, "host", reg.HostName, "http_port", reg.HTTPPort, "storages", len(reg.Storages))
	if s.blockKeys.Generation() == 0 {
		// A datanode registering before the first fetch gets the keys
		// now rather than at its next heartbeat.
		s.fetchBlockKeys(ctx)
	}
	return dnproto.RegisterReply{DatanodeUUID: reg.DatanodeUUID, Keys: s.keysFor(0)}, nil
}

func (s *Service) heartbeat(ctx context.Context, hb *dnproto.Heartbeat) (any, error) {
	if err := s.checkSender(ctx, hb.DatanodeUUID, hb.BlockPoolID); err != nil {
		return nil, err
	}
	if err := s.mgr.CheckAllowed(hb.DatanodeUUID); err != nil {
		return nil, err
	}
	reply := s.withKeysAndTokens(hb, s.mgr.Heartbeat(*hb))
	s.haStatus(&reply)
	return reply, nil
}

// lifeline answers a datanode's lifeline, on its own subscription: a
// backlog of heartbeats does not hold it up.
func (s *Service) lifeline(ctx context.Context, l *dnproto.Lifeline) (any, error) {
	if err := s.checkSender(ctx, l.DatanodeUUID, l.BlockPoolID); err != nil {
		return nil, err
	}
	return dnproto.Ack{}, s.mgr.Lifeline(*l)
}

func (s *Service) blockReport(ctx context.Context, data []byte) (any, error) {
	c, err := dnproto.DecodeChunk(data, nil)
	if err != nil {
		return nil, errs.Wrap(errs.IllegalArgument, err, "block report")
	}
	if err := s.checkSender(ctx, c.DatanodeUUID, c.BlockPoolID); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := s.mgr.FullReport(c); err != nil {
		return nil, err
	}
	s.metrics.reportedReplicas.Add(float64(len(c.Replicas)))
	s.metrics.reportSeconds.Observe(time.Since(start).Seconds())
	if c.Index == c.Count-1 && c.Last {
		s.mgr.ReleaseLease(c.LeaseID)
		if (!s.cfg.Upgrade || s.upgradeFinalized.Load()) && s.IsActive() {
			// HDFS's blockReport answers a finalized namespace's datanodes
			// with DNA_FINALIZE (the active only: a standby's commands are
			// ignored): an upgraded slice drops its previous/.
			return dnproto.BlockReportReply{Commands: []dnproto.Command{{Action: dnproto.ActionFinalize, BlockPoolID: c.BlockPoolID}}}, nil
		}
	}
	return dnproto.BlockReportReply{}, nil
}

func (s *Service) incremental(ctx context.Context, r *dnproto.IncrementalReport) (any, error) {
	if err := s.checkSender(ctx, r.DatanodeUUID, r.BlockPoolID); err != nil {
		return nil, err
	}
	received, err := s.mgr.IncrementalLocations(r)
	if err != nil {
		return nil, err
	}
	// Before the acknowledgement, upon which the datanode answers the
	// writer, who completes the file next.
	s.sendReceived(received)
	return dnproto.Ack{}, nil
}

// sendReceived tells the metadata services the locations of blocks being
// written that gained RECEIVED replicas (the active coordinator only).
func (s *Service) sendReceived(received *dnproto.LocationsReceived) {
	if received != nil && s.IsActive() {
		if err := dnproto.Publish(s.nc, s.subj(dnproto.SubjLocationsReceived), received); err != nil {
			s.log.Debug("telling the metadata services of received blocks failed", "err", err)
		}
	}
}

func (s *Service) badBlocks(ctx context.Context, r *dnproto.BadBlocks) (any, error) {
	if err := s.checkSender(ctx, r.DatanodeUUID, r.BlockPoolID); err != nil {
		return nil, err
	}
	s.log.Warn("datanode reported corrupt replicas", "datanode", r.DatanodeUUID, "blocks", len(r.Blocks))
	return dnproto.Ack{}, s.mgr.BadBlocks(r)
}

func (s *Service) namespaceEvents(m *nats.Msg) {
	var ev dnproto.BlockEvents
	if err := dnproto.Unmarshal(m.Data, &ev); err != nil {
		s.log.Warn("malformed namespace events", "err", err)
		return
	}
	if last := s.lastEpoch.Swap(ev.Epoch); last != 0 && last != ev.Epoch {
		// A new metadata writer (a restart, a re-format): the namespace
		// info is asked again rather than kept for ever.
		s.niMu.Lock()
		s.ni = nil
		s.niMu.Unlock()
	}
	if !s.mgr.ApplyEvents(&ev) {
		s.requestResync()
		return
	}
	s.sendReceived(s.mgr.ReceivedBeforeTheirBlocks())
}

func (s *Service) requestResync() {
	select {
	case s.resync <- struct{}{}:
	default:
	}
}

// resyncLoop reloads the namespace's block inventory whenever the mirror is
// unsynced: at start, after a gap in the events, after a metadata restart.
func (s *Service) resyncLoop(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.resync:
		}
		if !s.mgr.NeedsResync() {
			continue
		}
		if err := s.loadInventory(ctx); err != nil {
			s.log.Debug("inventory not loaded; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			s.requestResync()
			continue
		}
		backoff = 100 * time.Millisecond
		if s.mgr.NeedsResync() {
			s.requestResync()
		}
	}
}

func (s *Service) loadInventory(ctx context.Context) error {
	start := time.Now()
	var r *blockmgr.Resync
	req := dnproto.InventoryRequest{}
	total := 0
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var page dnproto.InventoryPage
		err := dnproto.Call(cctx, s.nc, s.subj(dnproto.SubjNamespaceInventory), req, &page)
		cancel()
		if err != nil {
			return err
		}
		if r == nil {
			r = s.mgr.BeginResync(page.Epoch, page.Seq)
		}
		r.Add(page.Blocks)
		total += len(page.Blocks)
		if !page.More {
			break
		}
		req.Snapshot = page.Snapshot
		req.AfterID = page.Blocks[len(page.Blocks)-1].ID
	}
	r.Commit()
	s.log.Info("block map synchronised with the namespace", "blocks", total, "took", time.Since(start))
	return nil
}

// livenessLoop marks datanodes dead (HeartbeatManager's check).
func (s *Service) livenessLoop(ctx context.Context) {
	lifecycle.Every(ctx, min(time.Second, s.mgrConfig().HeartbeatInterval), func() {
		for _, id := range s.mgr.CheckLiveness() {
			s.log.Warn("datanode is dead: its replicas leave the block map", "datanode", id)
		}
	})
}

// reconcileLoop checks suspect replicas against the namespace (the
// active's work).
func (s *Service) reconcileLoop(ctx context.Context) {
	lifecycle.Every(ctx, s.cfg.ReconcileInterval, func() {
		if !s.IsActive() {
			return
		}
		n := s.mgr.Reconcile()
		s.metrics.reconcileRuns.Inc()
		if n > 0 {
			s.log.Info("replicas scheduled for deletion (unknown block or stale generation stamp)", "count", n)
		}
	})
}

func (s *Service) mgrConfig() blockmgr.Config {
	c := blockmgr.Config{HeartbeatInterval: s.cfg.HeartbeatInterval}
	c.Defaults()
	return c
}

// redundancyLoop runs the redundancy monitor every redundancy interval
// (the active's work).
func (s *Service) redundancyLoop(ctx context.Context) {
	lifecycle.Every(ctx, s.cfg.RedundancyInterval, func() {
		if !s.IsActive() {
			return
		}
		st := s.mgr.CheckRedundancy()
		s.transfersScheduled.Add(int64(st.Scheduled))
		if st.Scheduled > 0 {
			s.log.Info("re-replication scheduled", "transfers", st.Scheduled, "under_replicated", st.UnderReplicated, "missing", st.Missing)
		} else if st.UnderReplicated > 0 {
			s.log.Debug("under-replicated blocks wait", "under_replicated", st.UnderReplicated, "pending", st.PendingReplication)
		}
	})
}

// subj is a NATS subject in this coordinator's nameservice.
func (s *Service) subj(t string) string { return dnproto.In(s.cfg.Nameservice, t) }

// TransfersScheduled is the number of replica transfers the redundancy
// monitor scheduled since the coordinator started.
func (s *Service) TransfersScheduled() int64 { return s.transfersScheduled.Load() }
