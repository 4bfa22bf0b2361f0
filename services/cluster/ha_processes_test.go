package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/localpg"
	"github.com/granary-fs/granary/internal/pgtest"
	"github.com/granary-fs/granary/internal/proctest"
	"github.com/granary-fs/granary/services/cluster"
)

// readyzBody is a service's /readyz status and text.
func readyzBody(url string) (int, string) {
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestKill9ActiveMetadata runs two metadata services of one nameservice as
// separate processes on a PostgreSQL started from the machine's binaries,
// kills the active with SIGKILL while 8 clients given both URLs make
// directories, and checks that the standby takes over (its writer lock
// is freed with the dead process's database session) and that every
// operation acknowledged before or after is there.
func TestKill9ActiveMetadata(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pgPort, p1, p2 := freePort(t), freePort(t), freePort(t)
	pg, err := localpg.Start(ctx, filepath.Join(dir, "pg"), pgPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	bin := proctest.Granary(t)
	procs := proctest.NewGroup(t)
	meta := func(id string, port int, extra ...string) *proctest.Proc {
		args := append([]string{"metadata", "-namenode-id", id, "-database-url", pg.URL("postgres"), "-nats-url", "",
			"-http-addr", fmt.Sprintf("127.0.0.1:%d", port), "-superuser", "hdfs", "-safemode-extension", "0", "-log-level", procLogLevel()}, extra...)
		return procs.Start(t, "metadata-"+id, bin, args...)
	}
	u1, u2 := fmt.Sprintf("http://127.0.0.1:%d", p1), fmt.Sprintf("http://127.0.0.1:%d", p2)
	nn1 := meta("nn1", p1, "-format-if-needed")
	eventually(t, 60*time.Second, "nn1 to be active", func() bool { code, _ := readyzBody(u1); return code == 200 })
	meta("nn2", p2)
	eventually(t, 60*time.Second, "nn2 to be standby", func() bool { _, body := readyzBody(u2); return body == "standby" })

	var acked sync.Map
	var ops, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := client.New(u1+","+u2, "hdfs")
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := fmt.Sprintf("/load/c%d/d%d", g, i)
				octx, ocancel := context.WithTimeout(ctx, 30*time.Second)
				err := cl.Mkdirs(octx, p, 0o755)
				ocancel()
				ops.Add(1)
				if err == nil {
					acked.Store(p, true)
				} else {
					failed.Add(1) // an operation cut in flight by the kill
				}
			}
		}()
	}
	eventually(t, 30*time.Second, "the clients to make 200 directories", func() bool { return ops.Load() >= 200 })
	nn1.Kill9()
	killed := time.Now()
	eventually(t, 15*time.Second, "nn2 to be active", func() bool { code, _ := readyzBody(u2); return code == 200 })
	takeover := time.Since(killed)
	before := ops.Load()
	eventually(t, 30*time.Second, "the clients to go on against nn2", func() bool { return ops.Load() >= before+200 })
	close(stop)
	wg.Wait()
	t.Logf("takeover after kill -9: %v; %d operations, %d cut in flight", takeover.Round(time.Millisecond), ops.Load(), failed.Load())
	// Every acknowledged directory is there.
	cl := client.New(u2, "hdfs")
	n := 0
	acked.Range(func(k, _ any) bool {
		n++
		if st, err := cl.Stat(ctx, k.(string)); err != nil || st.Type != "DIRECTORY" {
			t.Errorf("acknowledged %s: %+v %v", k, st, err)
			return false
		}
		return true
	})
	if n < 400 {
		t.Fatalf("only %d acknowledged operations", n)
	}
	if _, err := cl.Stat(ctx, "/load/c0/none"); !errs.Is(err, errs.FileNotFound) {
		t.Fatalf("a path never made: %v", err)
	}
}

