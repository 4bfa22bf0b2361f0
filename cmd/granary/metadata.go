package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/granary-fs/granary/services/metadata"
)

// metadataFlags registers the metadata service's flags, each with a
// GRANARY_* environment equivalent.
func metadataFlags(fs *flag.FlagSet, cfg *metadata.Config) (level *string, dbConns *int) {
	fs.StringVar(&cfg.DatabaseURL, "database-url", env("GRANARY_DATABASE_URL", ""), "PostgreSQL URL of the namespace (GRANARY_DATABASE_URL)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", env("GRANARY_METADATA_HTTP_ADDR", ":9870"), "HTTP listen address (GRANARY_METADATA_HTTP_ADDR)")
	fs.DurationVar(&cfg.HTTPIdleTimeout, "http-idle-timeout", envDuration("GRANARY_HTTP_IDLE_TIMEOUT", 60e9), "hadoop.http.idle_timeout.ms: idle keep-alive connections are closed after this (GRANARY_HTTP_IDLE_TIMEOUT)")
	fs.StringVar(&cfg.Nameservice, "nameservice", env("GRANARY_NAMESERVICE", "ns1"), "dfs.nameservice.id: the nameservice this namespace is; it names every NATS subject (GRANARY_NAMESERVICE)")
	fs.StringVar(&cfg.NamenodeID, "namenode-id", env("GRANARY_NAMENODE_ID", ""), "dfs.ha.namenode.id: run in HA, active while holding the nameservice's writer lock in PostgreSQL, standby (StandbyException to clients) otherwise (GRANARY_NAMENODE_ID)")
	authFlags(fs, &cfg.Auth)
	natsFlags(fs, &cfg.NATSNKeyFile, &cfg.NATSCAFile)
	tlsFlags(fs, &cfg.TLS)
	fs.DurationVar(&cfg.DelegationKeyUpdateInterval, "delegation-key-update-interval", envDuration("GRANARY_DELEGATION_KEY_UPDATE_INTERVAL", 24*time.Hour), "dfs.namenode.delegation.key.update-interval: how often the delegation-token master key rolls (GRANARY_DELEGATION_KEY_UPDATE_INTERVAL)")
	fs.DurationVar(&cfg.DelegationTokenMaxLifetime, "delegation-token-max-lifetime", envDuration("GRANARY_DELEGATION_TOKEN_MAX_LIFETIME", 7*24*time.Hour), "dfs.namenode.delegation.token.max-lifetime (GRANARY_DELEGATION_TOKEN_MAX_LIFETIME)")
	fs.DurationVar(&cfg.DelegationTokenRenewInterval, "delegation-token-renew-interval", envDuration("GRANARY_DELEGATION_TOKEN_RENEW_INTERVAL", 24*time.Hour), "dfs.namenode.delegation.token.renew-interval: a token lapses unless renewed within this (GRANARY_DELEGATION_TOKEN_RENEW_INTERVAL)")
	fs.StringVar(&cfg.AuditLog, "audit-log", env("GRANARY_AUDIT_LOG", ""), "the audit log (HDFS's hdfs-audit.log format): a file, or - for standard error; empty for none (GRANARY_AUDIT_LOG)")
	cfg.EditLogNoGather = !envBool("GRANARY_EDIT_LOG_GATHER", true)
	fs.Var(notFlag{&cfg.EditLogNoGather}, "edit-log-gather", "let an edit-log batch grow, for at most half a commit's time, while the last batch's callers come back; paused while they do not (GRANARY_EDIT_LOG_GATHER)")
	fs.DurationVar(&cfg.EditLogRetry, "edit-log-retry", envDuration("GRANARY_EDIT_LOG_RETRY", 30e9), "how long a failing edit-log commit is retried (writes answer RetriableException meanwhile) before the service exits (GRANARY_EDIT_LOG_RETRY)")
	fs.StringVar(&cfg.NATSURL, "nats-url", env("GRANARY_NATS_URL", "nats://127.0.0.1:4222"), "NATS server(s) shared with the coordinator, comma separated; empty runs the namespace alone, without block management (GRANARY_NATS_URL)")
	fs.BoolVar(&cfg.RedirectToDatanodeHostname, "redirect-to-datanode-hostname", envBool("GRANARY_REDIRECT_TO_DATANODE_HOSTNAME", false), "dfs.client.use.datanode.hostname: WebHDFS redirects name datanodes by host name, not IP (GRANARY_REDIRECT_TO_DATANODE_HOSTNAME)")
	fs.StringVar(&cfg.AdvertiseAddr, "advertise-addr", env("GRANARY_METADATA_ADVERTISE_ADDR", ""), "host:port datanodes reach this service at, in WebHDFS redirects (GRANARY_METADATA_ADVERTISE_ADDR)")
	fs.StringVar(&cfg.Superuser, "superuser", env("GRANARY_SUPERUSER", ""), "superuser name; default the user running the service (GRANARY_SUPERUSER)")
	fs.StringVar(&cfg.Supergroup, "supergroup", env("GRANARY_SUPERGROUP", "supergroup"), "dfs.permissions.superusergroup (GRANARY_SUPERGROUP)")
	fs.Float64Var(&cfg.SafeModeThresholdPct, "safemode-threshold-pct", envFloat("GRANARY_SAFEMODE_THRESHOLD_PCT", 0.999), "dfs.namenode.safemode.threshold-pct: the fraction of blocks that must be reported before safe mode ends; 0 or less waits for none (GRANARY_SAFEMODE_THRESHOLD_PCT)")
	fs.IntVar(&cfg.SafeModeMinDatanodes, "safemode-min-datanodes", envInt("GRANARY_SAFEMODE_MIN_DATANODES", 0), "dfs.namenode.safemode.min.datanodes (GRANARY_SAFEMODE_MIN_DATANODES)")
	fs.DurationVar(&cfg.SafeModeExtension, "safemode-extension", envDuration("GRANARY_SAFEMODE_EXTENSION", 30e9), "dfs.namenode.safemode.extension (GRANARY_SAFEMODE_EXTENSION)")
	fs.Int64Var(&cfg.ResourceReserved, "resource-du-reserved", int64(envInt("GRANARY_RESOURCE_DU_RESERVED", 100<<20)), "dfs.namenode.resource.du.reserved: below this much free space on a checked volume (PostgreSQL's data directory when local, the audit log's, -resource-dirs) the service enters safe mode until a manual leave; negative: no check (GRANARY_RESOURCE_DU_RESERVED)")
	cfg.ResourceDirs = splitList(env("GRANARY_RESOURCE_DIRS", ""))
	fs.Func("resource-dirs", "dfs.namenode.resource.checked.volumes: more directories whose volumes are checked, comma separated (GRANARY_RESOURCE_DIRS)", func(v string) error {
		cfg.ResourceDirs = splitList(v)
		return nil
	})
	fs.Int64Var(&cfg.CheckpointTxns, "checkpoint-txns", int64(envInt("GRANARY_CHECKPOINT_TXNS", 1_000_000)), "dfs.namenode.checkpoint.txns (GRANARY_CHECKPOINT_TXNS)")
	fs.DurationVar(&cfg.CheckpointPeriod, "checkpoint-period", envDuration("GRANARY_CHECKPOINT_PERIOD", 3600e9), "dfs.namenode.checkpoint.period (GRANARY_CHECKPOINT_PERIOD)")
	fs.IntVar(&cfg.LocationCacheSize, "location-cache-size", envInt("GRANARY_LOCATION_CACHE_SIZE", 100_000), "blocks whose locations are kept for readers, dropped as the coordinator announces changes (0: none; GRANARY_LOCATION_CACHE_SIZE)")
	fs.Int64Var(&cfg.ExtraEditsRetained, "num-extra-edits-retained", int64(envInt("GRANARY_NUM_EXTRA_EDITS_RETAINED", 1_000_000)), "dfs.namenode.num.extra.edits.retained: edits kept before the oldest retained image, for a lagging standby (GRANARY_NUM_EXTRA_EDITS_RETAINED)")
	fs.DurationVar(&cfg.CheckpointCheck, "checkpoint-check-period", envDuration("GRANARY_CHECKPOINT_CHECK_PERIOD", 60e9), "dfs.namenode.checkpoint.check.period (GRANARY_CHECKPOINT_CHECK_PERIOD)")
	fs.Int64Var(&cfg.MinBlockSize, "min-block-size", int64(envInt("GRANARY_MIN_BLOCK_SIZE", 1<<20)), "dfs.namenode.fs-limits.min-block-size (GRANARY_MIN_BLOCK_SIZE)")
	fs.Int64Var(&cfg.TrashInterval, "trash-interval", int64(envInt("GRANARY_TRASH_INTERVAL", 0)), "fs.trash.interval in minutes: granary fs -rm moves to the trash, checkpoints older than this are deleted (0: no trash; GRANARY_TRASH_INTERVAL)")
	cfg.TrashCheckpointInterval = time.Duration(envInt("GRANARY_TRASH_CHECKPOINT_INTERVAL", 0)) * time.Minute
	fs.Func("trash-checkpoint-interval", "fs.trash.checkpoint.interval in minutes (0: the trash interval; GRANARY_TRASH_CHECKPOINT_INTERVAL)", func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		cfg.TrashCheckpointInterval = time.Duration(n) * time.Minute
		return err
	})
	dbConns = fs.Int("db-max-conns", envInt("GRANARY_DB_MAX_CONNS", 16), "PostgreSQL pool size (GRANARY_DB_MAX_CONNS)")
	level = fs.String("log-level", env("GRANARY_LOG_LEVEL", "info"), "debug, info, warn or error (GRANARY_LOG_LEVEL)")
	return level, dbConns
}

