// Package datanode is Granary's datanode: a stateless agent around its
// disks. It scans its volumes into the replica map at start, registers with
// the coordinator over NATS, sends heartbeats and block reports, executes
// the coordinator's commands and serves an HTTP admin API (HDFS's
// ClientDatanodeProtocol). Everything it knows is on its volumes.
//
// Shutdown order: stop HTTP → stop the block pool actor → drain NATS →
// save the dfsUsed cache.
package datanode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/granary-fs/granary/api"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/blocktoken"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hadooptoken"
	"github.com/granary-fs/granary/internal/lifecycle"
	"github.com/granary-fs/granary/internal/natsconn"
	"github.com/granary-fs/granary/internal/packet"
	"github.com/granary-fs/granary/internal/pausemon"
	"github.com/granary-fs/granary/internal/simpleauth"
	"github.com/granary-fs/granary/internal/tlsconf"
	"github.com/granary-fs/granary/services/datanode/internal/storage"
)

// Config configures a datanode. Zero fields take HDFS's defaults.
type Config struct {
	// Conf is the effective configuration as the command built it —
	// flags, GRANARY_* variables, -conf files, defaults — which GET /conf
	// shows.
	Conf     []api.ConfProperty
	DataDirs []string // dfs.datanode.data.dir
	// Rollback brings back, before start, the previous layout of every
	// upgraded block pool slice (HDFS's datanode -rollback).
	Rollback bool
	// DataDirPerm is dfs.datanode.data.dir.perm (0: 700): each data
	// directory is created with it, or set to it when it differs.
	DataDirPerm os.FileMode
	NATSURL     string
	// NATSIdentity names the datanode on NATS: its subjects are
	// granary.v1.<ns>.dn.<identity>.* and its replies come to
	// _INBOX.<identity>.>, which a secured NATS server limits it to
	// (default: the datanode UUID). NATSNKeyFile and NATSCAFile
	// authenticate with an nkey and check the server's TLS certificate.
	NATSIdentity string
	// Nameservices are the nameservices whose block pools this datanode
	// serves (dfs.nameservices; default ns1): one block pool service (HDFS's
	// BPOfferService) each, on that nameservice's NATS subjects.
	Nameservices []string
	// LifelineInterval is dfs.datanode.lifeline.interval.seconds (default
	// 3 heartbeat intervals): when no heartbeat succeeded for that long, a
	// lifeline is sent on its own subject.
	LifelineInterval time.Duration
	// SocketTimeout is dfs.client.socket-timeout (default 60 s), which
	// HDFS's datanodes use too: a datanode further down the pipeline that
	// acknowledges nothing for this long while packets wait is reported
	// failed and the block goes on without it.
	SocketTimeout time.Duration
	// Coordinators are the HA IDs of each nameservice's coordinators
	// (HDFS's dfs.ha.namenodes.<ns>), by nameservice; the "" entry is for
	// nameservices not listed. The datanode runs one actor per coordinator
	// and follows the active one's commands (docs/ha.md). None: one
	// coordinator without an ID.
	Coordinators map[string][]string
	// NameservicesFile, when set, lists the nameservices instead (one per
	// line); refreshNamenodes re-reads it and adds or removes block pool
	// services without a restart.
	NameservicesFile         string
	NATSNKeyFile, NATSCAFile string
	// TLS is the HTTPS material: the listener's certificate, and the CA
	// trusted when forwarding blocks to other datanodes and calling the
	// metadata service (which are then https too).
	TLS      tlsconf.Files
	HTTPAddr string // dfs.datanode.http.address, default :9864
	// HTTPIdleTimeout closes idle keep-alive connections
	// (hadoop.http.idle_timeout.ms, 60 s).
	HTTPIdleTimeout time.Duration
	// Superuser and Supergroup may run the admin endpoints (dfsadmin
	// -triggerBlockReport, -shutdownDatanode, ...) and impersonate users
	// (doas) in WebHDFS.
	Superuser  string // default: the user running the process
	Supergroup string // dfs.permissions.superusergroup, "supergroup"
	// Auth is how callers authenticate (-auth simple|token). In token mode
	// the WebHDFS side takes the delegation token of the metadata
	// service's redirect and acts as its owner (the metadata service
	// verifies it on every call), and block requests need block tokens.
	Auth auth.Config
	// HostName and IPAddr are advertised to the coordinator and clients.
	HostName string
	IPAddr   string

	HeartbeatInterval       time.Duration // dfs.heartbeat.interval, 3 s
	BlockReportInterval     time.Duration // dfs.blockreport.intervalMsec, 6 h
	BlockReportInitialDelay time.Duration // dfs.blockreport.initialDelay, 0
	SplitThreshold          int           // dfs.blockreport.split.threshold, 1,000,000
	FailedVolumesTolerated  int           // dfs.datanode.failed.volumes.tolerated, 0
	RPCTimeout              time.Duration // one NATS request, default 30 s
	// DuReserved is dfs.datanode.du.reserved: bytes per volume kept free
	// for other uses (0, HDFS's default).
	DuReserved int64
	// SyncOnClose fsyncs a replica's files when it is finalized
	// (dfs.datanode.synconclose, false by default as in HDFS).
	SyncOnClose bool
	// SyncBehindWrites is dfs.datanode.sync.behind.writes (false by
	// default as in HDFS): a replica's data is handed to the disk every
	// 8 MB as it arrives, so that writing it back overlaps receiving it.
	SyncBehindWrites bool
	// DropCacheBehindWrites is dfs.datanode.drop.cache.behind.writes
	// (false by default as in HDFS): a replica's data is dropped from the
	// page cache 8 MB behind the write, instead of filling the cache.
	DropCacheBehindWrites bool
	// ReadaheadBytes is dfs.datanode.readahead.bytes (4 MiB; negative:
	// none): how far ahead of a long read (over 256 KiB) the kernel is
	// asked to read. DropCacheBehindReads is
	// dfs.datanode.drop.cache.behind.reads (false): a long read's data is
	// dropped from the page cache behind it.
	ReadaheadBytes       int64
	DropCacheBehindReads bool
	// FileIOProfilingPercentage is
	// dfs.datanode.fileio.profiling.sampling.percentage (0: off, as in
	// HDFS): above 0, every metadata operation on replica files (creates,
	// renames, deletes) and this share of their reads, writes and syncs
	// are timed per volume, for /metrics.
	FileIOProfilingPercentage int
	// ScanPeriod is dfs.datanode.scan.period.hours (3 weeks); negative
	// disables the block scanner. ScanBytesPerSecond is
	// dfs.block.scanner.volume.bytes.per.second (1 MiB/s).
	ScanPeriod         time.Duration
	ScanBytesPerSecond int64
	// VolumeCheckInterval is how often volumes are probed (default 1 min).
	VolumeCheckInterval time.Duration
	// CachedDfsUsedInterval is dfs.datanode.cached-dfsused.check.interval.ms
	// (10 min): how often each block pool slice's dfsUsed is saved.
	CachedDfsUsedInterval time.Duration
	// DirectoryScanInterval is dfs.datanode.directoryscan.interval (6 h).
	DirectoryScanInterval time.Duration
	Logger                *slog.Logger
}

