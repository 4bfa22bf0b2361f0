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
	"github.com/granary-fs/granary/services/metadata"
)

// Config configures the all-in-one cluster.
type Config struct {
	DataDir      string // where PostgreSQL's data (and later datanode volumes) live
	DatabaseURL  string // use this PostgreSQL instead of starting one
	MetadataAddr string // default :9870
	Logger       *slog.Logger
	// Metadata adjusts the metadata service's configuration before start.
	Metadata func(*metadata.Config)
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
	DatabaseURL string
	Metadata    *metadata.Service
	MetadataURL string
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
	mcfg := metadata.Config{DatabaseURL: dbURL, HTTPAddr: cfg.MetadataAddr, Logger: log}
	if cfg.Metadata != nil {
		cfg.Metadata(&mcfg)
	}
	mcfg.Defaults()
	firstRun, err := formatIfNeeded(ctx, mcfg, log)
	if err != nil {
		return err
	}
	svc := metadata.New(mcfg)
	errc := make(chan error, 1)
	go func() { errc <- svc.Run(ctx) }()
	select {
	case <-svc.Started():
	case err := <-errc:
		return err
	}
	c := &Cluster{DatabaseURL: dbURL, Metadata: svc, MetadataURL: "http://" + localAddr(svc.Addr())}
	if firstRun {
		if err := c.initLayout(ctx, mcfg.Superuser); err != nil {
			return fmt.Errorf("creating /tmp and /user: %w", err)
		}
	}
	if ready != nil {
		ready(c)
	}
	return <-errc
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
