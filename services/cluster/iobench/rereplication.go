package iobench

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/pgdb"
	"github.com/granary-fs/granary/internal/rest"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/datanode"
	"github.com/granary-fs/granary/services/metadata"
)

// ReReplicationMain is `granary bench rereplication`: write -blocks blocks
// at replication 3 on -datanodes datanodes, kill one, and time how long the
// coordinator takes to bring every block back to 3 live replicas.
func ReReplicationMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("granary bench rereplication", flag.ContinueOnError)
	blocks := fs.Int("blocks", 10000, "blocks to write (replication 3)")
	blockSize := fs.Int("blockSize", 64<<10, "block size in bytes")
	datanodes := fs.Int("datanodes", 4, "datanodes")
	interval := fs.Duration("redundancy-interval", 100*time.Millisecond, "redundancy monitor period (HDFS: 3s)")
	streams := fs.Int("max-streams", 8, "transfers at once per source datanode (HDFS: 2)")
	dbURL := fs.String("database-url", os.Getenv("GRANARY_DATABASE_URL"), "PostgreSQL server to create each run's database on (dropped after it) instead of starting one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "granary-rerepl-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addrs := make([]string, *datanodes)
	for i := range addrs {
		addrs[i] = "127.0.0.1:0"
	}
	if *dbURL != "" {
		var drop func() error
		if *dbURL, drop, err = pgdb.Create(ctx, *dbURL, "granary_bench_"); err != nil {
			return err
		}
		defer drop()
	}
	c, err := cluster.Start(ctx, cluster.Config{
		DataDir: filepath.Join(dir, "cluster"), DatabaseURL: *dbURL, MetadataAddr: "127.0.0.1:0", CoordinatorAddr: "127.0.0.1:0",
		NATSAddr: "127.0.0.1:0", Datanodes: *datanodes, DatanodeAddrs: addrs, Logger: benchLogger(),
		Metadata: func(m *metadata.Config) {
			m.Superuser = "bench"
			m.SafeModeExtension = -1
			m.MinBlockSize = 1024
			m.DBMaxConns = 32
		},
		Coordinator: func(cc *coordinator.Config) {
			cc.HeartbeatInterval, cc.RecheckInterval, cc.StaleInterval = 200*time.Millisecond, 500*time.Millisecond, time.Second
			cc.RedundancyInterval, cc.MaxStreams = *interval, *streams
		},
		Datanode: func(i int, d *datanode.Config) { d.HeartbeatInterval = 200 * time.Millisecond },
	})
	if err != nil {
		return err
	}
	defer c.Stop()
	data := make([]byte, 100**blockSize)
	_, _ = rand.Read(data)
	files := (*blocks + 99) / 100
	start := time.Now()
	err = parallel(16, func(w int) error {
		cl := client.New(c.MetadataURL, "bench")
		for f := w; f < files; f += 16 {
			fw, err := cl.Create(ctx, fmt.Sprintf("/bench/rerepl/f%d", f), client.CreateOptions{Replication: 3, BlockSize: int64(*blockSize)})
			if err != nil {
				return err
			}
			if _, err := fw.Write(data); err != nil {
				return err
			}
			if err := fw.Close(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	total := files * 100
	fmt.Fprintf(out, "wrote %d blocks of %d KiB at replication 3 on %d datanodes in %v\n", total, *blockSize>>10, *datanodes, time.Since(start).Round(time.Millisecond))
	lost := c.Datanodes[0].Info().Replicas
	killed := time.Now()
	if err := c.KillDatanode(0); err != nil {
		return err
	}
	var dead time.Time
	for {
		var v api.ClusterView
		if err := rest.GetJSON(ctx, c.CoordinatorURL+"/api/v1/cluster", &v); err != nil {
			return err
		}
		if dead.IsZero() && v.Dead == 1 {
			dead = time.Now()
		}
		if !dead.IsZero() && v.UnderReplicated == 0 && v.Missing == 0 {
			break
		}
		if time.Since(killed) > 30*time.Minute {
			return fmt.Errorf("not healthy after 30 minutes: %+v", v)
		}
		time.Sleep(20 * time.Millisecond) // polling the figure being measured
	}
	healed := time.Since(dead)
	fmt.Fprintf(out, "--- re-replication (redundancy interval %v, %d streams per source) ---\nreplicas lost with the datanode: %d (%.1f MB)\ndead detected after: %v\nrestored in: %v\nblocks per sec: %.0f\nMB per sec: %.1f\ntime to HEALTHY from the kill: %v\n",
		*interval, *streams, lost, float64(lost**blockSize)/(1<<20), dead.Sub(killed).Round(time.Millisecond), healed.Round(time.Millisecond),
		float64(lost)/healed.Seconds(), float64(lost**blockSize)/(1<<20)/healed.Seconds(), time.Since(killed).Round(time.Millisecond))
	return nil
}