func (c *Config) defaults() {
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":9864"
	}
	if len(c.Nameservices) == 0 {
		c.Nameservices = []string{dnproto.DefaultNameservice}
	}
	c.Superuser, c.Supergroup = simpleauth.Defaults(c.Superuser, c.Supergroup)
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 3 * time.Second
	}
	if c.SocketTimeout == 0 {
		c.SocketTimeout = 60 * time.Second
	}
	if c.LifelineInterval == 0 {
		c.LifelineInterval = 3 * c.HeartbeatInterval
	}
	if c.BlockReportInterval == 0 {
		c.BlockReportInterval = 6 * time.Hour
	}
	if c.SplitThreshold == 0 {
		c.SplitThreshold = 1_000_000
	}
	if c.RPCTimeout == 0 {
		c.RPCTimeout = 30 * time.Second
	}
	if c.ScanPeriod == 0 {
		c.ScanPeriod = 504 * time.Hour
	}
	if c.ReadaheadBytes == 0 {
		c.ReadaheadBytes = 4 << 20
	}
	if c.ScanBytesPerSecond == 0 {
		c.ScanBytesPerSecond = 1 << 20
	}
	if c.CachedDfsUsedInterval == 0 {
		c.CachedDfsUsedInterval = 10 * time.Minute
	}
	if c.VolumeCheckInterval == 0 {
		c.VolumeCheckInterval = time.Minute
	}
	if c.DirectoryScanInterval == 0 {
		c.DirectoryScanInterval = 6 * time.Hour
	}
	if c.HostName == "" {
		c.HostName, _ = os.Hostname()
	}
	if c.IPAddr == "" {
		c.IPAddr = "127.0.0.1"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Service is one datanode.
type Service struct {
	pauses    *pausemon.Monitor // HDFS\'s JvmPauseMonitor
	nc        *nats.Conn
	poolsMu   sync.RWMutex
	pools     []*bpService  // one per nameservice served
	refresh   chan struct{} // refreshNamenodes: re-read the nameservices
	authn     *auth.Authenticator
	blockKeys *blocktoken.Set // from the coordinator; checked in token mode
	tlsClient *tls.Config     // outgoing HTTPS
	cfg       Config
	log       *slog.Logger
	store     *storage.Store
	metrics   *metrics
	xceivers  atomic.Int64
	xmits     atomic.Int64 // transfers in progress

	listener  net.Listener
	addrSet   chan struct{}
	started   chan struct{}
	once      sync.Once
	stop      context.CancelFunc
	startedAt time.Time
	// pipelineClient forwards blocks to the next datanode.
	pipelineClient *http.Client
	writersMu      sync.Mutex
	writers        map[string][]*activeWrite // "bpid/id" → the block PUTs receiving it
	srv            *http.Server
	nnAddrs        metadataAddrs // the metadata service's addresses, for WebHDFS
}

// New returns a datanode; nothing happens until Run.
func New(cfg Config) (*Service, error) {
	cfg.defaults()
	if len(cfg.DataDirs) == 0 {
		return nil, errors.New("datanode: at least one -data-dir is needed")
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("service", "datanode"), addrSet: make(chan struct{}), started: make(chan struct{}), refresh: make(chan struct{}, 1),
		pipelineClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true, WriteBufferSize: packet.BufferSize}}}
	s.cfg.FileIOProfilingPercentage = fileIOPercentage(cfg.FileIOProfilingPercentage, s.log)
	s.pauses = pausemon.New(s.log)
	s.metrics = newMetrics(s)
	var err error
	s.blockKeys = blocktoken.NewSet()
	if s.tlsClient, err = cfg.TLS.Client(); err != nil {
		return nil, err
	}
	s.pipelineClient.Transport.(*http.Transport).TLSClientConfig = s.tlsClient
	if cfg.Auth.CAFile == "" {
		cfg.Auth.CAFile = cfg.TLS.CA
	}
	if s.authn, err = auth.New(cfg.Auth, simpleauth.Policy{Superuser: cfg.Superuser, Supergroup: cfg.Supergroup}, delegationOwner); err != nil {
		return nil, err
	}
	return s, nil
}

