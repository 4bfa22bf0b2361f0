// Package metadata is Granary's namespace server (HDFS's NameNode): the
// namespace in memory, its fsimage and edit log in PostgreSQL, start-up by
// loading the newest image and replaying edits, safe mode, checkpoints, and
// the WebHDFS, native and admin HTTP APIs.
//
// Shutdown order: stop HTTP (in-flight calls finish and are committed) →
// flush and stop the edit log → release the writer lock → close the pool.
package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/blocktoken"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/lifecycle"
	"github.com/granary-fs/granary/internal/natsconn"
	"github.com/granary-fs/granary/internal/pausemon"
	"github.com/granary-fs/granary/internal/simpleauth"
	"github.com/granary-fs/granary/internal/tlsconf"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
	"github.com/granary-fs/granary/services/metadata/internal/store"
)

// Service is one metadata process.
type Service struct {
	pauses   *pausemon.Monitor // HDFS\'s JvmPauseMonitor
	cfg      Config
	log      *slog.Logger
	safe     *SafeMode
	progress *Progress
	metrics  *metrics

	ns    atomic.Pointer[namespace.Namespace] // nil while loading
	edits atomic.Pointer[store.EditLog]
	store *store.Store
	info  store.NamespaceInfo
	ready atomic.Bool
	// started is closed once the namespace serves mutations (or Run failed).
	started   chan struct{}
	startOnce sync.Once

	listener  net.Listener
	addrSet   chan struct{}
	httpAddrs []string  // ownAddresses, set before addrSet closes
	logRing   *logRing  // the recent log lines, for /logs
	auditLog  *auditLog // nil when the audit log is off

	coord  *coordination // nil without NATS
	leases *leaseManager

	checkpointMu   sync.Mutex // one checkpoint at a time
	lastImageTxID  atomic.Int64
	lastImageAt    atomic.Int64 // unix ms
	startedAt      time.Time
	checkpointKick chan struct{}

	standby     atomic.Bool          // HA: waiting for the writer lock
	standbyNS   *namespace.Namespace // HA: the namespace a standby keeps up to date
	standbyTxID atomic.Int64
	stopFn      atomic.Pointer[func()] // ends Run gracefully (transitionToStandby)
	authn       *auth.Authenticator
	blockKeys   *blocktoken.Master // nil: block tokens are off (simple mode)
	authErr     error              // a bad auth configuration, returned by Run
	redirects   redirectTokens
}

// New returns a service; nothing happens until Run.
func New(cfg Config) *Service {
	cfg.Defaults()
	ring := newLogRing(cfg.Logger.Handler())
	s := &Service{
		cfg: cfg, log: slog.New(ring).With("service", "metadata"), logRing: ring, progress: newProgress(),
		started: make(chan struct{}), addrSet: make(chan struct{}), checkpointKick: make(chan struct{}, 1),
		leases: newLeaseManager(),
	}
	s.safe = newSafeMode(cfg.SafeModeThresholdPct, cfg.SafeModeMinDatanodes, cfg.SafeModeExtension, s.completeBlocks)
	s.safe.reports = cfg.BlockReports
	s.pauses = pausemon.New(s.log)
	s.metrics = newMetrics(s)
	if cfg.Auth.CAFile == "" {
		cfg.Auth.CAFile = cfg.TLS.CA // the issuer's certificate is signed like the cluster's
	}
	s.authn, s.authErr = auth.New(cfg.Auth, simpleauth.Policy{Superuser: cfg.Superuser, Supergroup: cfg.Supergroup}, s.verifyDelegation)
	if s.authn != nil && s.authn.TokenMode() {
		s.blockKeys = blocktoken.NewMaster(cfg.BlockKeyUpdateInterval, cfg.BlockTokenLifetime)
	}
	if s.authErr != nil {
		s.authn, _ = auth.New(auth.Config{}, simpleauth.Policy{Superuser: cfg.Superuser, Supergroup: cfg.Supergroup}, nil)
	}
	return s
}

func (s *Service) completeBlocks() int64 {
	if ns := s.ns.Load(); ns != nil {
		return ns.CompleteBlocks()
	}
	return 0
}

// Addr returns the HTTP address once listening (blocks until then).
func (s *Service) Addr() string {
	<-s.addrSet
	return s.listener.Addr().String()
}

// Started is closed when the service accepts mutations (safe mode aside),
// or when Run has failed.
func (s *Service) Started() <-chan struct{} { return s.started }

