// Package router is `granary router`, HDFS's router-based federation
// (DFSRouter): one WebHDFS endpoint over every nameservice through a mount
// table kept in PostgreSQL. It forwards each operation, with the caller's
// own credential (user.name, doas, delegation, Authorization), to the
// metadata service of the nameservice the path is mounted from, with the
// path rewritten; data operations are redirected to that nameservice's
// datanodes as usual. Paths above the mount points are the router's own:
// it lists mount points as directories and sums content summaries over
// them, as RBF does; a rename across nameservices is refused.
package router

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/failover"
	"github.com/granary-fs/granary/internal/lifecycle"
	"github.com/granary-fs/granary/internal/simpleauth"
)

// Config configures a router.
type Config struct {
	// Conf is the effective configuration as the command built it —
	// flags, GRANARY_* variables, -conf files, defaults — which GET /conf
	// shows.
	Conf        []api.ConfProperty
	HTTPAddr    string // dfs.federation.router.http-address, default :50071
	DatabaseURL string // the mount table's PostgreSQL (the State Store)
	// Nameservices maps each nameservice to its metadata service's URL,
	// or the comma-separated URLs of its HA metadata services (the router
	// fails over between them).
	Nameservices map[string]string
	// Superuser owns the directories the router shows for mount points
	// and alone may change the mount table (with Supergroup).
	Superuser, Supergroup string
	// Auth authenticates the mount table's callers (-auth simple|token);
	// WebHDFS calls are forwarded with their credential and checked by
	// the nameservices.
	Auth            auth.Config
	HTTPIdleTimeout time.Duration
	Logger          *slog.Logger
}

// Service is a router.
type Service struct {
	authn  *auth.Authenticator
	cfg    Config
	log    *slog.Logger
	mounts mountTable
	proxy  *http.Client
	// nameservices holds each nameservice's metadata services.
	nameservices map[string]*failover.Targets
	ids          *callIDs
	started      chan struct{}
	addrSet      chan struct{}
	listener     net.Listener
}

// New returns a router; nothing happens until Run.
func New(cfg Config) (*Service, error) {
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = ":50071"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Superuser == "" {
		cfg.Superuser = "hdfs"
	}
	if cfg.Supergroup == "" {
		cfg.Supergroup = "supergroup"
	}
	if len(cfg.Nameservices) == 0 {
		return nil, fmt.Errorf("router: no nameservice (-nameservice ns1=http://host:9870)")
	}
	nss := map[string]*failover.Targets{}
	for ns, u := range cfg.Nameservices {
		cfg.Nameservices[ns] = strings.TrimRight(u, "/")
		if nss[ns] = failover.New(u); nss[ns].Current() == "" {
			return nil, fmt.Errorf("router: nameservice %s has no URL", ns)
		}
	}
	authn, err := auth.New(cfg.Auth, simpleauth.Policy{Superuser: cfg.Superuser, Supergroup: cfg.Supergroup}, nil)
	if err != nil {
		return nil, err
	}
	return &Service{
		authn: authn,
		cfg:   cfg, log: cfg.Logger.With("service", "router"),
		proxy: &http.Client{
			Transport:     &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		nameservices: nss, ids: newCallIDs(),
		started: make(chan struct{}), addrSet: make(chan struct{}),
	}, nil
}

// Addr is the HTTP address once listening.
func (s *Service) Addr() string {
	<-s.addrSet
	return s.listener.Addr().String()
}

// Started is closed once the router serves.
func (s *Service) Started() <-chan struct{} { return s.started }

// Run serves until ctx ends or a component fails.
func (s *Service) Run(ctx context.Context) error {
	db, err := pgxpool.New(ctx, s.cfg.DatabaseURL)
	if err != nil {
		close(s.started)
		return fmt.Errorf("router State Store: %w", err)
	}
	defer db.Close()
	s.mounts.db = db
	if err := s.mounts.init(ctx); err != nil {
		close(s.started)
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		close(s.started)
		return fmt.Errorf("router HTTP: %w", err)
	}
	s.listener = ln
	close(s.addrSet)
	g := lifecycle.New(ctx)
	g.Go("router HTTP server", lifecycle.Serve(lifecycle.NewServer(s.routes(), s.cfg.HTTPIdleTimeout), ln, nil))
	// Other routers may change the table: it is read again every few
	// seconds (RBF's cache refresh).
	g.Go("mount table refresher", func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(5 * time.Second):
				if err := s.mounts.reload(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("mount table refresh failed", "err", err)
				}
			}
		}
	})
	close(s.started)
	s.log.Info("router started", "http", ln.Addr().String(), "nameservices", len(s.cfg.Nameservices))
	return g.Wait()
}

// nameserviceNames lists the nameservices, sorted.
func (s *Service) nameserviceNames() []string {
	var out []string
	for ns := range s.cfg.Nameservices {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// Mounts lists the mount table.
func (s *Service) Mounts() []api.MountEntry { return s.mounts.list() }

// PutMount adds or replaces a mount point.
func (s *Service) PutMount(ctx context.Context, e api.MountEntry) error {
	return s.mounts.put(ctx, e, s.cfg.Nameservices)
}
