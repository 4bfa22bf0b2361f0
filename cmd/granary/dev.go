package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/metadata"
)

// devCmd is `granary dev`: the whole cluster in one process.
func devCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("granary dev", flag.ContinueOnError)
	var cfg cluster.Config
	fs.StringVar(&cfg.DataDir, "data-dir", env("GRANARY_DEV_DATA_DIR", cluster.DefaultDataDir()), "where the cluster keeps its data (GRANARY_DEV_DATA_DIR)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", env("GRANARY_DATABASE_URL", ""), "use this PostgreSQL instead of starting one (GRANARY_DATABASE_URL)")
	fs.StringVar(&cfg.MetadataAddr, "metadata-addr", env("GRANARY_METADATA_HTTP_ADDR", ":9870"), "metadata HTTP address")
	fs.StringVar(&cfg.CoordinatorAddr, "coordinator-addr", env("GRANARY_COORDINATOR_HTTP_ADDR", ":9880"), "coordinator HTTP address")
	fs.StringVar(&cfg.NATSAddr, "nats-addr", env("GRANARY_NATS_ADDR", "127.0.0.1:4222"), "embedded NATS server address")
	fs.IntVar(&cfg.NATSCluster, "nats-cluster", envInt("GRANARY_DEV_NATS_CLUSTER", 1), "run this many embedded NATS servers as a NATS cluster (routes between them) on -nats-addr's port and the ones after; every service is given them all (docs/ha.md) (GRANARY_DEV_NATS_CLUSTER)")
	fs.IntVar(&cfg.Datanodes, "datanodes", envInt("GRANARY_DEV_DATANODES", 3), "how many datanodes to run")
	fs.Func("datanode-addrs", "the datanodes' HTTP addresses, comma separated (default :9864, :9865, ...) (GRANARY_DEV_DATANODE_ADDRS)", func(v string) error {
		cfg.DatanodeAddrs = strings.Split(v, ",")
		return nil
	})
	if v := env("GRANARY_DEV_DATANODE_ADDRS", ""); v != "" {
		cfg.DatanodeAddrs = strings.Split(v, ",")
	}
	fs.IntVar(&cfg.Nameservices, "nameservices", envInt("GRANARY_DEV_NAMESERVICES", 1), "how many nameservices share the datanodes (federation): nameservice k (from 0) has its metadata service on :9870+2k and its coordinator on :9880+2k (GRANARY_DEV_NAMESERVICES)")
	fs.BoolVar(&cfg.HA, "ha", envBool("GRANARY_DEV_HA", false), "run each nameservice's metadata service as nn1 with a standby nn2 on the next port (:9870 and :9871 for ns1, :9872 and :9873 for ns2, ...), and its coordinators c1 and c2 (:9880 and :9881, ...) (HA; docs/ha.md) (GRANARY_DEV_HA)")
	fs.BoolVar(&cfg.Secure, "secure", envBool("GRANARY_DEV_SECURE", false), "run secured: HTTPS from a throwaway CA, token authentication against a development OIDC issuer, block tokens, NATS with nkeys (GRANARY_DEV_SECURE)")
	fs.StringVar(&cfg.IssuerAddr, "issuer-addr", env("GRANARY_DEV_ISSUER_ADDR", cluster.DefaultIssuerAddr), "-secure: the development OIDC issuer's address (GRANARY_DEV_ISSUER_ADDR)")
	level := fs.String("log-level", env("GRANARY_LOG_LEVEL", "info"), "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Logger = newLogger(os.Stderr, *level)
	cfg.Router = cfg.Nameservices > 1 // one endpoint over them all, as dev -nameservices promises
	if cfg.Secure {
		return cluster.Run(ctx, cfg, func(c *cluster.Cluster) { printSecure(cfg, c); printFederated(c) })
	}
	return cluster.Run(ctx, cfg, func(c *cluster.Cluster) {
		fmt.Printf(`
Granary is running (Ctrl-C stops it).
  data          %s
  PostgreSQL    %s
  NATS          %s
  web UI        %s/
  metadata      %s   (WebHDFS: %s/webhdfs/v1/, startup progress: %s/startupProgress)
  coordinator   %s   (datanodes: %s/api/v1/datanodes)
  datanodes     %s

Try:
  curl -L -X PUT -T somefile '%s/webhdfs/v1/tmp/f?op=CREATE&user.name=me'
  curl -L '%s/webhdfs/v1/tmp/f?op=OPEN&user.name=me'
  granary fs -fs %s -put somefile /tmp/   (or go run ./cmd/granary fs ...)
  granary fs -fs %s -ls /tmp
`, cfg.DataDir, metadata.RedactURL(c.DatabaseURL), c.NATSURL, c.MetadataURL, c.MetadataURL, c.MetadataURL, c.MetadataURL,
			c.CoordinatorURL, c.CoordinatorURL, strings.Join(c.DatanodeURLs, " "), c.MetadataURL, c.MetadataURL, c.MetadataURL, c.MetadataURL)
		printFederated(c)
		if c.StandbyURL != "" {
			fmt.Printf("HA: nn1 %s is active, nn2 %s standby; coordinators c1 %s and c2 %s; clients: granary fs -fs %s,%s ...\n",
				c.MetadataURL, c.StandbyURL, c.CoordinatorURL, c.Coordinator2URL, c.MetadataURL, c.StandbyURL)
		}
	})
}