// SafeMode returns the service's safe mode.
func (s *Service) SafeMode() *SafeMode { return s.safe }

// Run starts the service and blocks until ctx is done or it fails.
func (s *Service) Run(ctx context.Context) error {
	defer s.startOnce.Do(func() { close(s.started) })
	s.startedAt = time.Now()
	if s.authErr != nil {
		return s.authErr
	}
	st, err := store.Open(ctx, s.cfg.DatabaseURL, s.cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer st.Close()
	st.ExtraEditsRetained = max(s.cfg.ExtraEditsRetained, 0)
	s.store = st
	// A schema older than this service's needs -upgrade (HDFS: "An
	// upgrade to version … is required"): the image it starts from is kept
	// until the upgrade is finalized, for a rollback.
	pending, err := st.PendingMigrations(ctx)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		if !s.cfg.Upgrade {
			return fmt.Errorf("the metadata database's schema is older than this metadata service's (%s to apply). An upgrade is required: restart the metadata service with -upgrade, which keeps the namespace as it is now until granary admin -finalizeUpgrade (granary metadata rollback returns to it)", strings.Join(pending, ", "))
		}
		txid, err := st.BeginUpgrade(ctx, pending)
		if err != nil {
			return err
		}
		s.log.Warn("starting an upgrade of the metadata database: the image at txid "+strconv.FormatInt(txid, 10)+" is kept until it is finalized", "migrations", pending)
	}
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating the metadata database: %w", err)
	}
	if s.info, err = st.LoadInfo(ctx); err != nil {
		return err
	}
	var lock *store.WriterLock
	if s.cfg.NamenodeID == "" {
		if lock, err = st.LockWriter(ctx); err != nil {
			return err
		}
		defer func() { lock.Release() }()
	}

	// One lifecycle: the first component to end (a lost database, a
	// fenced edit log, a dead listener) stops every other, and Run
	// returns its error.
	g := lifecycle.New(ctx)
	g.Go("pause monitor", func(ctx context.Context) error { s.pauses.Run(ctx); return nil })
	stop := g.Stop
	s.stopFn.Store(&stop)
	ln, err := tlsconf.Listen(s.cfg.HTTPAddr, s.cfg.TLS)
	if err != nil {
		return fmt.Errorf("metadata HTTP: %w", err)
	}
	s.listener = ln
	s.httpAddrs = ownAddresses(ln.Addr(), s.cfg.AdvertiseAddr)
	close(s.addrSet)
	httpStopped := make(chan struct{})
	g.Go("metadata HTTP server", lifecycle.Serve(lifecycle.NewServer(s.routes(), s.cfg.HTTPIdleTimeout), ln, httpStopped))
	s.log.Info("metadata HTTP listening", "addr", ln.Addr().String(), "cluster_id", s.info.ClusterID)

	if s.cfg.NamenodeID != "" {
		// HA: standby until the writer lock is ours.
		if lock, err = s.awaitActive(g.Context(), st); err != nil {
			g.Fail(err)
			return g.Wait()
		}
		defer func() { lock.Release() }()
		g.Go("writer lock watchdog", func(ctx context.Context) error { return s.watchLock(ctx, lock) })
	}
	if err := s.open(g, httpStopped); err != nil {
		g.Fail(err)
	}
	err = g.Wait()
	if e := s.edits.Load(); e != nil {
		s.log.Info("metadata service stopped", "txid", e.Committed(), "err", err)
	} else {
		s.log.Info("metadata service stopped", "err", err)
	}
	return err
}

