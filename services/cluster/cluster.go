// Package cluster runs the whole Granary cluster in one process: a local
// PostgreSQL (or the one at DatabaseURL) and the services. `granary dev`
// and the integration tests use it; it is the one package that imports
// every service.
package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/devissuer"
	"github.com/granary-fs/granary/internal/lifecycle"
	"github.com/granary-fs/granary/internal/localpg"
	"github.com/granary-fs/granary/internal/natsauth"
	"github.com/granary-fs/granary/internal/tlsconf"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/datanode"
	"github.com/granary-fs/granary/services/metadata"
	"github.com/granary-fs/granary/services/router"
)

// Config configures the all-in-one cluster.
type Config struct {
	DataDir      string // where PostgreSQL's data (and later datanode volumes) live
	DatabaseURL  string // use this PostgreSQL instead of starting one
	MetadataAddr string // default :9870
	// CoordinatorAddr is the coordinator's HTTP address (default :9880).
	CoordinatorAddr string
	// NATSAddr is the embedded NATS server's address (default 127.0.0.1:4222).
	NATSAddr string
	// NATSCluster runs that many embedded NATS servers as a NATS cluster
	// (routes between them), on NATSAddr's port and the ones after it
	// (any free ports when it is 0); every service is given them all.
	NATSCluster int
	// ExternalNATS, when set, is the URL of NATS servers the services use
	// instead of an embedded one — e.g. a NATS cluster's members, comma
	// separated (plain NATS: not with SecureNATS).
	ExternalNATS string
	// Datanodes is how many datanodes to run (default 3); DatanodeAddrs
	// their HTTP addresses (default :9864, :9865, :9866, ...).
	Datanodes     int
	DatanodeAddrs []string
	// SecureNATS runs the embedded NATS server with one nkey per service
	// and per-subject permissions (internal/natsauth): the seeds go to
	// <DataDir>/nats-keys, datanode i is NATS identity dn<i+1>.
	SecureNATS bool
	// Secure runs everything secured (`granary dev -secure`): SecureNATS,
	// token mode against a development OIDC issuer at IssuerAddr
	// (default 127.0.0.1:9871), block tokens, HTTPS from a throwaway CA.
	Secure     bool
	IssuerAddr string
	// Nameservices is how many nameservices share the datanodes
	// (federation; default 1). Nameservice k+1 (k from 1) gets its own
	// database (FederatedDatabaseURLs[k-1], else one of the local
	// PostgreSQL), metadata service (FederatedMetadataAddrs[k-1], default
	// :9870+2k) and coordinator (FederatedCoordinatorAddrs[k-1], default
	// :9880+2k).
	Nameservices int
	// Router runs `granary router` over every nameservice (RouterAddr,
	// default :50071; its mount table in RouterDatabaseURL, else a database
	// of the local PostgreSQL), mounting /<ns> on each nameservice's root
	// when the table is empty.
	Router bool
	// HA runs each nameservice's metadata service as nn1 with a standby
	// nn2 on the same database, and its coordinator as c1 with a second
	// one, c2; the datanodes report to both. ns1's nn2 is on StandbyAddr
	// and its c2 on StandbyCoordinatorAddr; unset, and for the other
	// nameservices, each is on the port after its nn1's or c1's (the
	// federation layout leaves it free: ns2 is nn1 :9872, nn2 :9873, c1
	// :9882, c2 :9883).
	HA                                                bool
	StandbyAddr, StandbyCoordinatorAddr               string
	RouterAddr, RouterDatabaseURL                     string
	FederatedDatabaseURLs                             []string
	FederatedMetadataAddrs, FederatedCoordinatorAddrs []string
	Logger                                            *slog.Logger
	// Metadata, Coordinator and Datanode adjust each service's
	// configuration before start (tests shorten intervals with them).
	Metadata    func(*metadata.Config)
	Coordinator func(*coordinator.Config)
	Datanode    func(i int, c *datanode.Config)
}

// DefaultDataDir is ~/.local/share/granary/dev, or /var/lib/granary/dev for root.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/granary/dev"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "granary", "dev")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "granary", "dev")
}

