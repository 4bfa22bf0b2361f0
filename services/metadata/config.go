package metadata

import (
	"log/slog"
	"os/user"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/tlsconf"
	"github.com/granary-fs/granary/services/metadata/internal/store"
)

// Config configures the metadata service. Zero fields take HDFS's defaults
// (hdfs-default.xml) through Defaults.
type Config struct {
	// Conf is the effective configuration as the command built it —
	// flags, GRANARY_* variables, -conf files, defaults — which GET /conf
	// shows.
	Conf        []api.ConfProperty
	DatabaseURL string
	HTTPAddr    string // dfs.namenode.http-address, default :9870
	// HTTPIdleTimeout closes idle keep-alive connections
	// (hadoop.http.idle_timeout.ms, 60 s).
	HTTPIdleTimeout time.Duration
	// NATSURL is the NATS server(s) shared with the coordinator (comma
	// separated); empty runs the namespace alone, without block management.
	NATSURL string
	// Nameservice is dfs.nameservice.id (default ns1): it names this
	// namespace in every NATS subject, so that nameservices sharing NATS
	// and datanodes never see each other's traffic.
	Nameservice string
	// NamenodeID (dfs.ha.namenode.id) turns on HA: several metadata
	// services of one nameservice share its database; the one holding the
	// writer lock (a PostgreSQL session-held advisory lock) is active, the
	// others are standby until it goes (docs/ha.md).
	NamenodeID string
	// NATSNKeyFile and NATSCAFile authenticate to NATS with an nkey and
	// check its TLS certificate (docs/security.md).
	NATSNKeyFile, NATSCAFile string
	// TLS is the HTTPS material (-tls-cert, -tls-key, -tls-client-ca,
	// -tls-ca); with a certificate WebHDFS redirects name https datanodes.
	TLS tlsconf.Files
	// AdvertiseAddr is host:port datanodes use to reach this service in
	// WebHDFS redirects (namenoderpcaddress); default: the Host the client used.
	AdvertiseAddr string
	// RedirectToDatanodeHostname puts datanodes' host names, not their IP
	// addresses, in WebHDFS redirects (HDFS's dfs.client.use.datanode.hostname):
	// for clients outside the network the datanodes talk on (docker compose).
	RedirectToDatanodeHostname bool
	DBMaxConns                 int32 // at least the expected concurrency

	Superuser  string // default: the user running the process
	Supergroup string // dfs.permissions.superusergroup

	// SafeModeThresholdPct is dfs.namenode.safemode.threshold-pct; 0 means
	// the default 0.999, a negative value waits for no block (HDFS's ≤ 0:
	// the CLI's -safemode-threshold-pct 0).
	SafeModeThresholdPct float64
	SafeModeMinDatanodes int           // dfs.namenode.safemode.min.datanodes
	SafeModeExtension    time.Duration // dfs.namenode.safemode.extension

	CheckpointTxns   int64         // dfs.namenode.checkpoint.txns
	CheckpointPeriod time.Duration // dfs.namenode.checkpoint.period
	CheckpointCheck  time.Duration // dfs.namenode.checkpoint.check.period
	// LocationCacheSize is how many blocks' locations are kept for readers
	// (locations.go; 0: 100,000; negative: none), each at most
	// LocationCacheTTL (0: 5 min; the coordinator's announcements keep them
	// current, the age limit only bounds what a fault could leave).
	LocationCacheSize int
	LocationCacheTTL  time.Duration
	// ExtraEditsRetained is dfs.namenode.num.extra.edits.retained: edits
	// kept before the oldest retained image, so that a standby lagging
	// behind a checkpoint can still tail them (0: 1,000,000; negative:
	// none).
	ExtraEditsRetained int64
	// Upgrade is HDFS's -upgrade start option: a database schema older
	// than this service's is migrated, keeping the image it starts from
	// until the upgrade is finalized (admin -finalizeUpgrade) or rolled
	// back (granary metadata rollback). Without it such a schema refuses
	// to start.
	Upgrade bool
	// ResourceReserved is dfs.namenode.resource.du.reserved (100 MB): when a
	// checked volume has less free space, the service enters safe mode for
	// low resources, left only by a manual leave. Negative: no check.
	ResourceReserved int64
	// ResourceDirs are extra directories whose volumes are checked
	// (dfs.namenode.resource.checked.volumes), besides the audit log's and
	// PostgreSQL's data directory when it is on this machine.
	ResourceDirs []string
	// ResourceCheckInterval is dfs.namenode.resource.check.interval (5 s).
	ResourceCheckInterval time.Duration

	MinBlockSize int64 // dfs.namenode.fs-limits.min-block-size
	// Lease limits (HdfsConstants.LEASE_SOFTLIMIT_PERIOD, 60 s, and
	// dfs.namenode.lease-hard-limit-sec, 20 min) and the monitor period (2 s).
	LeaseSoftLimit time.Duration
	LeaseHardLimit time.Duration
	LeaseCheck     time.Duration
	EditLogRetry   time.Duration // how long a failing batch is retried before the service stops
	// EditLogNoGather commits each edit-log batch as soon as the last one
	// is committed (HDFS's FSEditLog), instead of letting it grow while the
	// last batch's callers come back (docs/formats/edit-log.md).
	EditLogNoGather bool
	TrashInterval   int64 // fs.trash.interval, minutes (0: no trash)
	// TrashCheckpointInterval is fs.trash.checkpoint.interval: how often the
	// trash emptier runs (0 or more than TrashInterval: TrashInterval).
	TrashCheckpointInterval time.Duration

	// Auth is how callers authenticate (-auth simple|token, the OIDC
	// issuer, proxy-user rules).
	Auth auth.Config
	// Delegation tokens: dfs.namenode.delegation.key.update-interval (1
	// day), dfs.namenode.delegation.token.max-lifetime (7 days) and
	// dfs.namenode.delegation.token.renew-interval (1 day).
	DelegationKeyUpdateInterval  time.Duration
	DelegationTokenMaxLifetime   time.Duration
	DelegationTokenRenewInterval time.Duration
	// Block tokens (on in token mode): dfs.block.access.key.update.interval
	// (600 min) and dfs.block.access.token.lifetime (600 min).
	BlockKeyUpdateInterval time.Duration
	BlockTokenLifetime     time.Duration

	// AuditLog is where the audit log goes (HDFS's hdfs-audit.log): a file,
	// "-" for standard error, "" for none.
	AuditLog string

	// InitialLayout creates /tmp and /user once the service is up
	// (CreateInitialLayout): for a namespace formatted just before.
	InitialLayout bool

	Logger *slog.Logger
	// BlockReports feeds safe mode; nil until a coordinator exists.
	BlockReports BlockReports
}