// delegationOwner reads the owner of a delegation token without checking
// it: the datanode cannot (the secret manager is the metadata service's),
// and every use of it goes to the metadata service, which does.
func delegationOwner(_ context.Context, encoded string) (auth.Identity, error) {
	tok, err := hadooptoken.Decode(encoded)
	if err != nil {
		return auth.Identity{}, errs.Wrap(errs.InvalidToken, err, "Invalid delegation token")
	}
	id, err := hadooptoken.UnmarshalDelegation(tok.Identifier)
	if err != nil {
		return auth.Identity{}, errs.Wrap(errs.InvalidToken, err, "Invalid delegation token identifier")
	}
	out := auth.Identity{User: id.Owner, Groups: []string{id.Owner}}
	if id.RealUser != "" && id.RealUser != id.Owner {
		out.RealUser, out.RealMethod = id.RealUser, "TOKEN"
	}
	return out, nil
}

// Addr returns the HTTP address once listening.
func (s *Service) Addr() string {
	<-s.addrSet
	return s.listener.Addr().String()
}

// Started is closed once the volumes are scanned and HTTP serves.
func (s *Service) Started() <-chan struct{} { return s.started }

// UUID returns the datanode's UUID (after Started).
func (s *Service) UUID() string { return s.store.DatanodeUUID() }