// Cluster is a running all-in-one cluster.
type Cluster struct {
	DatabaseURL    string
	NATSURL        string
	Metadata       *metadata.Service
	MetadataURL    string
	Coordinator    *coordinator.Service
	CoordinatorURL string
	Datanodes      []*datanode.Service // nil where stopped
	DatanodeURLs   []string
	// Secure mode: the development issuer, its URL, and the CA that
	// signed every service's certificate.
	Issuer    *devissuer.Issuer
	IssuerURL string
	CAFile    string
	issuerSrv *http.Server
	// Federated are the nameservices after ns1 (Nameservices > 1).
	Federated []*Nameservice
	// Standby and StandbyURL: ns1's standby metadata service (Config.HA).
	Standby    *metadata.Service
	StandbyURL string
	// Coordinator2 and Coordinator2URL: ns1's second coordinator, c2
	// (Config.HA); Coordinator is c1.
	Coordinator2    *coordinator.Service
	Coordinator2URL string
	// Router and RouterURL: the router, with Config.Router.
	Router    *router.Service
	RouterURL string
	auth      auth.Config
	tls       tlsconf.Files

	cfg     Config
	mcfg    metadata.Config
	pg      *localpg.Server
	nats    []*server.Server
	members map[string]*member
	failed  chan error
}

// Run starts the cluster, calls ready once it serves, and blocks until ctx
// is done (or a service stops by itself); then it stops everything.
func Run(ctx context.Context, cfg Config, ready func(*Cluster)) error {
	c, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Stop()
	if ready != nil {
		ready(c)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-c.failed:
		return err
	}
}

