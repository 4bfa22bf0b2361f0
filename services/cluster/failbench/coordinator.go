package failbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/metadata"
)

// CoordinatorReport is one coordinator failover.
type CoordinatorReport struct {
	Active    time.Duration // c1 gone → c2 active
	Followed  time.Duration // c1 gone → every datanode follows c2
	Command   time.Duration // c1 gone → a command of c2 executed (a deleted file's replicas gone)
	Transfers int64         // transfers c2 scheduled in the watch window
	Watch     time.Duration
}

// MeasureCoordinator runs a cluster with coordinator HA (c1 active, c2
// standby, 3 datanodes, HDFS's 3 s heartbeat), writes files, stops c1 and
// times c2's takeover; then it watches c2 for watch and counts the
// transfers it schedules on the healthy cluster (a cold block map would
// schedule a storm).
func MeasureCoordinator(ctx context.Context, dir string, files int, watch time.Duration) (CoordinatorReport, error) {
	var rep CoordinatorReport
	addrs := []string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}
	c, err := cluster.Start(ctx, cluster.Config{
		DataDir: filepath.Join(dir, "cluster"), MetadataAddr: "127.0.0.1:0", CoordinatorAddr: "127.0.0.1:0",
		StandbyAddr: "127.0.0.1:0", StandbyCoordinatorAddr: "127.0.0.1:0", HA: true,
		NATSAddr: "127.0.0.1:0", Datanodes: 3, DatanodeAddrs: addrs,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metadata: func(m *metadata.Config) { m.Superuser = "bench"; m.SafeModeExtension = -1 },
	})
	if err != nil {
		return rep, err
	}
	defer c.Stop()
	following := func(id string) bool {
		for _, dn := range c.Datanodes {
			if dn.Info().ActiveCoordinators["ns1"] != id {
				return false
			}
		}
		return true
	}
	if err := waitFor(ctx, 30*time.Second, func() bool { return c.Coordinator.IsActive() && following("c1") }); err != nil {
		return rep, fmt.Errorf("c1 active and followed: %w", err)
	}
	cl := client.New(c.MetadataURL+","+c.StandbyURL, "bench")
	data := bytes.Repeat([]byte("coordinator failover "), 1000)
	for i := 0; i < files; i++ {
		w, err := cl.Create(ctx, fmt.Sprintf("/cfailover/f%d", i), client.CreateOptions{Replication: 3})
		if err == nil {
			_, err = w.Write(data)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return rep, err
		}
	}
	replicas := func() int {
		n := 0
		for _, dn := range c.Datanodes {
			n += dn.Info().Replicas
		}
		return n
	}
	if err := waitFor(ctx, 30*time.Second, func() bool { return replicas() == 3*files }); err != nil {
		return rep, fmt.Errorf("%d replicas: %w", 3*files, err)
	}
	stopped := time.Now()
	if err := c.StopCoordinator(); err != nil {
		return rep, err
	}
	// c2's first command: a file deleted once c1 is gone makes it
	// invalidate 3 replicas.
	if ok, err := cl.Delete(ctx, "/cfailover/f0", false); err != nil || !ok {
		return rep, fmt.Errorf("delete: %v %v", ok, err)
	}
	if err := waitFor(ctx, 60*time.Second, c.Coordinator2.IsActive); err != nil {
		return rep, fmt.Errorf("c2 active: %w", err)
	}
	rep.Active = time.Since(stopped)
	if err := waitFor(ctx, 60*time.Second, func() bool { return following("c2") }); err != nil {
		return rep, fmt.Errorf("c2 followed: %w", err)
	}
	rep.Followed = time.Since(stopped)
	if err := waitFor(ctx, 60*time.Second, func() bool { return replicas() == 3*(files-1) }); err != nil {
		return rep, fmt.Errorf("c2's deletions executed: %w", err)
	}
	rep.Command = time.Since(stopped)
	before := c.Coordinator2.TransfersScheduled()
	select {
	case <-ctx.Done():
		return rep, ctx.Err()
	case <-time.After(watch):
	}
	rep.Transfers, rep.Watch = c.Coordinator2.TransfersScheduled()-before, watch
	return rep, nil
}

func waitFor(ctx context.Context, within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not after %v", within)
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// coordinatorMain is `granary bench failover -coordinator`.
func coordinatorMain(ctx context.Context, files int, watch time.Duration, out io.Writer) error {
	dir, err := os.MkdirTemp("", "granary-bench-cfailover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(out, "coordinator failover: c1 active, c2 standby, 3 datanodes (heartbeat 3 s), %d files of replication 3; c1 stopped\n", files)
	rep, err := MeasureCoordinator(ctx, dir, files, watch)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "c2 active after %v, followed by every datanode after %v, its first command (invalidation) executed after %v\n",
		rep.Active.Round(time.Millisecond), rep.Followed.Round(time.Millisecond), rep.Command.Round(time.Millisecond))
	fmt.Fprintf(out, "transfers c2 scheduled in the %v after: %d\n", rep.Watch, rep.Transfers)
	if rep.Transfers != 0 {
		return fmt.Errorf("a warm standby scheduled transfers on a healthy cluster")
	}
	return nil
}