// printSecure tells how to reach a secured dev cluster: the CA to trust, a
// token from the development issuer, and lines that work as printed.
func printSecure(cfg cluster.Config, c *cluster.Cluster) {
	fmt.Printf(`
Granary is running secured (Ctrl-C stops it): HTTPS from a throwaway CA,
token authentication (OIDC bearer tokens and delegation tokens), block
access tokens, NATS with one nkey per service.
  data          %s
  CA            %s
  OIDC issuer   %s   (development only: it signs a token for any user name)
  NATS          %s   (nkeys in %s)
  metadata      %s
  coordinator   %s
  datanodes     %s

Get a token and use it:
  export GRANARY_TLS_CA=%s
  export GRANARY_TOKEN=$(curl -s --cacert "$GRANARY_TLS_CA" -d username=%s %s/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  curl -s --cacert "$GRANARY_TLS_CA" -H "Authorization: Bearer $GRANARY_TOKEN" '%s/webhdfs/v1/?op=LISTSTATUS'
  curl -s --cacert "$GRANARY_TLS_CA" -H "Authorization: Bearer $GRANARY_TOKEN" '%s/webhdfs/v1/?op=GETDELEGATIONTOKEN'
  granary fs -fs %s -ls /
`, cfg.DataDir, c.CAFile, c.IssuerURL, c.NATSURL, c.NATSKeyDir(), c.MetadataURL, c.CoordinatorURL, strings.Join(c.DatanodeURLs, " "),
		c.CAFile, c.Metadata.Superuser(), c.IssuerURL, c.MetadataURL, c.MetadataURL, strings.Replace(c.MetadataURL, "https://", "swebhdfs://", 1))
}

// printFederated lists the nameservices after ns1 (dev -nameservices N).
func printFederated(c *cluster.Cluster) {
	if len(c.Federated) == 0 {
		return
	}
	fmt.Printf("Federation: ns1 above, and over the same datanodes:\n")
	for _, n := range c.Federated {
		if n.StandbyURL == "" {
			fmt.Printf("  %s  metadata %s   coordinator %s   (granary fs -fs %s -ls /)\n", n.Name, n.MetadataURL, n.CoordinatorURL, n.MetadataURL)
			continue
		}
		fmt.Printf("  %s  metadata nn1 %s (active), nn2 %s (standby)   coordinators c1 %s, c2 %s   (granary fs -fs %s,%s -ls /)\n",
			n.Name, n.MetadataURL, n.StandbyURL, n.CoordinatorURL, n.Coordinator2URL, n.MetadataURL, n.StandbyURL)
	}
	if c.RouterURL != "" {
		fmt.Printf("  router  %s   (WebHDFS over every nameservice; mounts: granary admin -router -ls)\n    curl '%s/webhdfs/v1/?op=LISTSTATUS&user.name=me'\n", c.RouterURL, c.RouterURL)
	}
}