// metadataCmd is `granary metadata ...`; with run false it only parses
// and checks the command line.
func metadataCmd(ctx context.Context, args []string, run bool) error {
	sub := ""
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("granary metadata "+sub, flag.ContinueOnError)
	if !run {
		fs.SetOutput(io.Discard)
	}
	var cfg metadata.Config
	level, dbConns := metadataFlags(fs, &cfg)
	dbURLFile := fs.String("database-url-file", env("GRANARY_DATABASE_URL_FILE", ""), "read the PostgreSQL URL from this file (a mounted secret), so that no password shows on the command line (GRANARY_DATABASE_URL_FILE)")
	force := fs.Bool("force", envBool("GRANARY_FORMAT_FORCE", false), "format: erase an existing namespace; recover: take the first choice without asking (GRANARY_FORMAT_FORCE)")
	clusterID := fs.String("clusterid", env("GRANARY_CLUSTER_ID", ""), "format: use this cluster ID instead of a new one (GRANARY_CLUSTER_ID)")
	fs.BoolVar(&cfg.Upgrade, "upgrade", envBool("GRANARY_UPGRADE", false), "start an upgrade: migrate a database schema older than this service's, keeping the namespace as it is until granary admin -finalizeUpgrade (granary metadata rollback returns to it); without it such a schema refuses to start (HDFS's -upgrade) (GRANARY_UPGRADE)")
	formatIfNeeded := fs.Bool("format-if-needed", envBool("GRANARY_FORMAT_IF_NEEDED", false), "run: format the namespace first when the database holds none (never re-formats), then create /tmp (1777) and /user (755) (GRANARY_FORMAT_IF_NEEDED)")
	props, confMsgs, err := parseServiceFlags(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments: %v", fs.Args())}
	}
	cfg.Conf = props
	if cfg.SafeModeThresholdPct <= 0 {
		cfg.SafeModeThresholdPct = -1 // HDFS's ≤ 0: wait for no block (Config's 0 is the default)
	}
	if cfg.LocationCacheSize <= 0 {
		cfg.LocationCacheSize = -1 // none (Config's 0 is the default)
	}
	if cfg.ExtraEditsRetained <= 0 {
		cfg.ExtraEditsRetained = -1 // none (Config's 0 is the default)
	}
	cfg.Logger = newLogger(os.Stderr, *level)
	logConf(cfg.Logger, confMsgs)
	cfg.DBMaxConns = int32(*dbConns)
	switch sub {
	case "", "format", "genclusterid", "metadataversion", "migrate", "recover", "rollback", "finalize":
	default:
		return usageError{fmt.Sprintf("unknown metadata subcommand %q", sub)}
	}
	if !run {
		return nil
	}
	if *dbURLFile != "" {
		b, err := os.ReadFile(*dbURLFile)
		if err != nil {
			return fmt.Errorf("-database-url-file: %w", err)
		}
		cfg.DatabaseURL = strings.TrimSpace(string(b))
	}
	needDB := func() error {
		if cfg.DatabaseURL == "" {
			return usageError{"no database: set -database-url or GRANARY_DATABASE_URL"}
		}
		return nil
	}
	switch sub {
	case "":
		if err := needDB(); err != nil {
			return err
		}
		if *formatIfNeeded {
			done, err := metadata.IsFormatted(ctx, cfg)
			if err != nil {
				return err
			}
			if !done {
				ni, err := metadata.Format(ctx, cfg, metadata.FormatOptions{ClusterID: *clusterID})
				if err != nil {
					return err
				}
				cfg.Logger.Info("formatted a new namespace", "cluster_id", ni.ClusterID)
				// /tmp and /user, as granary dev makes them.
				cfg.InitialLayout = true
			}
		}
		return metadata.New(cfg).Run(ctx)
	case "rollback":
		// HDFS's namenode -rollback: back to the image the upgrade kept.
		if err := needDB(); err != nil {
			return err
		}
		return metadata.RollbackUpgrade(ctx, cfg, os.Stdout)
	case "finalize":
		if err := needDB(); err != nil {
			return err
		}
		was, err := metadata.FinalizeUpgrade(ctx, cfg)
		if err == nil {
			fmt.Printf("Finalize upgrade: %v\n", map[bool]string{true: "done", false: "no upgrade was in progress"}[was])
		}
		return err
	case "recover":
		// HDFS's namenode -recover: stop at the bad edit, save what was
		// read, drop the rest.
		if err := needDB(); err != nil {
			return err
		}
		return metadata.Recover(ctx, cfg, metadata.RecoverOptions{Force: *force, In: os.Stdin, Out: os.Stdout})
	case "format":
		if err := needDB(); err != nil {
			return err
		}
		ni, err := metadata.Format(ctx, cfg, metadata.FormatOptions{ClusterID: *clusterID, Force: *force})
		if err != nil {
			return err
		}
		fmt.Printf("Formatted namespace: clusterID=%s namespaceID=%d blockPoolID=%s layoutVersion=%d\n",
			ni.ClusterID, ni.NamespaceID, ni.BlockPoolID, ni.LayoutVersion)
		return nil
	case "genclusterid":
		fmt.Println(metadata.GenClusterID())
		return nil
	case "metadataversion":
		fmt.Printf("HDFS Image Version: %d\nSoftware format version: %d\n", metadata.LayoutVersion, metadata.LayoutVersion)
		return nil
	case "migrate":
		if err := needDB(); err != nil {
			return err
		}
		return metadata.Migrate(ctx, cfg)
	}
	return usageError{fmt.Sprintf("unknown metadata subcommand %q", sub)}
}

// notFlag is a boolean flag that sets the negation of *p (a Config field
// named for the non-default case).
type notFlag struct{ p *bool }

func (f notFlag) String() string {
	if f.p == nil {
		return "true"
	}
	return strconv.FormatBool(!*f.p)
}

func (f notFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*f.p = !v
	return nil
}

func (f notFlag) IsBoolFlag() bool { return true }
