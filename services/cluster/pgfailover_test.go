package cluster_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/localpg"
	"github.com/granary-fs/granary/internal/proctest"
	"github.com/granary-fs/granary/services/cluster/failbench"
)

// TestPostgresFailover: the metadata service (a separate process) uses a
// PostgreSQL primary with a synchronous streaming replica, both started
// from the machine's binaries, through a two-host URL
// (target_session_attrs=read-write). The primary is killed with SIGKILL
// under 8 clients' creates, renames and deletes, and the replica promoted:
// the metadata service reconnects (the batch in flight is retried, or
// found committed), no client operation fails, and every acknowledged
// outcome is there — synchronous replication lost none of them.
func TestPostgresFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	primary, err := localpg.Start(ctx, filepath.Join(dir, "primary"), 0, "synchronous_standby_names='*'")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = primary.Stop() })
	replica, err := localpg.StartReplica(ctx, primary, filepath.Join(dir, "replica"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = replica.Stop() })
	db := fmt.Sprintf("postgres://granary@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write", primary.Port, replica.Port)

	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	procs := proctest.NewGroup(t)
	procs.Start(t, "metadata", proctest.Granary(t), "metadata", "-database-url", db, "-nats-url", "",
		"-http-addr", fmt.Sprintf("127.0.0.1:%d", port), "-superuser", "hdfs", "-safemode-extension", "0",
		"-format-if-needed", "-log-level", procLogLevel())
	eventually(t, 60*time.Second, "the metadata service to be ready", func() bool { code, _ := readyzBody(url); return code == 200 })

	load := failbench.NewLoad(url, 8)
	lctx, stopLoad := context.WithCancel(ctx)
	done := load.Start(lctx)
	defer func() { stopLoad(); <-done }()
	eventually(t, 60*time.Second, "500 operations", func() bool { return load.Ops() >= 500 })
	pid, err := primary.PID()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed, atKill := time.Now(), load.Ops()
	if err := replica.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the clients to go on after the promotion", func() bool { return load.Ops() >= atKill+500 })
	t.Logf("primary killed at %d operations; 500 more acknowledged %v later", atKill, time.Since(killed).Round(time.Millisecond))
	stopLoad()
	<-done
	lost, err := load.Verify(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if load.Errors() != 0 || lost != 0 {
		t.Fatalf("%d client operations failed, %d acknowledged outcomes lost: %v", load.Errors(), lost, load.Examples)
	}
}