// Start starts PostgreSQL (unless DatabaseURL is set), embedded NATS, the
// metadata service (formatting the namespace on first run), the
// coordinator and the datanodes; on first run it creates /tmp and /user.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir()
	}
	if cfg.MetadataAddr == "" {
		cfg.MetadataAddr = ":9870"
	}
	if cfg.CoordinatorAddr == "" {
		cfg.CoordinatorAddr = ":9880"
	}
	if cfg.Datanodes == 0 {
		cfg.Datanodes = 3
	}
	c = &Cluster{cfg: cfg, members: map[string]*member{}, failed: make(chan error, 16), DatabaseURL: cfg.DatabaseURL}
	started := c // c is nil once an error is returned
	defer func() {
		if err != nil {
			started.Stop()
		}
	}()
	log := cfg.Logger
	if c.DatabaseURL == "" {
		if c.pg, err = startPostgres(ctx, cfg.DataDir, log); err != nil {
			return nil, err
		}
		if c.DatabaseURL, err = ensureDatabase(ctx, c.pg, "granary"); err != nil {
			return nil, err
		}
	}
	if cfg.Secure {
		cfg.SecureNATS = true
		c.cfg.SecureNATS = true
		if c.auth, c.tls, err = c.secureSetup(ctx); err != nil {
			return nil, err
		}
	}
	var users []*server.NkeyUser
	if cfg.SecureNATS {
		names := make([]string, cfg.Datanodes)
		for i := range names {
			names[i] = datanodeIdentity(i)
		}
		ids, err := natsauth.Generate(c.NATSKeyDir(), names)
		if err != nil {
			return nil, fmt.Errorf("NATS keys: %w", err)
		}
		users = natsauth.Users(ids)
	}
	var natsTLS *tls.Config
	if cfg.Secure {
		if natsTLS, err = c.tls.Server(); err != nil {
			return nil, err
		}
	}
	if cfg.ExternalNATS != "" {
		c.NATSURL = cfg.ExternalNATS
	} else {
		if c.nats, err = startNATS(cfg.NATSAddr, filepath.Join(cfg.DataDir, "nats"), cfg.NATSCluster, users, natsTLS); err != nil {
			return nil, err
		}
		urls := make([]string, len(c.nats))
		for i, ns := range c.nats {
			urls[i] = ns.ClientURL()
		}
		c.NATSURL = strings.Join(urls, ",")
	}
	// Upgrade: a development data directory made by an older build has its
	// schema migrated at start (kept for a rollback until finalized).
	c.mcfg = metadata.Config{DatabaseURL: c.DatabaseURL, HTTPAddr: cfg.MetadataAddr, NATSURL: c.NATSURL, Logger: log, Upgrade: true}
	if cfg.SecureNATS {
		c.mcfg.NATSNKeyFile = c.NATSKey("metadata")
	}
	c.mcfg.NATSCAFile = c.CAFile
	c.mcfg.Auth, c.mcfg.TLS = c.auth, c.tls
	if cfg.HA {
		c.mcfg.NamenodeID = "nn1"
	}
	if cfg.Metadata != nil {
		cfg.Metadata(&c.mcfg)
	}
	c.mcfg.Defaults()
	firstRun, err := formatIfNeeded(ctx, c.mcfg, log)
	if err != nil {
		return nil, err
	}
	if err := c.StartMetadata(ctx); err != nil {
		return nil, err
	}
	if cfg.HA {
		if err := c.startStandby(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.StartCoordinator(ctx); err != nil {
		return nil, err
	}
	if cfg.HA {
		if err := waitActive(ctx, c.Coordinator); err != nil {
			return nil, err
		}
		if err := c.StartCoordinator2(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.startFederated(ctx); err != nil {
		return nil, err
	}
	if cfg.Router {
		if err := c.startRouter(ctx); err != nil {
			return nil, err
		}
	}
	c.Datanodes = make([]*datanode.Service, cfg.Datanodes)
	c.DatanodeURLs = make([]string, cfg.Datanodes)
	for i := range c.Datanodes {
		if err := c.StartDatanode(ctx, i); err != nil {
			return nil, err
		}
	}
	if firstRun {
		if err := c.Metadata.CreateInitialLayout(ctx); err != nil {
			return nil, fmt.Errorf("creating /tmp and /user: %w", err)
		}
	}
	return c, nil
}

// StartMetadata (re)starts the metadata service, on the same address as before.
func (c *Cluster) StartMetadata(ctx context.Context) error {
	cfg := c.mcfg
	if c.MetadataURL != "" {
		cfg.HTTPAddr = hostPort(c.MetadataURL)
	}
	c.Metadata = metadata.New(cfg)
	if err := c.start(ctx, "metadata", c.Metadata.Run, c.Metadata.Started()); err != nil {
		return err
	}
	c.MetadataURL = c.tls.Scheme() + "://" + localAddr(c.Metadata.Addr())
	return nil
}

// StartCoordinator (re)starts the coordinator, on the same address as before.
func (c *Cluster) StartCoordinator(ctx context.Context) error {
	addr := c.cfg.CoordinatorAddr
	if c.CoordinatorURL != "" {
		addr = hostPort(c.CoordinatorURL)
	}
	svc, err := coordinator.New(c.coordinatorConfig(addr))
	if err != nil {
		return err
	}
	c.Coordinator = svc
	if err := c.start(ctx, "coordinator", svc.Run, svc.Started()); err != nil {
		return err
	}
	c.CoordinatorURL = c.tls.Scheme() + "://" + localAddr(svc.Addr())
	return nil
}

// StartCoordinator2 (re)starts ns1's second coordinator, c2 (Config.HA).
func (c *Cluster) StartCoordinator2(ctx context.Context) error {
	addr := c.cfg.StandbyCoordinatorAddr
	if c.Coordinator2URL != "" {
		addr = hostPort(c.Coordinator2URL)
	}
	if addr == "" {
		addr = nextPort(c.cfg.CoordinatorAddr)
	}
	var err error
	c.Coordinator2, c.Coordinator2URL, err = c.startCoordinator2(ctx, "coordinator2", c.coordinatorConfig(addr))
	return err
}

// startCoordinator2 starts a nameservice's second coordinator, c2, as
// member name with ccfg (its c1's configuration on c2's address).
func (c *Cluster) startCoordinator2(ctx context.Context, name string, ccfg coordinator.Config) (*coordinator.Service, string, error) {
	ccfg.CoordinatorID = "c2"
	svc, err := coordinator.New(ccfg)
	if err != nil {
		return nil, "", err
	}
	if err := c.start(ctx, name, svc.Run, svc.Started()); err != nil {
		return nil, "", err
	}
	return svc, c.tls.Scheme() + "://" + localAddr(svc.Addr()), nil
}

// waitActive waits until coordinator c1 holds the active role, so that c2,
// started after it, is the standby (the documented layout).
func waitActive(ctx context.Context, c1 *coordinator.Service) error {
	deadline := time.Now().Add(30 * time.Second)
	for !c1.IsActive() {
		if time.Now().After(deadline) {
			return fmt.Errorf("coordinator c1 did not become active")
		}
		if !lifecycle.Sleep(ctx, 10*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// StopCoordinator2 stops ns1's second coordinator (Config.HA).
func (c *Cluster) StopCoordinator2() error { return c.stopMember("coordinator2") }

// coordinatorConfig is a coordinator's configuration on addr, after the
// Coordinator hook.
func (c *Cluster) coordinatorConfig(addr string) coordinator.Config {
	ccfg := coordinator.Config{NATSURL: c.NATSURL, HTTPAddr: addr, Logger: c.cfg.Logger,
		Superuser: c.mcfg.Superuser, Supergroup: c.mcfg.Supergroup, Nameservice: c.mcfg.Nameservice}
	if c.cfg.HA {
		ccfg.CoordinatorID = "c1"
	}
	if c.cfg.SecureNATS {
		ccfg.NATSNKeyFile = c.NATSKey("coordinator")
	}
	ccfg.NATSCAFile = c.CAFile
	ccfg.Auth, ccfg.TLS = c.auth, c.tls
	if c.cfg.Coordinator != nil {
		c.cfg.Coordinator(&ccfg)
	}
	return ccfg
}

// StartDatanode (re)starts datanode i on its volume datanode<i+1>.
func (c *Cluster) StartDatanode(ctx context.Context, i int) error {
	addr := fmt.Sprintf(":%d", 9864+i)
	if i < len(c.cfg.DatanodeAddrs) {
		addr = c.cfg.DatanodeAddrs[i]
	}
	if c.DatanodeURLs[i] != "" {
		addr = hostPort(c.DatanodeURLs[i])
	}
	dcfg := datanode.Config{
		Superuser: c.mcfg.Superuser, Supergroup: c.mcfg.Supergroup,
		DataDirs: []string{c.DatanodeDir(i)},
		NATSURL:  c.NATSURL, HTTPAddr: addr, Logger: c.cfg.Logger.With("datanode", i+1),
	}
	if c.cfg.SecureNATS {
		dcfg.NATSIdentity, dcfg.NATSNKeyFile = datanodeIdentity(i), c.NATSKey(datanodeIdentity(i))
	}
	dcfg.NATSCAFile = c.CAFile
	dcfg.Auth, dcfg.TLS = c.auth, c.tls
	dcfg.Nameservices = c.nameserviceNames()
	if c.cfg.HA {
		dcfg.Coordinators = map[string][]string{}
		for _, ns := range dcfg.Nameservices {
			dcfg.Coordinators[ns] = []string{"c1", "c2"}
		}
	}
	if c.cfg.Datanode != nil {
		c.cfg.Datanode(i, &dcfg)
	}
	dn, err := datanode.New(dcfg)
	if err != nil {
		return err
	}
	if err := c.start(ctx, datanodeName(i), dn.Run, dn.Started()); err != nil {
		return err
	}
	c.Datanodes[i] = dn
	c.DatanodeURLs[i] = c.tls.Scheme() + "://" + localAddr(dn.Addr())
	return nil
}

// NATSServers are the embedded NATS servers (none with ExternalNATS).
func (c *Cluster) NATSServers() []*server.Server { return c.nats }

// NATSKeyDir holds the services' nkey seeds with SecureNATS.
func (c *Cluster) NATSKeyDir() string { return filepath.Join(c.cfg.DataDir, "nats-keys") }

// NATSKey is the seed file of NATS identity name (metadata, coordinator,
// dn1, ...).
func (c *Cluster) NATSKey(name string) string { return filepath.Join(c.NATSKeyDir(), name+".nk") }

func datanodeIdentity(i int) string { return fmt.Sprintf("dn%d", i+1) }

// DatanodeDir is the volume of datanode i.
func (c *Cluster) DatanodeDir(i int) string {
	return filepath.Join(c.cfg.DataDir, fmt.Sprintf("datanode%d", i+1))
}

func datanodeName(i int) string { return fmt.Sprintf("datanode %d", i+1) }

// StopMetadata stops the metadata service; StartMetadata brings it back.
func (c *Cluster) StopMetadata() error { return c.stopMember("metadata") }

// StopCoordinator stops the coordinator; StartCoordinator brings it back.
func (c *Cluster) StopCoordinator() error { return c.stopMember("coordinator") }

// StopDatanode stops datanode i; StartDatanode brings it back.
func (c *Cluster) StopDatanode(i int) error {
	err := c.stopMember(datanodeName(i))
	c.Datanodes[i] = nil
	return err
}

// KillDatanode stops datanode i abruptly, connections cut mid-transfer.
func (c *Cluster) KillDatanode(i int) error {
	if dn := c.Datanodes[i]; dn != nil {
		dn.Kill()
	}
	return c.StopDatanode(i)
}

// Stop stops every service (datanodes, coordinator, metadata), NATS and
// PostgreSQL.
func (c *Cluster) Stop() {
	for i := range c.Datanodes {
		_ = c.StopDatanode(i)
	}
	_ = c.stopMember("router")
	c.stopFederated()
	_ = c.StopCoordinator2()
	_ = c.StopCoordinator()
	_ = c.StopMetadata()
	_ = c.stopMember("metadata-standby")
	if c.issuerSrv != nil {
		_ = c.issuerSrv.Close()
	}
	shutdownNATS(c.nats)
	c.nats = nil
	if c.pg != nil {
		if err := c.pg.Stop(); err != nil {
			c.cfg.Logger.Error("stopping PostgreSQL", "err", err)
		}
		c.pg = nil
	}
}

// startPostgres starts (initialising on first use) the PostgreSQL kept in
// dataDir/postgres, on the port it used before.
func startPostgres(ctx context.Context, dataDir string, log *slog.Logger) (*localpg.Server, error) {
	pgDir := filepath.Join(dataDir, "postgres")
	portFile := filepath.Join(dataDir, "postgres.port")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	port := 0
	if b, err := os.ReadFile(portFile); err == nil {
		port, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if port == 0 {
		p, err := localpg.FreePort()
		if err != nil {
			return nil, err
		}
		port = p
		if err := os.WriteFile(portFile, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	log.Info("starting local PostgreSQL", "dir", pgDir, "port", port)
	return localpg.Start(ctx, pgDir, port)
}

func ensureDatabase(ctx context.Context, pg *localpg.Server, name string) (string, error) {
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", err
		}
	}
	return pg.URL(name), nil
}

// formatIfNeeded formats the namespace the first time; it reports whether it did.
func formatIfNeeded(ctx context.Context, cfg metadata.Config, log *slog.Logger) (bool, error) {
	done, err := metadata.IsFormatted(ctx, cfg)
	if err != nil || done {
		return false, err
	}
	ni, err := metadata.Format(ctx, cfg, metadata.FormatOptions{})
	if err != nil {
		return false, err
	}
	log.Info("formatted a new namespace", "cluster_id", ni.ClusterID, "block_pool_id", ni.BlockPoolID)
	return true, nil
}

// localAddr turns a listen address like [::]:9870 into one to dial.
// hostPort is the host:port of a service URL.
func hostPort(u string) string { return u[strings.Index(u, "://")+3:] }

func localAddr(addr string) string {
	if strings.HasPrefix(addr, "[::]:") || strings.HasPrefix(addr, "0.0.0.0:") {
		return "localhost" + addr[strings.LastIndex(addr, ":"):]
	}
	return addr
}

// CurrentUser is the OS user running the process.
func CurrentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "hdfs"
}

// startStandby starts ns1's standby metadata service (nn2) and waits until
// it serves HTTP as standby.
func (c *Cluster) startStandby(ctx context.Context) error {
	addr := c.cfg.StandbyAddr
	if addr == "" {
		addr = nextPort(c.mcfg.HTTPAddr)
	}
	var err error
	c.Standby, c.StandbyURL, err = c.startStandbyMetadata(ctx, "metadata-standby", c.mcfg, addr)
	return err
}

// startStandbyMetadata starts a nameservice's standby metadata service,
// nn2, as member name with cfg (its nn1's configuration) on addr, and
// waits until it serves HTTP.
func (c *Cluster) startStandbyMetadata(ctx context.Context, name string, cfg metadata.Config, addr string) (*metadata.Service, string, error) {
	cfg.NamenodeID, cfg.HTTPAddr = "nn2", addr
	svc := metadata.New(cfg)
	listening := make(chan struct{})
	go func() { svc.Addr(); close(listening) }()
	if err := c.start(ctx, name, svc.Run, listening); err != nil {
		return nil, "", err
	}
	return svc, c.tls.Scheme() + "://" + localAddr(svc.Addr()), nil
}

// nextPort is addr with the next port number (":9870" → ":9871"); a port
// chosen by the system (0) stays 0.
func nextPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	p, _ := strconv.Atoi(port)
	if p == 0 {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1))
}