// open loads the namespace, opens the edit log for writing and starts the
// service's components in g. The edit log stops last: after the HTTP server
// (signalled by httpStopped) no request can queue an edit any more.
func (s *Service) open(g *lifecycle.Group, httpStopped <-chan struct{}) error {
	ctx := g.Context()
	// The epoch is claimed before the log is read to its end: from this
	// moment no earlier writer (a demoted active) can commit, so the end
	// read is the end.
	epoch, err := s.store.ClaimEpoch(ctx)
	if err != nil {
		return err
	}
	ns := s.standbyNS
	if ns != nil {
		// A standby taking over: only the tail it has not applied yet.
		if err := s.tail(ctx, ns); err != nil {
			return err
		}
		s.log.Info("caught up with the edit log", "txid", ns.TxID())
	} else if ns, err = s.load(ctx); err != nil {
		return err
	}
	edits := s.store.NewEditLog(epoch, ns.TxID(), s.cfg.EditLogRetry, s.metrics, s.log)
	edits.NoGather = s.cfg.EditLogNoGather
	s.resumeBlockKeys(ctx, epoch)
	if s.cfg.NATSURL != "" {
		nc, err := natsconn.Connect(natsconn.Config{URL: s.cfg.NATSURL, Name: "granary-metadata", Identity: "metadata",
			NKeyFile: s.cfg.NATSNKeyFile, CAFile: s.cfg.NATSCAFile})
		if err != nil {
			return fmt.Errorf("connecting to NATS at %s: %w", s.cfg.NATSURL, err)
		}
		s.coord = newCoordination(s, nc, epoch, ns.TxID())
		edits.OnCommit(s.coord.committed)
		s.safe.setReports(s.coord)
		g.Go("coordination", func(ctx context.Context) error {
			defer nc.Close()
			return s.coord.run(ctx)
		})
	}
	s.edits.Store(edits)
	ns.SetJournal(edits)
	s.ns.Store(ns)
	s.log.Info("edit log open for writing", "epoch", epoch, "txid", ns.TxID())

	_, need := s.safe.Awaiting()
	s.progress.Begin(PhaseSafeMode, need)
	s.safe.activate()
	if !s.safe.On() {
		s.progress.End(PhaseSafeMode)
	}
	s.ready.Store(true)
	s.startOnce.Do(func() { close(s.started) })
	s.log.Info("metadata service started", "files", func() int64 { f, _ := ns.Counts(); return f }(), "txid", ns.TxID(), "safe_mode", s.safe.Tip())

	g.Go("edit log", func(ctx context.Context) error {
		editCtx, stopEdits := context.WithCancel(context.Background())
		defer stopEdits()
		done := make(chan error, 1)
		go func() { done <- edits.Run(editCtx) }()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
		}
		s.ready.Store(false)
		<-httpStopped
		stopEdits()
		return <-done
	})
	if s.cfg.AuditLog != "" {
		a, err := openAuditLog(s.cfg.AuditLog)
		if err != nil {
			return err
		}
		s.auditLog = a
		g.Go("audit log", func(ctx context.Context) error { return a.run(ctx, httpStopped) })
	}
	g.Go("safe mode monitor", s.safeModeLoop)
	g.Go("resource checker", s.resourceLoop)
	if s.cfg.NamenodeID == "" {
		// With HA the standbys checkpoint (HDFS's StandbyCheckpointer):
		// the active never spends its time on one.
		g.Go("checkpointer", s.checkpointLoop)
	}
	g.Go("lease monitor", s.leaseLoop)
	if s.authn.TokenMode() {
		g.Go("delegation token secret manager", s.runSecretManager)
		g.Go("block key roller", s.rollBlockKeys)
	}
	if s.cfg.TrashInterval > 0 {
		g.Go("trash emptier", s.trashLoop)
	}
	if s.cfg.InitialLayout {
		g.Go("initial layout", func(ctx context.Context) error {
			switch err := s.CreateInitialLayout(ctx); {
			case err != nil && ctx.Err() == nil:
				return fmt.Errorf("creating /tmp and /user: %w", err)
			case err == nil:
				s.log.Info("created /tmp (1777) and /user (755)")
			}
			<-ctx.Done()
			return nil
		})
	}
	return nil
}

func (s *Service) nsConfig() namespace.Config {
	return namespace.Config{
		Superuser: s.cfg.Superuser, Supergroup: s.cfg.Supergroup, MinBlockSize: s.cfg.MinBlockSize,
		Guard: s.guard,
	}
}

func (s *Service) guard(what string) error {
	if e := s.edits.Load(); e != nil {
		if e.Failing() {
			return errs.E(errs.Retriable, "%s: the edit log cannot commit right now; retry later", what)
		}
		// Committing again: the resource safe mode of the failure ends
		// now, not at the safe-mode loop's next tick (a mutation in
		// between would be refused with SafeModeException, which clients
		// do not retry).
		s.safe.SetEditsFailing(false)
	}
	return s.safe.Guard(what)
}

