package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/pgtest"
	"github.com/granary-fs/granary/internal/proctest"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/cluster/failbench"
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
// separate processes on a PostgreSQL started from the machine's binaries
// and, three times at a random moment, kills the active with SIGKILL while
// 8 clients given both URLs create, rename and delete (failbench, which
// `granary bench failover` runs 20 times): the standby takes over within
// 5 s each time (its writer lock is freed with the dead process's
// database session), no client operation fails — calls cut in flight are
// sent again and answered from the retry cache, not applied twice — and
// every acknowledged outcome is there at the end.
func TestKill9ActiveMetadata(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var log strings.Builder
	rep, err := failbench.Measure(ctx, failbench.Config{Bin: proctest.Granary(t), Dir: t.TempDir(), Runs: 3, Clients: 8, Log: &log})
	t.Log(log.String())
	if err != nil {
		t.Fatal(err)
	}
	lo, med, hi := rep.Takeovers()
	t.Logf("takeover after kill -9: min %v, median %v, max %v; %d operations acknowledged, %d failed, %d lost",
		lo.Round(time.Millisecond), med.Round(time.Millisecond), hi.Round(time.Millisecond), rep.Ops, rep.Errors, rep.Lost)
	if len(rep.Runs) != 3 || hi > 5*time.Second {
		t.Fatalf("takeovers: %+v", rep.Runs)
	}
	for i, r := range rep.Runs {
		if r.Ops < 100 {
			t.Fatalf("run %d: only %d operations", i+1, r.Ops)
		}
	}
	if rep.Errors != 0 || rep.Lost != 0 {
		t.Fatalf("%d client operations failed, %d acknowledged outcomes lost: %v", rep.Errors, rep.Lost, rep.Examples)
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
	eventually(t, 10*time.Second, "c1 active, followed by every datanode", func() bool {
		return c.Coordinator.HAState() == "active" && c.Coordinator2.HAState() == "standby" && following(c, "ns1", "c1")()
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
	eventually(t, 10*time.Second, "every datanode to follow c2", following(c, "ns1", "c2"))
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
	// Its request counts are labelled by verb, not by its ID (the
	// subjects end with .c2).
	code, _, body := curlL(t, "GET", c.Coordinator2URL+"/metrics", nil)
	if code != 200 || !strings.Contains(string(body), `subject="heartbeat"`) || strings.Contains(string(body), `subject="c2"`) {
		t.Fatalf("c2's /metrics: %d\n%s", code, body)
	}
}

// TestKill9ActiveCoordinator: coordinators c1 and c2 of ns1 and three
// datanodes as separate processes; c1, active, is killed with SIGKILL.
// c2 takes over (its lease from the metadata service lapses with c1's
// asks), every datanode follows c2's newer claim, c2's commands are
// executed (a deleted file's replicas go) and what was acknowledged
// before reads back.
func TestKill9ActiveCoordinator(t *testing.T) {
	c := newProcCluster(t, func(c *procCluster) {
		c.coordArgs = []string{"-coordinator-id", "c1"}
		c.dnArgs = []string{"-coordinators", "c1,c2"}
	})
	state := func(port int) string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	eventually(t, 30*time.Second, "c1 active", func() bool { return state(c.coordPort) == "ready active" })
	c2Port := freePort(t)
	c2 := c.coordinator("c2", c2Port, "-coordinator-id", "c2")
	for i := range 3 {
		c.addDatanode(filepath.Join(c.dir, fmt.Sprintf("dn%d", i+1)))
	}
	following := func(id string) func() bool {
		return func() bool {
			for _, port := range c.dnPorts {
				var info struct{ ActiveCoordinators map[string]string }
				if c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/info", port), &info) != 200 || info.ActiveCoordinators["ns1"] != id {
					return false
				}
			}
			return true
		}
	}
	replicas := func() int {
		n := 0
		for _, port := range c.dnPorts {
			var info struct{ Replicas int }
			c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/info", port), &info)
			n += info.Replicas
		}
		return n
	}
	eventually(t, 30*time.Second, "3 live datanodes following c1, c2 standby", func() bool {
		return c.cluster().Live == 3 && following("c1")() && state(c2Port) == "ready standby"
	})
	for i, path := range []string{"/kc/one", "/kc/two"} {
		if err := c.write(path, randomBytes(5000+i, int64(i)), client.CreateOptions{Replication: 3}); err != nil {
			t.Fatalf("write %s with c1 active: %v", path, err)
		}
	}
	eventually(t, 30*time.Second, "6 replicas", func() bool { return replicas() == 6 })

	killed := time.Now()
	c.coord.Kill9()
	eventually(t, 30*time.Second, "c2 active", func() bool { return state(c2Port) == "ready active" })
	eventually(t, 30*time.Second, "every datanode following c2", following("c2"))
	t.Logf("c2 active and followed %v after c1 was killed", time.Since(killed).Round(time.Millisecond))
	c.coordPort = c2Port // cluster() and datanodes() ask c2 now

	if ok, err := c.client().Delete(context.Background(), "/kc/one", false); err != nil || !ok {
		t.Fatal(ok, err)
	}
	delete(c.acked, "/kc/one")
	eventually(t, 30*time.Second, "the deleted file's replicas invalidated by c2", func() bool { return replicas() == 3 })
	c.writeEventually("/kc/three", randomBytes(9000, 3), "a write with c2 active")
	c.mustRun(c.meta, c2, c.dns[0], c.dns[1], c.dns[2])
	c.checkAcked("after the active coordinator was killed")
	// Its block map was warm: no replication storm on the healthy cluster.
	if n := metricValue(t, fmt.Sprintf("http://127.0.0.1:%d", c2Port), "granary_coordinator_transfers_scheduled_total"); n != 0 {
		t.Fatalf("c2 scheduled %v transfers after taking over a healthy cluster", n)
	}
}

// TestStartFailureStopsWhatStarted: a cluster that cannot start (here a
// router with no database for its mount table) returns the error, having
// stopped what it had started, rather than panicking on its way out (the
// cluster it returns is nil).
func TestStartFailureStopsWhatStarted(t *testing.T) {
	c, err := cluster.Start(context.Background(), cluster.Config{
		DataDir: t.TempDir(), DatabaseURL: pgtest.NewDatabase(t), MetadataAddr: "127.0.0.1:0", CoordinatorAddr: "127.0.0.1:0",
		NATSAddr: "127.0.0.1:0", Datanodes: 1, DatanodeAddrs: []string{"127.0.0.1:0"}, Router: true, RouterAddr: "127.0.0.1:0",
		Logger: testLogger(),
	})
	if c != nil || err == nil || !strings.Contains(err.Error(), "the router needs a database") {
		t.Fatalf("a router without a database: %v, %v", c, err)
	}
}

// TestFederatedHA: with HA and two nameservices, ns2 has its own nn1/nn2
// and c1/c2 (dev -ha's layout for every nameservice) and the datanodes
// follow each nameservice's active coordinator. ns2's nn1 and c1 stop:
// nn2 and c2 take over, the datanodes follow c2 for ns2 only, and ns2's
// files are written and read through both metadata URLs and through the
// router, while ns1 keeps its c1.
func TestFederatedHA(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		twoNameservices(t, cfg)
		cfg.HA, cfg.StandbyAddr, cfg.StandbyCoordinatorAddr = true, "127.0.0.1:0", "127.0.0.1:0"
		cfg.Router, cfg.RouterAddr, cfg.RouterDatabaseURL = true, "127.0.0.1:0", pgtest.NewDatabase(t)
	})
	ns2 := c.Federated[0]
	if ns2.Standby == nil || ns2.Coordinator2 == nil {
		t.Fatal("ns2 has no nn2 or c2")
	}
	if st := ns2.Standby.HAState(); st != "standby" {
		t.Fatalf("ns2's nn2 is %s", st)
	}
	eventually(t, 30*time.Second, "the datanodes following c1 of each nameservice", func() bool {
		return following(c, "ns1", "c1")() && following(c, "ns2", "c1")() && !ns2.Coordinator2.IsActive()
	})
	cl := client.New(ns2.MetadataURL+","+ns2.StandbyURL, "hdfs")
	one := bytes.Repeat([]byte("ns2 before "), 2000)
	writeFile(t, cl, "/fha/before", one, client.CreateOptions{Replication: 3})

	if err := c.StopNameserviceMetadata(ns2); err != nil {
		t.Fatal(err)
	}
	if err := c.StopNameserviceCoordinator(ns2); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "ns2's nn2 active", func() bool { code, _ := readyzBody(ns2.StandbyURL); return code == 200 })
	eventually(t, 30*time.Second, "ns2's c2 active and followed", func() bool { return ns2.Coordinator2.IsActive() && following(c, "ns2", "c2")() })
	if !following(c, "ns1", "c1")() {
		t.Fatal("ns2's failover moved ns1's datanodes off c1")
	}
	two := bytes.Repeat([]byte("ns2 after "), 2000)
	writeFile(t, cl, "/fha/after", two, client.CreateOptions{Replication: 3})
	for p, want := range map[string][]byte{"/fha/before": one, "/fha/after": two} {
		if got := readFile(t, cl, p); !bytes.Equal(got, want) {
			t.Fatalf("ns2's %s differs after the takeover", p)
		}
	}
	eventually(t, 30*time.Second, "3 replicas of ns2's new file in c2's block map", func() bool {
		l, err := cl.BlockLocations(context.Background(), "/fha/after")
		return err == nil && len(l.LocatedBlocks) == 1 && len(l.LocatedBlocks[0].Locations) == 3
	})
	resp, err := http.Get(c.RouterURL + "/webhdfs/v1/ns2/fha/after?op=GETFILESTATUS&user.name=hdfs")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), fmt.Sprintf(`"length":%d`, len(two))) {
		t.Fatalf("ns2's file through the router after the takeover: %d %s", resp.StatusCode, body)
	}
	// A standby sends no command but REGISTER and KEYUPDATE: none was
	// ignored on any datanode (HDFS's standby does not answer a full report
	// with FINALIZE either).
	for i, u := range c.DatanodeURLs {
		if n := metricValue(t, u, "granary_datanode_standby_commands_ignored_total"); n != 0 {
			t.Errorf("datanode %d ignored %v commands from a standby coordinator", i+1, n)
		}
	}
}
