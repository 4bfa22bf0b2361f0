package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/granary-fs/granary/internal/dnproto"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/datanode"
)

// coordinatorCmd is `granary coordinator`.
func coordinatorCmd(ctx context.Context, args []string, run bool) error {
	fs := flag.NewFlagSet("granary coordinator", flag.ContinueOnError)
	if !run {
		fs.SetOutput(io.Discard)
	}
	var cfg coordinator.Config
	fs.StringVar(&cfg.NATSURL, "nats-url", env("GRANARY_NATS_URL", "nats://127.0.0.1:4222"), "NATS server(s), comma separated (GRANARY_NATS_URL)")
	natsFlags(fs, &cfg.NATSNKeyFile, &cfg.NATSCAFile)
	fs.StringVar(&cfg.Nameservice, "nameservice", env("GRANARY_NAMESERVICE", "ns1"), "dfs.nameservice.id: the nameservice whose blocks this coordinator manages; it names every NATS subject (GRANARY_NAMESERVICE)")
	fs.Float64Var(&cfg.ReplQueueThreshold, "replqueue-threshold-pct", envFloat("GRANARY_REPLQUEUE_THRESHOLD_PCT", 0.999), "dfs.namenode.replqueue.threshold-pct: in safe mode the replication queues are initialised once this fraction of the blocks is reported (GRANARY_REPLQUEUE_THRESHOLD_PCT)")
	fs.StringVar(&cfg.MinDatanodeVersion, "min-supported-datanode-version", env("GRANARY_MIN_DATANODE_VERSION", ""), "dfs.namenode.min.supported.datanode.version: older datanodes are refused at registration (default "+dnproto.MinDatanodeVersion+") (GRANARY_MIN_DATANODE_VERSION)")
	fs.BoolVar(&cfg.Upgrade, "upgrade", envBool("GRANARY_UPGRADE", false), "the cluster is being upgraded: datanodes keep the previous layout of upgraded block pool slices (for datanode -rollback) until admin -finalizeUpgrade (GRANARY_UPGRADE)")
	fs.StringVar(&cfg.CoordinatorID, "coordinator-id", env("GRANARY_COORDINATOR_ID", ""), "HA: this coordinator's ID (as dfs.ha.namenode.id); coordinators with IDs run active and standby, the datanodes list them with -coordinators (GRANARY_COORDINATOR_ID)")
	tlsFlags(fs, &cfg.TLS)
	fs.StringVar(&cfg.HTTPAddr, "http-addr", env("GRANARY_COORDINATOR_HTTP_ADDR", ":9880"), "HTTP listen address (GRANARY_COORDINATOR_HTTP_ADDR)")
	fs.StringVar(&cfg.Superuser, "superuser", env("GRANARY_SUPERUSER", ""), "superuser name, who may run the admin endpoints; default the user running the service (GRANARY_SUPERUSER)")
	fs.StringVar(&cfg.Supergroup, "supergroup", env("GRANARY_SUPERGROUP", "supergroup"), "dfs.permissions.superusergroup (GRANARY_SUPERGROUP)")
	authFlags(fs, &cfg.Auth)
	fs.DurationVar(&cfg.HTTPIdleTimeout, "http-idle-timeout", envDuration("GRANARY_HTTP_IDLE_TIMEOUT", 60e9), "hadoop.http.idle_timeout.ms: idle keep-alive connections are closed after this (GRANARY_HTTP_IDLE_TIMEOUT)")
	fs.StringVar(&cfg.TopologyFile, "topology-file", env("GRANARY_TOPOLOGY_FILE", ""), "host-to-rack table, lines \"host /rack\" (GRANARY_TOPOLOGY_FILE)")
	fs.StringVar(&cfg.HostsExcludeFile, "hosts-exclude-file", env("GRANARY_HOSTS_EXCLUDE_FILE", ""), "dfs.hosts.exclude: datanodes to decommission, re-read by admin -refreshNodes (GRANARY_HOSTS_EXCLUDE_FILE)")
	fs.StringVar(&cfg.HostsFile, "hosts-file", env("GRANARY_HOSTS_FILE", ""), "dfs.hosts: the include list, one host (IP, name, ip:port or datanode UUID) per line; when set only those datanodes may register (refreshNodes re-reads it) (GRANARY_HOSTS_FILE)")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", envDuration("GRANARY_HEARTBEAT_INTERVAL", 3e9), "dfs.heartbeat.interval (GRANARY_HEARTBEAT_INTERVAL)")
	fs.DurationVar(&cfg.RecheckInterval, "heartbeat-recheck-interval", envDuration("GRANARY_HEARTBEAT_RECHECK_INTERVAL", 300e9), "dfs.namenode.heartbeat.recheck-interval (GRANARY_HEARTBEAT_RECHECK_INTERVAL)")
	fs.DurationVar(&cfg.StaleInterval, "stale-interval", envDuration("GRANARY_STALE_INTERVAL", 30e9), "dfs.namenode.stale.datanode.interval (GRANARY_STALE_INTERVAL)")
	fs.IntVar(&cfg.MaxFBRLeases, "max-full-block-report-leases", envInt("GRANARY_MAX_FBR_LEASES", 6), "dfs.namenode.max.full.block.report.leases (GRANARY_MAX_FBR_LEASES)")
	considerLoad := fs.Bool("consider-load", envBool("GRANARY_CONSIDER_LOAD", true), "dfs.namenode.redundancy.considerLoad: placement skips datanodes busier than twice the average (GRANARY_CONSIDER_LOAD)")
	level := fs.String("log-level", env("GRANARY_LOG_LEVEL", "info"), "debug, info, warn or error (GRANARY_LOG_LEVEL)")
	props, confMsgs, err := parseServiceFlags(fs, args)
	if err != nil {
		return err
	}
	cfg.IgnoreLoad = !*considerLoad
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments: %v", fs.Args())}
	}
	cfg.Conf = props
	cfg.Logger = newLogger(os.Stderr, *level)
	logConf(cfg.Logger, confMsgs)
	if !run {
		return nil
	}
	svc, err := coordinator.New(cfg)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}

