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
	fs.IntVar(&cfg.Datanodes, "datanodes", envInt("GRANARY_DEV_DATANODES", 3), "how many datanodes to run")
	level := fs.String("log-level", env("GRANARY_LOG_LEVEL", "info"), "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Logger = newLogger(os.Stderr, *level)
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
	})
}
