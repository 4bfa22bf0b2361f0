// Package cluster runs the whole Granary cluster in one process: a local
// PostgreSQL (or the one at DatabaseURL) and the services. `granary dev`
// and the integration tests use it; it is the one package that imports
// every service.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/granary-fs/granary/internal/localpg"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/datanode"
	"github.com/granary-fs/granary/services/metadata"
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
	// Datanodes is how many datanodes to run (default 3); DatanodeAddrs
	// their HTTP addresses (default :9864, :9865, :9866, ...).
	Datanodes     int
	DatanodeAddrs []string
	Logger        *slog.Logger
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
	Datanodes      []*datanode.Service
	DatanodeURLs   []string
}

// Run starts everything, calls ready once the cluster serves, and blocks
// until ctx is done; then it stops the services and PostgreSQL.
func Run(ctx context.Context, cfg Config, ready func(*Cluster)) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir()
	}
	if cfg.MetadataAddr == "" {
		cfg.MetadataAddr = ":9870"
	}
	log := cfg.Logger
	dbURL := cfg.DatabaseURL
	if dbURL == "" {
		pg, err := startPostgres(ctx, cfg.DataDir, log)
		if err != nil {
			return err
		}
		defer func() {
			if err := pg.Stop(); err != nil {
				log.Error("stopping PostgreSQL", "err", err)
			}
		}()
		if dbURL, err = ensureDatabase(ctx, pg, "granary"); err != nil {
			return err
		}
	}
	natsSrv, err := startNATS(cfg.NATSAddr, filepath.Join(cfg.DataDir, "nats"))
	if err != nil {
		return err
	}
	defer natsSrv.Shutdown()
	c := &Cluster{DatabaseURL: dbURL, NATSURL: natsSrv.ClientURL()}

	mcfg := metadata.Config{DatabaseURL: dbURL, HTTPAddr: cfg.MetadataAddr, NATSURL: c.NATSURL, Logger: log}
	if cfg.Metadata != nil {
		cfg.Metadata(&mcfg)
	}
	mcfg.Defaults()
	firstRun, err := formatIfNeeded(ctx, mcfg, log)
	if err != nil {
		return err
	}
	var g runGroup
	defer g.stop()
	c.Metadata = metadata.New(mcfg)
	if err := g.start(ctx, "metadata", c.Metadata.Run, c.Metadata.Started()); err != nil {
		return err
	}
	c.MetadataURL = "http://" + localAddr(c.Metadata.Addr())

	ccfg := coordinator.Config{NATSURL: c.NATSURL, HTTPAddr: cfg.CoordinatorAddr, Logger: log}
	if ccfg.HTTPAddr == "" {
		ccfg.HTTPAddr = ":9880"
	}
	if cfg.Coordinator != nil {
		cfg.Coordinator(&ccfg)
	}
	if c.Coordinator, err = coordinator.New(ccfg); err != nil {
		return err
	}
	if err := g.start(ctx, "coordinator", c.Coordinator.Run, c.Coordinator.Started()); err != nil {
		return err
	}
	c.CoordinatorURL = "http://" + localAddr(c.Coordinator.Addr())

	n := cfg.Datanodes
	if n == 0 {
		n = 3
	}
	for i := 0; i < n; i++ {
		addr := fmt.Sprintf(":%d", 9864+i)
		if i < len(cfg.DatanodeAddrs) {
			addr = cfg.DatanodeAddrs[i]
		}
		dcfg := datanode.Config{
			DataDirs: []string{filepath.Join(cfg.DataDir, fmt.Sprintf("datanode%d", i+1))},
			NATSURL:  c.NATSURL, HTTPAddr: addr, Logger: log.With("datanode", i+1),
		}
		if cfg.Datanode != nil {
			cfg.Datanode(i, &dcfg)
		}
		dn, err := datanode.New(dcfg)
		if err != nil {
			return err
		}
		if err := g.start(ctx, fmt.Sprintf("datanode %d", i+1), dn.Run, dn.Started()); err != nil {
			return err
		}
		c.Datanodes = append(c.Datanodes, dn)
		c.DatanodeURLs = append(c.DatanodeURLs, "http://"+localAddr(dn.Addr()))
	}
	if firstRun {
		if err := c.initLayout(ctx, mcfg.Superuser); err != nil {
			return fmt.Errorf("creating /tmp and /user: %w", err)
		}
	}
	if ready != nil {
		ready(c)
	}
	return g.wait(ctx)
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

// initLayout creates /tmp (1777) and /user (755) like a fresh HDFS install,
// through WebHDFS as the superuser, once safe mode is off.
func (c *Cluster) initLayout(ctx context.Context, superuser string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for c.Metadata.SafeMode().On() {
		if time.Now().After(deadline) {
			return errors.New("safe mode did not turn off")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Metadata.SafeMode().Changed():
		case <-time.After(time.Second):
		}
	}
	u := url.QueryEscape(superuser)
	for _, op := range []string{
		"/tmp?op=MKDIRS&permission=1777", "/tmp?op=SETPERMISSION&permission=1777", "/user?op=MKDIRS&permission=755",
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.MetadataURL+"/webhdfs/v1"+op+"&user.name="+u, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", op, resp.Status)
		}
	}
	return nil
}

// localAddr turns a listen address like [::]:9870 into one to dial.
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