// dirList is a repeatable -data-dir flag.
type dirList []string

func (d *dirList) String() string     { return strings.Join(*d, ",") }
func (d *dirList) Set(v string) error { *d = append(*d, v); return nil }

// datanodeCmd is `granary datanode`.
func datanodeCmd(ctx context.Context, args []string, run bool) error {
	fs := flag.NewFlagSet("granary datanode", flag.ContinueOnError)
	if !run {
		fs.SetOutput(io.Discard)
	}
	var cfg datanode.Config
	var dirs dirList
	fs.Var(&dirs, "data-dir", "dfs.datanode.data.dir: a volume, [SSD]/[ARCHIVE]/[DISK] prefix for its storage type (repeat for several; GRANARY_DATA_DIRS, comma separated)")
	permFlag := func(v string) error {
		p, err := strconv.ParseUint(v, 8, 32)
		if err != nil || p > 0o777 || p == 0 {
			return fmt.Errorf("%q is not an octal permission such as 700", v)
		}
		cfg.DataDirPerm = os.FileMode(p)
		return nil
	}
	if v := env("GRANARY_DATA_DIR_PERM", ""); v != "" {
		if err := permFlag(v); err != nil {
			return fmt.Errorf("GRANARY_DATA_DIR_PERM: %w", err)
		}
	}
	fs.BoolVar(&cfg.Rollback, "rollback", envBool("GRANARY_ROLLBACK", false), "start by rolling back every upgraded block pool slice to the previous layout it kept (HDFS's datanode -rollback) (GRANARY_ROLLBACK)")
	fs.Func("data-dir-perm", "dfs.datanode.data.dir.perm: the permission the data directories are created with, or set to (default 700) (GRANARY_DATA_DIR_PERM)", permFlag)
	fs.StringVar(&cfg.NATSURL, "nats-url", env("GRANARY_NATS_URL", "nats://127.0.0.1:4222"), "NATS server(s) (GRANARY_NATS_URL)")
	natsFlags(fs, &cfg.NATSNKeyFile, &cfg.NATSCAFile)
	cfg.Nameservices = splitList(env("GRANARY_NAMESERVICES", "ns1"))
	fs.StringVar(&cfg.NameservicesFile, "nameservices-file", env("GRANARY_NAMESERVICES_FILE", ""), "read the nameservices from this file, one per line, instead, each optionally followed by its coordinators' IDs (ns1 c1,c2); granary admin -refreshNamenodes makes the datanode re-read it (GRANARY_NAMESERVICES_FILE)")
	fs.Func("nameservices", "dfs.nameservices: the nameservices whose block pools this datanode serves, comma separated, one block pool service each (default ns1) (GRANARY_NAMESERVICES)", func(v string) error {
		cfg.Nameservices = splitList(v)
		return nil
	})
	coordFlag := func(v string) error {
		if v == "" {
			return nil
		}
		ns, ids, ok := strings.Cut(v, ":")
		if !ok {
			ns, ids = "", v
		}
		if cfg.Coordinators == nil {
			cfg.Coordinators = map[string][]string{}
		}
		cfg.Coordinators[ns] = splitList(ids)
		return nil
	}
	_ = coordFlag(env("GRANARY_COORDINATORS", ""))
	fs.Func("coordinators", "HA: the coordinator IDs of the nameservices (as dfs.ha.namenodes.<ns>), comma separated, for every nameservice, or ns1:c1,c2 for one (repeatable): one actor per coordinator, the active one's commands followed (GRANARY_COORDINATORS)", coordFlag)
	tlsFlags(fs, &cfg.TLS)
	fs.StringVar(&cfg.NATSIdentity, "nats-identity", env("GRANARY_NATS_IDENTITY", ""), "the datanode's NATS identity: its subjects are granary.v1.<ns>.dn.<identity>.*, its replies come to _INBOX.<identity>.> (default: its UUID) (GRANARY_NATS_IDENTITY)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", env("GRANARY_DATANODE_HTTP_ADDR", ":9864"), "HTTP listen address (GRANARY_DATANODE_HTTP_ADDR)")
	fs.BoolVar(&cfg.SyncOnClose, "synconclose", envBool("GRANARY_SYNCONCLOSE", false), "dfs.datanode.synconclose: fsync a replica's files when it is finalized (GRANARY_SYNCONCLOSE)")
	fs.BoolVar(&cfg.SyncBehindWrites, "sync-behind-writes", envBool("GRANARY_SYNC_BEHIND_WRITES", false), "dfs.datanode.sync.behind.writes: start writing a replica's data to disk every 8 MB as it arrives (sync_file_range), instead of when the kernel flushes or at the fsync of -synconclose (GRANARY_SYNC_BEHIND_WRITES)")
	fs.BoolVar(&cfg.DropCacheBehindWrites, "drop-cache-behind-writes", envBool("GRANARY_DROP_CACHE_BEHIND_WRITES", false), "dfs.datanode.drop.cache.behind.writes: drop a replica's data from the page cache 8 MB behind the write-back as it is written (posix_fadvise DONTNEED), instead of filling the cache with it (GRANARY_DROP_CACHE_BEHIND_WRITES)")
	fs.Int64Var(&cfg.ReadaheadBytes, "readahead-bytes", int64(envInt("GRANARY_READAHEAD_BYTES", 4<<20)), "dfs.datanode.readahead.bytes: how far ahead of a read longer than 256 KiB the kernel is asked to read (posix_fadvise WILLNEED; 0: not asked) (GRANARY_READAHEAD_BYTES)")
	fs.BoolVar(&cfg.DropCacheBehindReads, "drop-cache-behind-reads", envBool("GRANARY_DROP_CACHE_BEHIND_READS", false), "dfs.datanode.drop.cache.behind.reads: drop what a read longer than 256 KiB read from the page cache behind it (posix_fadvise DONTNEED) (GRANARY_DROP_CACHE_BEHIND_READS)")
	fs.IntVar(&cfg.FileIOProfilingPercentage, "fileio-profiling-sampling-percentage", envInt("GRANARY_FILEIO_PROFILING_SAMPLING_PERCENTAGE", 0), "dfs.datanode.fileio.profiling.sampling.percentage: above 0, each volume times every create, rename and delete of replica files and this percentage of their reads, writes and syncs, for /metrics (0: off; over 100: 100) (GRANARY_FILEIO_PROFILING_SAMPLING_PERCENTAGE)")
	fs.Int64Var(&cfg.DuReserved, "du-reserved", int64(envInt("GRANARY_DU_RESERVED", 0)), "dfs.datanode.du.reserved: bytes per volume kept free; a volume with less than a block's size available beyond it takes no new replica (GRANARY_DU_RESERVED)")
	fs.StringVar(&cfg.Superuser, "superuser", env("GRANARY_SUPERUSER", ""), "superuser name, who may run the admin endpoints; default the user running the service (GRANARY_SUPERUSER)")
	fs.StringVar(&cfg.Supergroup, "supergroup", env("GRANARY_SUPERGROUP", "supergroup"), "dfs.permissions.superusergroup (GRANARY_SUPERGROUP)")
	authFlags(fs, &cfg.Auth)
	fs.DurationVar(&cfg.HTTPIdleTimeout, "http-idle-timeout", envDuration("GRANARY_HTTP_IDLE_TIMEOUT", 60e9), "hadoop.http.idle_timeout.ms: idle keep-alive connections are closed after this (GRANARY_HTTP_IDLE_TIMEOUT)")
	fs.StringVar(&cfg.HostName, "hostname", env("GRANARY_DATANODE_HOSTNAME", ""), "advertised host name (default: the machine's; GRANARY_DATANODE_HOSTNAME)")
	fs.StringVar(&cfg.IPAddr, "ip", env("GRANARY_DATANODE_IP", "127.0.0.1"), "advertised IP address (GRANARY_DATANODE_IP)")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", envDuration("GRANARY_HEARTBEAT_INTERVAL", 3e9), "dfs.heartbeat.interval (GRANARY_HEARTBEAT_INTERVAL)")
	fs.DurationVar(&cfg.SocketTimeout, "socket-timeout", envDuration("GRANARY_SOCKET_TIMEOUT", 60e9), "dfs.client.socket-timeout: a datanode further down a write pipeline that acknowledges nothing for this long while packets wait is reported failed (GRANARY_SOCKET_TIMEOUT)")
	fs.DurationVar(&cfg.LifelineInterval, "lifeline-interval", envDuration("GRANARY_LIFELINE_INTERVAL", 0), "dfs.datanode.lifeline.interval.seconds: a lifeline is sent when no heartbeat succeeded for this long (default 3 heartbeat intervals) (GRANARY_LIFELINE_INTERVAL)")
	fs.DurationVar(&cfg.CachedDfsUsedInterval, "cached-dfsused-check-interval", envDuration("GRANARY_CACHED_DFSUSED_CHECK_INTERVAL", 600e9), "dfs.datanode.cached-dfsused.check.interval.ms: how often each block pool slice's dfsUsed is saved (also at shutdown); a saved figure is trusted at start only while this fresh (GRANARY_CACHED_DFSUSED_CHECK_INTERVAL)")
	fs.DurationVar(&cfg.BlockReportInterval, "blockreport-interval", envDuration("GRANARY_BLOCKREPORT_INTERVAL", 6*3600e9), "dfs.blockreport.intervalMsec (GRANARY_BLOCKREPORT_INTERVAL)")
	fs.DurationVar(&cfg.BlockReportInitialDelay, "blockreport-initial-delay", envDuration("GRANARY_BLOCKREPORT_INITIAL_DELAY", 0), "dfs.blockreport.initialDelay (GRANARY_BLOCKREPORT_INITIAL_DELAY)")
	fs.IntVar(&cfg.SplitThreshold, "blockreport-split-threshold", envInt("GRANARY_BLOCKREPORT_SPLIT_THRESHOLD", 1_000_000), "dfs.blockreport.split.threshold (GRANARY_BLOCKREPORT_SPLIT_THRESHOLD)")
	fs.DurationVar(&cfg.VolumeCheckInterval, "volume-check-interval", envDuration("GRANARY_VOLUME_CHECK_INTERVAL", 60e9), "how often every volume is probed (a failed one is taken out; a full one is not failed) (GRANARY_VOLUME_CHECK_INTERVAL)")
	fs.IntVar(&cfg.FailedVolumesTolerated, "failed-volumes-tolerated", envInt("GRANARY_FAILED_VOLUMES_TOLERATED", 0), "dfs.datanode.failed.volumes.tolerated (GRANARY_FAILED_VOLUMES_TOLERATED)")
	level := fs.String("log-level", env("GRANARY_LOG_LEVEL", "info"), "debug, info, warn or error (GRANARY_LOG_LEVEL)")
	props, confMsgs, err := parseServiceFlags(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments: %v", fs.Args())}
	}
	cfg.Conf = props
	if cfg.ReadaheadBytes <= 0 {
		cfg.ReadaheadBytes = -1 // none (Config's 0 is the default)
	}
	if len(dirs) == 0 {
		if v := os.Getenv("GRANARY_DATA_DIRS"); v != "" {
			dirs = strings.Split(v, ",")
		}
	}
	if len(dirs) == 0 {
		return usageError{"at least one -data-dir is needed"}
	}
	cfg.DataDirs = dirs
	cfg.Logger = newLogger(os.Stderr, *level)
	logConf(cfg.Logger, confMsgs)
	if !run {
		return nil
	}
	svc, err := datanode.New(cfg)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