// Run runs the datanode until ctx is done, a shutdown command or the
// admin API stops it (nil), or a component fails: too many failed volumes,
// a refusal by the cluster, a dead listener (its error).
func (s *Service) Run(ctx context.Context) error {
	defer s.once.Do(func() { close(s.started) })
	g := lifecycle.New(ctx)
	g.Go("pause monitor", func(ctx context.Context) error { s.pauses.Run(ctx); return nil })
	s.stop = g.Stop
	s.startedAt = time.Now()
	start := time.Now()
	if s.cfg.Rollback {
		rolled, err := storage.Rollback(s.cfg.DataDirs)
		for _, bp := range rolled {
			s.log.Info("Rolling back storage directory " + bp + ": the previous layout is current again")
		}
		if err != nil {
			return fmt.Errorf("rollback: %w", err)
		}
	}
	st, err := storage.Open(s.cfg.DataDirs, s.cfg.FailedVolumesTolerated, s.cfg.DataDirPerm)
	if err != nil {
		return err
	}
	s.store = st
	st.SyncOnClose = s.cfg.SyncOnClose
	st.SyncBehindWrites = s.cfg.SyncBehindWrites
	st.DropCacheBehindWrites = s.cfg.DropCacheBehindWrites
	st.ReadaheadBytes = max(0, s.cfg.ReadaheadBytes)
	st.DropCacheBehindReads = s.cfg.DropCacheBehindReads
	st.FileIOProfilingPercentage = s.cfg.FileIOProfilingPercentage
	st.Reserved = s.cfg.DuReserved
	s.log.Info("volumes scanned", "volumes", len(s.cfg.DataDirs), "failed", st.FailedVolumes(), "took", time.Since(start), "datanode", st.DatanodeUUID())
	defer st.SaveDfsUsed()
	defer st.CloseOpenFiles()

	// NATS and the block pool services exist before HTTP serves (the
	// connection retries in the background), so handlers always see them.
	if s.cfg.NATSIdentity == "" {
		s.cfg.NATSIdentity = st.DatanodeUUID()
	}
	nc, err := natsconn.Connect(natsconn.Config{URL: s.cfg.NATSURL, Name: "granary-datanode-" + st.DatanodeUUID(), Identity: s.cfg.NATSIdentity,
		NKeyFile: s.cfg.NATSNKeyFile, CAFile: s.cfg.NATSCAFile})
	if err != nil {
		return fmt.Errorf("connecting to NATS at %s: %w", s.cfg.NATSURL, err)
	}
	s.nc = nc
	names, err := s.nameservices()
	if err != nil {
		nc.Close()
		return err
	}
	for _, ns := range names {
		s.addPool(newBPService(s, nc, ns.name, ns.coords))
	}
	ln, err := tlsconf.Listen(s.cfg.HTTPAddr, s.cfg.TLS)
	if err != nil {
		nc.Close()
		return fmt.Errorf("datanode HTTP: %w", err)
	}
	s.listener = ln
	close(s.addrSet)
	s.srv = lifecycle.NewServer(s.routes(), s.cfg.HTTPIdleTimeout)
	g.Go("datanode HTTP server", lifecycle.Serve(s.srv, ln, nil))
	g.Go("block pool manager", s.runActors)
	if s.cfg.ScanPeriod > 0 {
		for _, v := range st.Volumes() {
			g.Go("block scanner "+v.Dir, func(ctx context.Context) error { s.blockScanner(ctx, v); return nil })
		}
	}
	g.Go("volume checker", s.volumeChecker)
	g.Go("directory scanner", func(ctx context.Context) error { s.directoryScanner(ctx); return nil })
	g.Go("dfsUsed saver", func(ctx context.Context) error {
		// dfs.datanode.cached-dfsused.check.interval.ms: the figures are
		// saved periodically, so that a crash leaves recent ones, and at
		// shutdown.
		lifecycle.Every(ctx, s.cfg.CachedDfsUsedInterval, st.SaveDfsUsed)
		return nil
	})
	s.once.Do(func() { close(s.started) })
	s.log.Info("datanode started", "http", ln.Addr().String(), "nats", s.cfg.NATSURL)

	err = g.Wait()
	_ = nc.Drain()
	s.log.Info("datanode stopped", "err", err)
	return err
}