// Defaults fills zero fields with the defaults.
func (c *Config) Defaults() {
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":9870"
	}
	if c.DBMaxConns == 0 {
		c.DBMaxConns = 16
	}
	if c.Superuser == "" {
		if u, err := user.Current(); err == nil {
			c.Superuser = u.Username
		} else {
			c.Superuser = "hdfs"
		}
	}
	if c.Supergroup == "" {
		c.Supergroup = "supergroup"
	}
	if c.Nameservice == "" {
		c.Nameservice = dnproto.DefaultNameservice
	}
	if c.DelegationKeyUpdateInterval <= 0 {
		c.DelegationKeyUpdateInterval = 24 * time.Hour
	}
	if c.DelegationTokenMaxLifetime <= 0 {
		c.DelegationTokenMaxLifetime = 7 * 24 * time.Hour
	}
	if c.DelegationTokenRenewInterval <= 0 {
		c.DelegationTokenRenewInterval = 24 * time.Hour
	}
	if c.BlockKeyUpdateInterval <= 0 {
		c.BlockKeyUpdateInterval = 600 * time.Minute
	}
	if c.BlockTokenLifetime <= 0 {
		c.BlockTokenLifetime = 600 * time.Minute
	}
	if c.SafeModeThresholdPct == 0 {
		c.SafeModeThresholdPct = 0.999
	}
	if c.SafeModeExtension < 0 {
		c.SafeModeExtension = 0
	}
	if c.LocationCacheSize == 0 {
		c.LocationCacheSize = 100_000
	}
	if c.LocationCacheTTL == 0 {
		c.LocationCacheTTL = 5 * time.Minute
	}
	if c.ExtraEditsRetained == 0 {
		c.ExtraEditsRetained = store.DefaultExtraEditsRetained
	}
	if c.CheckpointTxns == 0 {
		c.CheckpointTxns = 1_000_000
	}
	if c.CheckpointPeriod == 0 {
		c.CheckpointPeriod = time.Hour
	}
	if c.ResourceReserved == 0 {
		c.ResourceReserved = 100 << 20
	}
	if c.ResourceCheckInterval == 0 {
		c.ResourceCheckInterval = 5 * time.Second
	}
	if c.CheckpointCheck == 0 {
		c.CheckpointCheck = time.Minute
	}
	if c.MinBlockSize == 0 {
		c.MinBlockSize = 1 << 20
	}
	if c.LeaseSoftLimit == 0 {
		c.LeaseSoftLimit = time.Minute
	}
	if c.LeaseHardLimit == 0 {
		c.LeaseHardLimit = 20 * time.Minute
	}
	if c.LeaseCheck == 0 {
		c.LeaseCheck = 2 * time.Second
	}
	if c.EditLogRetry == 0 {
		c.EditLogRetry = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.BlockReports == nil {
		c.BlockReports = noReports{}
	}
}