// TestHAClusterTakeover: the whole cluster with ns1's metadata service in
// HA (cluster.Config.HA): when the active stops, the standby takes over
// the namespace and the coordination with the coordinator, and files are
// written and read on through a client given both URLs, and through the
// router, which fails over too: curl users keep one URL.
func TestHAClusterTakeover(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		cfg.HA, cfg.StandbyAddr = true, "127.0.0.1:0"
		cfg.Router, cfg.RouterAddr, cfg.RouterDatabaseURL = true, "127.0.0.1:0", pgtest.NewDatabase(t)
	})
	if c.Standby.HAState() != "standby" {
		t.Fatalf("nn2 is %s", c.Standby.HAState())
	}
	cl := client.New(c.MetadataURL+","+c.StandbyURL, "hdfs")
	one := bytes.Repeat([]byte("before "), 3000)
	writeFile(t, cl, "/ha/before", one, client.CreateOptions{Replication: 3})
	if err := c.StopMetadata(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "nn2 to be active", func() bool { code, _ := readyzBody(c.StandbyURL); return code == 200 })
	two := bytes.Repeat([]byte("after "), 3000)
	writeFile(t, cl, "/ha/after", two, client.CreateOptions{Replication: 3})
	if got := readFile(t, cl, "/ha/before"); !bytes.Equal(got, one) {
		t.Fatal("/ha/before differs after the takeover")
	}
	if got := readFile(t, cl, "/ha/after"); !bytes.Equal(got, two) {
		t.Fatal("/ha/after differs")
	}
	// Through the router (configured with nn1 first, now gone): plain
	// HTTP requests as curl sends them.
	for _, q := range []struct{ method, path string }{
		{"GET", "/webhdfs/v1/ns1/ha/before?op=GETFILESTATUS&user.name=hdfs"},
		{"PUT", "/webhdfs/v1/ns1/ha/routed?op=MKDIRS&user.name=hdfs"},
		{"PUT", "/webhdfs/v1/ns1/ha/routed?op=RENAME&destination=/ns1/ha/routed2&user.name=hdfs"},
	} {
		req, _ := http.NewRequest(q.method, c.RouterURL+q.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(string(body), "false") {
			t.Fatalf("%s %s through the router after the takeover: %d %s", q.method, q.path, resp.StatusCode, body)
		}
	}
	if st, err := cl.Stat(context.Background(), "/ha/routed2"); err != nil || st.Type != "DIRECTORY" {
		t.Fatalf("/ha/routed2: %+v %v", st, err)
	}
}

// TestCoordinatorFailover: with coordinator HA every datanode reports to
// both coordinators and follows the active's commands. When the active
// (c1) stops, the metadata service hands the role to c2 once c1's lease
// lapses; the datanodes follow c2's newer claim, its commands are executed
// (a deleted file's replicas go), placement goes on through it, and its
// warm block map schedules no transfer on the healthy cluster.
func TestCoordinatorFailover(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		cfg.HA, cfg.StandbyAddr, cfg.StandbyCoordinatorAddr = true, "127.0.0.1:0", "127.0.0.1:0"
	})
	following := func(id string) func() bool {
		return func() bool {
			for _, dn := range c.Datanodes {
				if dn.Info().ActiveCoordinators["ns1"] != id {
					return false
				}
			}
			return true
		}
	}
	eventually(t, 10*time.Second, "c1 active, followed by every datanode", func() bool {
		return c.Coordinator.HAState() == "active" && c.Coordinator2.HAState() == "standby" && following("c1")()
	})
	cl := newClient(c, "hdfs")
	one, two := bytes.Repeat([]byte("a"), 5000), bytes.Repeat([]byte("b"), 7000)
	writeFile(t, cl, "/cf/one", one, client.CreateOptions{Replication: 3})
	writeFile(t, cl, "/cf/two", two, client.CreateOptions{Replication: 3})
	replicas := func() int {
		n := 0
		for _, dn := range c.Datanodes {
			n += dn.Info().Replicas
		}
		return n
	}
	eventually(t, 10*time.Second, "6 replicas", func() bool { return replicas() == 6 })

	stopped := time.Now()
	if err := c.StopCoordinator(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "c2 to be active", func() bool { return c.Coordinator2.HAState() == "active" })
	eventually(t, 10*time.Second, "every datanode to follow c2", following("c2"))
	t.Logf("coordinator failover: c2 active and followed %v after c1 stopped", time.Since(stopped).Round(time.Millisecond))
	before := c.Coordinator2.TransfersScheduled()

	// c2's commands are executed: the replicas of a deleted file go.
	if ok, err := cl.Delete(context.Background(), "/cf/one", false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	eventually(t, 10*time.Second, "the deleted file's replicas to be invalidated by c2", func() bool { return replicas() == 3 })
	// Placement and reads go on through c2.
	three := bytes.Repeat([]byte("c"), 9000)
	writeFile(t, cl, "/cf/three", three, client.CreateOptions{Replication: 3})
	if got := readFile(t, cl, "/cf/two"); !bytes.Equal(got, two) {
		t.Fatal("/cf/two differs after the coordinator failover")
	}
	if got := readFile(t, cl, "/cf/three"); !bytes.Equal(got, three) {
		t.Fatal("/cf/three differs")
	}
	if n := c.Coordinator2.TransfersScheduled() - before; n != 0 {
		t.Fatalf("c2 scheduled %d transfers on a healthy cluster after taking over", n)
	}
}