// load runs the LoadingFsImage, LoadingEdits and SavingCheckpoint phases.
func (s *Service) load(ctx context.Context) (*namespace.Namespace, error) {
	images, err := s.store.Images(ctx)
	if err != nil {
		return nil, err
	}
	if len(images) == 0 {
		return nil, errors.New("no fsimage in the database: run `granary metadata format`")
	}
	var ns *namespace.Namespace
	for i, img := range images {
		s.progress.Begin(PhaseLoadingFsImage, img.Inodes)
		start := time.Now()
		ns, err = s.loadImage(ctx, img)
		if err == nil {
			s.log.Info("loaded fsimage", "txid", img.TxID, "inodes", img.Inodes, "bytes", img.Size, "took", time.Since(start))
			s.lastImageTxID.Store(img.TxID)
			s.lastImageAt.Store(img.Created.UnixMilli())
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if i == len(images)-1 {
			return nil, fmt.Errorf("no valid fsimage: the oldest, at txid %d, failed too: %w", img.TxID, err)
		}
		s.log.Error("fsimage is corrupt; falling back to the previous image and more edits", "txid", img.TxID, "err", err)
	}
	s.progress.End(PhaseLoadingFsImage)

	pending, err := s.store.CountEdits(ctx, ns.TxID())
	if err != nil {
		return nil, err
	}
	s.progress.Begin(PhaseLoadingEdits, pending)
	var replayed int64
	start := time.Now()
	last, err := s.store.ReadEdits(ctx, ns.TxID(), func(txid int64, op namespace.Op) error {
		if err := ns.Replay(txid, op); err != nil {
			return err
		}
		replayed++
		if replayed&0xfff == 0 {
			s.progress.Set(PhaseLoadingEdits, replayed, pending)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading edits stopped at txid %d: %w", last+1, err)
	}
	s.progress.End(PhaseLoadingEdits)
	s.log.Info("replayed edits", "count", replayed, "txid", ns.TxID(), "took", time.Since(start))

	// HDFS's needsResaveBasedOnStaleCheckpoint: the edits loaded reach the
	// checkpoint's transactions, or the image is older than its period
	// (with edits after it: an image of the same txid would be the same).
	s.progress.Begin(PhaseSavingCheckpoint, 0)
	stale := replayed > 0 && time.Since(time.UnixMilli(s.lastImageAt.Load())) >= s.cfg.CheckpointPeriod
	if (replayed >= s.cfg.CheckpointTxns || stale) && !s.standby.Load() {
		if err := s.saveImage(ctx, ns); err != nil {
			return nil, fmt.Errorf("saving checkpoint: %w", err)
		}
	}
	s.progress.End(PhaseSavingCheckpoint)
	return ns, nil
}

func (s *Service) loadImage(ctx context.Context, img store.ImageInfo) (*namespace.Namespace, error) {
	// The image is decoded while it is read; a read that fails its
	// checksums is the error even when decoding failed first.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	im, err := s.store.StreamImage(rctx, img.TxID)
	if err != nil {
		return nil, err
	}
	ns, err := namespace.LoadImageFrom(s.nsConfig(), im, func(loaded, total int64) {
		s.progress.Set(PhaseLoadingFsImage, loaded, total)
	})
	if rerr := im.Err(); rerr != nil {
		return nil, rerr
	}
	if err != nil {
		return nil, err
	}
	if ns.TxID() != img.TxID {
		return nil, fmt.Errorf("image row says txid %d but the image holds txid %d", img.TxID, ns.TxID())
	}
	return ns, nil
}

// saveImage writes ns (which no one mutates meanwhile) as a new image.
func (s *Service) saveImage(ctx context.Context, ns *namespace.Namespace) error {
	var buf bytes.Buffer
	inodes, err := ns.WriteImage(&buf)
	if err != nil {
		return err
	}
	txid := ns.TxID()
	if err := s.store.SaveImage(ctx, txid, buf.Bytes(), inodes); err != nil {
		return err
	}
	s.lastImageTxID.Store(txid)
	s.lastImageAt.Store(time.Now().UnixMilli())
	s.metrics.checkpoints.Inc()
	s.log.Info("saved fsimage", "txid", txid, "inodes", inodes, "bytes", buf.Len())
	return nil
}

func (s *Service) safeModeLoop(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	wasOn := s.safe.On()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.safe.Check()
		on := s.safe.On()
		if on && s.progress.Running(PhaseSafeMode) {
			// The step's count advances while safe mode waits for reports.
			safe, need := s.safe.Awaiting()
			s.progress.Set(PhaseSafeMode, min(safe, need), need)
		}
		if wasOn && !on {
			s.progress.End(PhaseSafeMode)
			s.log.Info("STATE* Safe mode is OFF")
		}
		wasOn = on
		if e := s.edits.Load(); e != nil {
			s.safe.SetEditsFailing(e.Failing())
		}
	}
}

// Superuser is the superuser's name (-superuser, else the user running
// the service).
func (s *Service) Superuser() string { return s.cfg.Superuser }

// subj is a NATS subject in this service's nameservice.
func (s *Service) subj(t string) string { return dnproto.In(s.cfg.Nameservice, t) }

// ClusterID is the cluster ID the namespace was formatted with (after
// Started).
func (s *Service) ClusterID() string { return s.info.ClusterID }

// BlockPoolID is the namespace's block pool (after Started).
func (s *Service) BlockPoolID() string { return s.info.BlockPoolID }

// awaitActive is the standby state of an HA metadata service: it answers
// StandbyException to client operations until it holds the writer lock —
// which the active holds for as long as its database session lives — and
// then becomes active (the epoch it claims next fences the old active's
// writes). The namespace is loaded when it takes over (a cold standby: see
// docs/ha.md).
func (s *Service) awaitActive(ctx context.Context, st *store.Store) (*store.WriterLock, error) {
	s.standbyTxID.Store(-1)
	s.standby.Store(true)
	defer s.standby.Store(false)
	logged := false
	for {
		// A warm standby: the namespace loaded once, then the edit log
		// tailed every round, so that a takeover applies only the last
		// edits (HDFS's EditLogTailer).
		if s.standbyNS == nil {
			ns, err := s.load(ctx)
			if err != nil {
				s.log.Warn("standby: cannot load the namespace yet", "err", err)
			} else {
				s.standbyNS = ns
				s.standbyTxID.Store(ns.TxID())
			}
		} else if err := s.tail(ctx, s.standbyNS); err != nil {
			s.log.Warn("standby: tailing the edit log failed", "err", err)
		} else if s.standbyCheckpointDue() {
			// The standby checkpointer: the image of the namespace it
			// keeps, which only this loop changes.
			if err := s.saveImage(ctx, s.standbyNS); err != nil && ctx.Err() == nil {
				s.log.Warn("standby checkpoint failed", "err", err)
			}
		}
		lock, err := st.LockWriter(ctx)
		if err == nil {
			s.log.Info("this metadata service is becoming active", "namenode_id", s.cfg.NamenodeID)
			return lock, nil
		}
		if !errors.Is(err, store.ErrWriterLocked) {
			return nil, err
		}
		if !logged {
			s.log.Info("standby: another metadata service is active", "namenode_id", s.cfg.NamenodeID, "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(standbyTailPeriod):
		}
	}
}

// standbyTailPeriod is how often a standby tails the edit log and tries the
// writer lock (HDFS's dfs.ha.tail-edits.period with in-progress tailing):
// short, so that the standby stays well under a second behind the active
// and takes over quickly; each round is one indexed read of the new edits
// and one pg_try_advisory_lock.
const standbyTailPeriod = 100 * time.Millisecond

// watchLock ends the service when the session holding the writer lock is
// lost: a standby may take over at once, and this one must not go on.
func (s *Service) watchLock(ctx context.Context, lock *store.WriterLock) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		if err := lock.Alive(ctx); err != nil && ctx.Err() == nil {
			return fmt.Errorf("the writer lock's database session is lost; stepping down: %w", err)
		}
	}
}

// HAState is "active" or "standby".
func (s *Service) HAState() string {
	if s.standby.Load() {
		return "standby"
	}
	return "active"
}

// tail applies the committed edits after ns's txid.
func (s *Service) tail(ctx context.Context, ns *namespace.Namespace) error {
	last, err := s.store.ReadEdits(ctx, ns.TxID(), func(txid int64, op namespace.Op) error { return ns.Replay(txid, op) })
	if err != nil {
		return fmt.Errorf("tailing the edit log stopped at txid %d: %w", last+1, err)
	}
	s.standbyTxID.Store(ns.TxID())
	return nil
}

// StandbyTxID is the last txid a standby applied (-1 until it loaded the
// namespace).
func (s *Service) StandbyTxID() int64 { return s.standbyTxID.Load() }

// standbyCheckpointDue applies the checkpoint thresholds
// (dfs.namenode.checkpoint.txns, .period) to a standby's namespace.
func (s *Service) standbyCheckpointDue() bool {
	since := s.standbyNS.TxID() - s.lastImageTxID.Load()
	if since <= 0 {
		return false
	}
	return since >= s.cfg.CheckpointTxns || time.Since(time.UnixMilli(s.lastImageAt.Load())) >= s.cfg.CheckpointPeriod
}

// LastImageTxID is the txid of the newest image this service loaded or
// saved.
func (s *Service) LastImageTxID() int64 { return s.lastImageTxID.Load() }