// Kill stops the datanode abruptly, as a crash would: every connection is
// closed at once, in-flight reads and writes included.
func (s *Service) Kill() {
	s.shutdown()
	if s.srv != nil {
		_ = s.srv.Close()
	}
}

// shutdown stops the datanode (a SHUTDOWN command or the admin API).
func (s *Service) shutdown() {
	if s.stop != nil {
		s.stop()
	}
}

func (s *Service) registration(bpid, clusterID string) dnproto.Registration {
	port, _ := strconv.Atoi(portOf(s.listener.Addr().String()))
	reg := dnproto.Registration{
		DatanodeUUID: s.store.DatanodeUUID(), ClusterID: clusterID, BlockPoolID: bpid,
		HostName: s.cfg.HostName, IPAddr: s.cfg.IPAddr, HTTPPort: port, SoftwareVersion: softwareVersion,
	}
	for _, v := range s.store.Volumes() {
		if v.Failed() == nil {
			reg.Storages = append(reg.Storages, dnproto.StorageInfo{StorageID: v.StorageID, StorageType: v.StorageType})
		}
	}
	return reg
}

// advertisedAddr is this datanode's HTTP address as others reach it.
func (s *Service) advertisedAddr() string {
	return net.JoinHostPort(s.cfg.IPAddr, portOf(s.listener.Addr().String()))
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// PutReplica stores a finalized replica of block id in the datanode's block
// pool and reports it received (the data path will write through the same
// storage; tests use it to place replicas).
func (s *Service) PutReplica(id, genStamp int64, data []byte) error {
	bpid := s.poolList()[0].blockPool()
	if bpid == "" {
		return errors.New("the datanode has no block pool yet")
	}
	r, err := s.store.WriteFinalized(bpid, id, genStamp, data)
	if err != nil {
		return err
	}
	s.queueIBR(bpid, dnproto.ReceivedDeleted{
		Block: dnproto.BlockRef{ID: id, GenStamp: genStamp, NumBytes: r.NumBytes}, Status: dnproto.Received, StorageID: r.Volume.StorageID,
	})
	return nil
}

// FinalizedPath is where HDFS's layout keeps the block file of a finalized
// replica of block id on the volume dataDir.
func FinalizedPath(dataDir, bpid string, id int64) string {
	return (&storage.Volume{Dir: dataDir}).FinalizedPath(bpid, id)
}

// MetaFileName is blk_<id>_<genstamp>.meta.
func MetaFileName(id, genStamp int64) string { return storage.MetaFileName(id, genStamp) }

// MetaFile returns the checksum (meta) file of a replica holding data.
func MetaFile(data []byte) []byte { return storage.ChecksumFile(data) }

// runActors runs one block pool service per nameservice (HDFS's
// BlockPoolManager). One that is refused for good (another cluster,
// another namespace's pool) ends alone; when none is left the datanode
// stops with the last refusal, as HDFS's does. A refresh (refreshNamenodes)
// re-reads -nameservices-file: services of new nameservices start, those of
// nameservices no longer listed stop (their replicas stay on disk, as
// HDFS's), the others go on.
func (s *Service) runActors(ctx context.Context) error {
	type ended struct {
		a   *bpService
		err error
	}
	endc := make(chan ended, 16)
	running := map[*bpService]context.CancelFunc{}
	start := func(a *bpService) {
		actx, cancel := context.WithCancel(ctx)
		running[a] = cancel
		go func() { endc <- ended{a, a.run(actx)} }()
	}
	for _, a := range s.poolList() {
		start(a)
	}
	var last error
	for {
		select {
		case <-ctx.Done():
			for _, cancel := range running {
				cancel()
			}
			for range running {
				<-endc
			}
			return nil
		case e := <-endc:
			delete(running, e.a)
			if e.err != nil {
				s.log.Error("a block pool service ended", "nameservice", e.a.ns, "err", e.err)
				last = e.err
			}
			if len(running) == 0 && ctx.Err() == nil {
				return last
			}
		case <-s.refresh:
			names, err := s.nameservices()
			if err != nil {
				s.log.Error("refreshNamenodes: cannot read the nameservices", "err", err)
				continue
			}
			listed := func(ns string) (nsSpec, bool) {
				i := slices.IndexFunc(names, func(n nsSpec) bool { return n.name == ns })
				if i < 0 {
					return nsSpec{}, false
				}
				return names[i], true
			}
			for _, a := range s.poolList() {
				if spec, ok := listed(a.ns); ok {
					a.refreshCoordinators(spec.coords)
					continue
				}
				s.log.Info("refreshNamenodes: stopping the block pool service", "nameservice", a.ns, "block_pool", a.blockPool())
				if cancel := running[a]; cancel != nil {
					cancel()
					for e := range endc {
						delete(running, e.a)
						if e.a == a {
							break
						}
						if e.err != nil {
							s.log.Error("a block pool service ended", "nameservice", e.a.ns, "err", e.err)
							last = e.err
						}
					}
				}
				s.removePool(a)
			}
			for _, ns := range names {
				if s.poolOf(ns.name) == nil {
					s.log.Info("refreshNamenodes: starting a block pool service", "nameservice", ns.name)
					a := newBPService(s, s.nc, ns.name, ns.coords)
					s.addPool(a)
					start(a)
				}
			}
		}
	}
}

// nsSpec is a nameservice to serve and the HA IDs of its coordinators
// (none: one coordinator without an ID).
type nsSpec struct {
	name   string
	coords []string
}

// nameservices is the list of nameservices to serve: -nameservices-file
// when set (re-read on every refresh), else -nameservices. A line of the
// file is a nameservice, optionally followed by its coordinators' IDs
// ("ns1 c1,c2", HDFS's dfs.ha.namenodes.ns1); without them, -coordinators
// gives them.
func (s *Service) nameservices() ([]nsSpec, error) {
	if s.cfg.NameservicesFile == "" {
		var out []nsSpec
		for _, ns := range s.cfg.Nameservices {
			out = append(out, nsSpec{ns, s.coordinatorsOf(ns)})
		}
		return out, nil
	}
	data, err := os.ReadFile(s.cfg.NameservicesFile)
	if err != nil {
		return nil, err
	}
	var out []nsSpec
	for i, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		spec := nsSpec{name: f[0], coords: s.coordinatorsOf(f[0])}
		switch {
		case len(f) == 2:
			spec.coords = nil
			for _, c := range strings.Split(f[1], ",") {
				if c = strings.TrimSpace(c); c != "" && !slices.Contains(spec.coords, c) {
					spec.coords = append(spec.coords, c)
				}
			}
			if len(spec.coords) == 0 {
				return nil, fmt.Errorf("%s:%d: no coordinator ID in %q", s.cfg.NameservicesFile, i+1, f[1])
			}
		case len(f) > 2:
			return nil, fmt.Errorf("%s:%d: want a nameservice and its coordinator IDs (ns1 c1,c2), got %q", s.cfg.NameservicesFile, i+1, strings.TrimSpace(l))
		}
		out = append(out, spec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no nameservice", s.cfg.NameservicesFile)
	}
	return out, nil
}

// coordinatorsOf is -coordinators for nameservice ns.
func (s *Service) coordinatorsOf(ns string) []string {
	if coords, ok := s.cfg.Coordinators[ns]; ok {
		return coords
	}
	return s.cfg.Coordinators[""]
}

// poolList is a copy of the block pool services.
func (s *Service) poolList() []*bpService {
	s.poolsMu.RLock()
	defer s.poolsMu.RUnlock()
	return slices.Clone(s.pools)
}

func (s *Service) addPool(a *bpService) {
	s.poolsMu.Lock()
	s.pools = append(s.pools, a)
	s.poolsMu.Unlock()
}

func (s *Service) removePool(a *bpService) {
	s.poolsMu.Lock()
	s.pools = slices.DeleteFunc(s.pools, func(x *bpService) bool { return x == a })
	s.poolsMu.Unlock()
}

// poolOf is the block pool service of nameservice ns, or nil.
func (s *Service) poolOf(ns string) *bpService {
	for _, a := range s.poolList() {
		if a.ns == ns {
			return a
		}
	}
	return nil
}

// poolFor is the block pool service of bpid, or nil.
func (s *Service) poolFor(bpid string) *bpService {
	// Every block request asks: no copy of the list.
	s.poolsMu.RLock()
	defer s.poolsMu.RUnlock()
	for _, a := range s.pools {
		if bpid != "" && a.blockPool() == bpid {
			return a
		}
	}
	return nil
}

// blockPools lists the block pools this datanode has joined.
func (s *Service) blockPools() []string {
	var out []string
	for _, a := range s.poolList() {
		if bp := a.blockPool(); bp != "" {
			out = append(out, bp)
		}
	}
	return out
}

// queueIBR queues replica changes of block pool bpid for its next
// incremental report (dropped for a pool no longer served).
func (s *Service) queueIBR(bpid string, items ...dnproto.ReceivedDeleted) {
	if a := s.poolFor(bpid); a != nil {
		a.queueIBR(items...)
	}
}

// reportBad reports a corrupt replica of block pool bpid.
func (s *Service) reportBad(bpid string, b dnproto.BlockRef, storageID string) {
	if a := s.poolFor(bpid); a != nil {
		a.reportBad(b, storageID)
	}
}

// FileIO returns how many of the profiled operations of kind op
// ("metadata", "read", "write" or "sync") the datanode's volumes made so
// far and what they took, their latencies summed
// (dfs.datanode.fileio.profiling.sampling.percentage).
func (s *Service) FileIO(op string) (n int64, d time.Duration) {
	k := slices.Index(storage.IOKinds[:], op)
	if s.store == nil || k < 0 {
		return 0, 0
	}
	for _, v := range s.store.Volumes() {
		stats, _ := v.FileIO()
		n, d = n+stats[k].Count, d+stats[k].Time
	}
	return n, d
}

// fileIOPercentage is dfs.datanode.fileio.profiling.sampling.percentage as
// HDFS takes it: 0 or less turns profiling off, more than 100 is 100.
func fileIOPercentage(p int, log *slog.Logger) int {
	if p <= 0 {
		log.Info(fmt.Sprintf("dfs.datanode.fileio.profiling.sampling.percentage set to %d. Disabling file IO profiling", p))
		return 0
	}
	log.Info(fmt.Sprintf("dfs.datanode.fileio.profiling.sampling.percentage set to %d. Enabling file IO profiling", p))
	if p > 100 {
		log.Warn("dfs.datanode.fileio.profiling.sampling.percentage value cannot be more than 100. Setting value to 100")
		p = 100
	}
	return p
}
