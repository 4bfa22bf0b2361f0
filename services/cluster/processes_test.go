package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/localpg"
	"github.com/granary-fs/granary/internal/packet"
	"github.com/granary-fs/granary/internal/proctest"
)

// procCluster is Granary as a user runs it: PostgreSQL from the machine's
// binaries, a real nats-server, and granary metadata, coordinator and
// datanodes, each its own process, started with the command line a user
// types.
type procCluster struct {
	t                    *testing.T // the (sub)test running now
	procs                *proctest.Group
	dir                  string
	pg                   *localpg.Server
	pgPort, natsPort     int
	metaPort, coordPort  int
	nats, meta, coord    *proctest.Proc
	dns                  []*proctest.Proc
	dnDirs               []string
	dnPorts              []int
	acked                map[string][]byte // acknowledged files and their bytes
	ackedDirs            []string
	natsURL, dbURL       string
	granary, natsBinPath string
	coordArgs, dnArgs    []string // more arguments of the coordinator, of every datanode
	metaArgs             []string // more arguments of the metadata service
}

// procLogLevel is the processes' log level: warn, or
// GRANARY_TEST_LOG_LEVEL's (the logs show with GRANARY_TEST_LOG=1, and a
// failing test prints each process's last lines).
func procLogLevel() string {
	if l := os.Getenv("GRANARY_TEST_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newProcCluster starts PostgreSQL, nats-server, metadata and a
// coordinator; setup, if any, sets the cluster's arguments first.
func newProcCluster(t *testing.T, setup ...func(*procCluster)) *procCluster {
	c := &procCluster{t: t, procs: proctest.NewGroup(t), dir: t.TempDir(), acked: map[string][]byte{}, granary: proctest.Granary(t), natsBinPath: proctest.NATSServer(t)}
	for _, f := range setup {
		f(c)
	}
	c.pgPort, c.natsPort, c.metaPort, c.coordPort = freePort(t), freePort(t), freePort(t), freePort(t)
	c.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", c.natsPort)
	c.startPostgres()
	t.Cleanup(func() { _ = c.pg.Stop() })
	c.dbURL = c.pg.URL("postgres")
	c.startNATS()
	c.startMetadata()
	c.startCoordinator()
	return c
}

func (c *procCluster) startPostgres() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := localpg.Start(ctx, filepath.Join(c.dir, "pg"), c.pgPort)
	if err != nil {
		c.t.Fatalf("PostgreSQL: %v", err)
	}
	c.pg = pg
}

func (c *procCluster) startNATS() {
	c.nats = c.procs.Start(c.t, "nats-server", c.natsBinPath, "-a", "127.0.0.1", "-p", strconv.Itoa(c.natsPort))
	c.waitTCP(c.natsPort, "nats-server")
}

func (c *procCluster) startMetadata() {
	// The database URL comes from a file (a mounted secret), as a
	// deployment keeps its password off the command line.
	secret := filepath.Join(c.dir, "database-url")
	if err := os.WriteFile(secret, []byte(c.dbURL+"\n"), 0o600); err != nil {
		c.t.Fatal(err)
	}
	c.meta = c.procs.Start(c.t, "metadata", c.granary, append([]string{"metadata", "-format-if-needed", "-database-url-file", secret,
		"-nats-url", c.natsURL, "-http-addr", fmt.Sprintf("127.0.0.1:%d", c.metaPort), "-superuser", "hdfs",
		"-safemode-extension", "0", "-edit-log-retry", "3s", "-log-level", procLogLevel()}, c.metaArgs...)...)
	c.waitHTTP(fmt.Sprintf("http://127.0.0.1:%d/readyz", c.metaPort), "metadata")
}

func (c *procCluster) startCoordinator() {
	c.coord = c.coordinator("coordinator", c.coordPort, c.coordArgs...)
}

// coordinator starts a coordinator process on port, with more arguments,
// and waits until it is ready.
func (c *procCluster) coordinator(name string, port int, extra ...string) *proctest.Proc {
	p := c.procs.Start(c.t, name, c.granary, append([]string{"coordinator", "-nats-url", c.natsURL,
		"-http-addr", fmt.Sprintf("127.0.0.1:%d", port), "-superuser", "hdfs", "-heartbeat-interval", "200ms",
		"-heartbeat-recheck-interval", "500ms", "-stale-interval", "1s", "-log-level", procLogLevel(),
		// One write in flight makes a node of three "busy" (twice an
		// average of a fraction): the small test clusters ignore load.
		"-consider-load=false"}, extra...)...)
	c.waitHTTP(fmt.Sprintf("http://127.0.0.1:%d/readyz", port), name)
	return p
}

// addDatanode starts a datanode on dir (a new port) and returns its index.
func (c *procCluster) addDatanode(dir string) int {
	c.dnDirs = append(c.dnDirs, dir)
	c.dnPorts = append(c.dnPorts, freePort(c.t))
	c.dns = append(c.dns, nil)
	i := len(c.dns) - 1
	c.startDatanode(i)
	return i
}

func (c *procCluster) startDatanode(i int) {
	c.dns[i] = c.procs.Start(c.t, fmt.Sprintf("datanode%d", i+1), c.granary, append([]string{"datanode", "-data-dir", c.dnDirs[i],
		"-nats-url", c.natsURL, "-http-addr", fmt.Sprintf("127.0.0.1:%d", c.dnPorts[i]), "-ip", "127.0.0.1",
		"-hostname", "localhost", "-superuser", "hdfs", "-heartbeat-interval", "200ms", "-volume-check-interval", "300ms",
		"-log-level", procLogLevel()}, c.dnArgs...)...)
	c.waitHTTP(fmt.Sprintf("http://127.0.0.1:%d/readyz", c.dnPorts[i]), fmt.Sprintf("datanode%d", i+1))
}

func (c *procCluster) waitTCP(port int, what string) {
	c.t.Helper()
	eventually(c.t, 30*time.Second, what+" to listen", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			resp.Body.Close()
		}
		// NATS answers HTTP with its INFO line and closes: any answer,
		// even a protocol error, means it listens.
		return err == nil || !isConnRefused(err)
	})
}

func isConnRefused(err error) bool {
	var errno syscall.Errno
	for e := err; e != nil; {
		if u, ok := e.(interface{ Unwrap() error }); ok {
			e = u.Unwrap()
		} else {
			break
		}
		if x, ok := e.(syscall.Errno); ok {
			errno = x
		}
	}
	return errno == syscall.ECONNREFUSED
}

func (c *procCluster) waitHTTP(url, what string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			c.dumpStacks()
			c.t.Fatalf("%s not ready within 60s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dumpStacks has every granary process print its goroutines (SIGQUIT)
// into its log, which a failing test shows.
func (c *procCluster) dumpStacks() {
	procs := append([]*proctest.Proc{c.meta, c.coord}, c.dns...)
	for _, p := range procs {
		if p != nil && p.Running() {
			p.Signal(syscall.SIGQUIT)
			p.Exit(5 * time.Second)
		}
	}
}

func (c *procCluster) client() *client.Client {
	return client.New(fmt.Sprintf("http://127.0.0.1:%d", c.metaPort), "hdfs")
}

func (c *procCluster) getJSON(url string, out any) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

func (c *procCluster) cluster() api.ClusterView {
	var v api.ClusterView
	c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/cluster", c.coordPort), &v)
	return v
}

func (c *procCluster) datanodes() []api.DatanodeView {
	var v api.DatanodeList
	c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/datanodes", c.coordPort), &v)
	return v.Datanodes
}

// write writes path and records it acknowledged when the close succeeded.
func (c *procCluster) write(path string, data []byte, opts client.CreateOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := c.client().Create(ctx, path, opts)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	c.acked[path] = data
	return nil
}

// writeEventually retries a write until one is acknowledged. Each try
// writes a new file (path.<try>): a try that failed half-way leaves its
// file open under its client's lease, as HDFS does.
func (c *procCluster) writeEventually(path string, data []byte, what string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for try := 0; ; try++ {
		err := c.write(fmt.Sprintf("%s.%d", path, try), data, client.CreateOptions{Replication: 2})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no write acknowledged within 60s waiting for %s; the last failed with: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkAcked reads every acknowledged file back and compares its bytes.
func (c *procCluster) checkAcked(when string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := c.client()
	for path, want := range c.acked {
		r, err := cl.Open(ctx, path)
		if err != nil {
			c.t.Fatalf("%s: acknowledged file %s: %v", when, path, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, want) {
			c.t.Fatalf("%s: acknowledged file %s read back %d bytes (%v), want %d", when, path, len(got), err, len(want))
		}
	}
	for _, d := range c.ackedDirs {
		code := c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/webhdfs/v1%s?op=GETFILESTATUS", c.metaPort, d), &struct{}{})
		if code != 200 {
			c.t.Fatalf("%s: acknowledged directory %s: status %d", when, d, code)
		}
	}
}

func (c *procCluster) mustRun(procs ...*proctest.Proc) {
	c.t.Helper()
	for _, p := range procs {
		if !p.Running() {
			code, _ := p.Exit(0)
			c.t.Fatalf("%s exited (code %d):\n%s", p.Name, code, p.Tail(20))
		}
	}
}

// volumeChecks reads datanode i's volume-checker passes from its metrics.
func (c *procCluster) volumeChecks(i int) int {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", c.dnPorts[i]))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "granary_datanode_volume_checks_total "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// childrenOf lists the processes whose parent is pid (from /proc).
func childrenOf(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after ')'.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, unmounted
// when the test ends (after the processes using it are killed).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the full-volume fault needs root to mount a small tmpfs (CI and the project's machines run as root)")
	}
	dir, err := os.MkdirTemp("", "granary-small-volume-")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("mounting a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		_ = os.Remove(dir)
	})
	return dir
}

// TestProcessFaults runs the services as separate processes and injects
// the faults a campaign found: a NATS restart, a coordinator killed and
// restarted, a datanode volume that fills up, PostgreSQL killed past the
// edit log's retry window. Nothing acknowledged may be lost; each process
// exits or recovers as documented.
func TestProcessFaults(t *testing.T) {
	small := mountTmpfs(t, 6<<20) // registered first: unmounted after the datanode is killed
	c := newProcCluster(t)
	c.addDatanode(filepath.Join(c.dir, "dn1"))
	c.addDatanode(filepath.Join(c.dir, "dn2"))
	full := c.addDatanode(small)
	eventually(t, 30*time.Second, "3 live datanodes", func() bool { return c.cluster().Live == 3 })
	// -format-if-needed made /tmp (1777) and /user (755), so the README's
	// first command works: any user writes to /tmp.
	for dir, perm := range map[string]string{"/tmp": "1777", "/user": "755"} {
		var st struct {
			FileStatus struct{ Permission, Owner string }
		}
		eventually(t, 30*time.Second, dir+" created by -format-if-needed", func() bool {
			return c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/webhdfs/v1%s?op=GETFILESTATUS", c.metaPort, dir), &st) == 200
		})
		if st.FileStatus.Permission != perm || st.FileStatus.Owner != "hdfs" {
			t.Fatalf("%s: %+v, want permission %s owned by hdfs", dir, st.FileStatus, perm)
		}
	}
	readme := []byte("a README written as the README says\n")
	req, _ := http.NewRequest("PUT", fmt.Sprintf("http://127.0.0.1:%d/webhdfs/v1/tmp/f?op=CREATE&user.name=me", c.metaPort), bytes.NewReader(readme))
	resp, err := http.DefaultClient.Do(req) // follows the 307 to a datanode, as curl -L does
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("the README's CREATE in /tmp as user me: %s", resp.Status)
	}
	c.acked["/tmp/f"] = readme
	for i := range 4 {
		c.writeEventually(fmt.Sprintf("/faults/before-%d", i), randomBytes(50_000+i, int64(i)), "a first write")
	}

	t.Run("NATS restart", func(t *testing.T) {
		c.t = t
		c.nats.Kill9()
		c.startNATS()
		c.writeEventually("/faults/after-nats", randomBytes(30_000, 10), "a write after NATS came back")
		c.mustRun(c.meta, c.coord, c.dns[0], c.dns[1], c.dns[2])
		c.checkAcked("after a NATS restart")
	})

	t.Run("coordinator killed and restarted", func(t *testing.T) {
		c.t = t
		c.coord.Kill9()
		c.startCoordinator()
		eventually(t, 30*time.Second, "the datanodes registered with the new coordinator", func() bool {
			v := c.cluster()
			return v.Live == 3 && v.Synced
		})
		c.writeEventually("/faults/after-coordinator", randomBytes(30_000, 11), "a write after the coordinator restarted")
		c.mustRun(c.meta, c.dns[0], c.dns[1], c.dns[2])
		c.checkAcked("after a coordinator restart")
	})

	t.Run("full datanode volume", func(t *testing.T) {
		c.t = t
		// 1 MiB blocks on every datanode until the 6 MiB volume has no
		// room for another: writes then go to the other two.
		const bs = 1 << 20
		var fullView api.DatanodeView
		for i := 0; ; i++ {
			if i == 20 {
				t.Fatalf("the small volume never filled up: %+v", fullView)
			}
			path := fmt.Sprintf("/faults/fill-%d", i)
			if err := c.write(path, randomBytes(bs-100, int64(100+i)), client.CreateOptions{Replication: 3, BlockSize: bs, Overwrite: true}); err != nil {
				t.Fatalf("write %s with one volume filling up: %v", path, err)
			}
			for _, d := range c.datanodes() {
				if d.HTTPPort == c.dnPorts[full] {
					fullView = d
				}
			}
			if fullView.Remaining < bs && fullView.Blocks >= 2 {
				break
			}
		}
		// Writes go on, placed elsewhere.
		for i := range 3 {
			if err := c.write(fmt.Sprintf("/faults/after-full-%d", i), randomBytes(bs-100, int64(200+i)), client.CreateOptions{Replication: 3, BlockSize: bs}); err != nil {
				t.Fatalf("a write with one datanode full: %v", err)
			}
		}
		// The volume checker probes every 300 ms and meets a full file
		// system: the datanode must stay up, live, with no failed volume.
		checks := c.volumeChecks(full)
		eventually(t, 10*time.Second, "two volume checks of the full volume", func() bool {
			return !c.dns[full].Running() || c.volumeChecks(full) >= checks+2
		})
		c.mustRun(c.dns[full])
		for _, d := range c.datanodes() {
			if d.HTTPPort == c.dnPorts[full] && (d.State != "live" || d.FailedVolumes != 0) {
				t.Fatalf("the full datanode is %s with %d failed volumes", d.State, d.FailedVolumes)
			}
		}
		c.checkAcked("with a full datanode volume")
		// Its replicas are served: read the first fill file's block from it.
		var lbs api.LocatedBlocksResponse
		if code := c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/blockLocations?path=/faults/fill-0&user.name=hdfs", c.metaPort), &lbs); code != 200 || len(lbs.LocatedBlocks.LocatedBlocks) != 1 {
			t.Fatalf("block locations of /faults/fill-0: %d %+v", code, lbs)
		}
		lb := lbs.LocatedBlocks.LocatedBlocks[0]
		served := false
		for _, d := range lb.Locations {
			if d.HTTPPort != c.dnPorts[full] {
				continue
			}
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/blocks/%d?bpid=%s", d.HTTPPort, lb.Block.BlockID, lb.Block.BlockPoolID))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(got, c.acked["/faults/fill-0"]) {
				t.Fatalf("the full datanode served its replica: %d, %d bytes", resp.StatusCode, len(got))
			}
			served = true
		}
		if !served {
			t.Fatalf("the full datanode is not a location of /faults/fill-0: %+v", lb.Locations)
		}
		// A restart of the full datanode works, and it rejoins.
		c.dns[full].Kill9()
		c.startDatanode(full)
		eventually(t, 30*time.Second, "the full datanode to rejoin", func() bool {
			for _, d := range c.datanodes() {
				if d.HTTPPort == c.dnPorts[full] {
					return d.State == "live" && d.Blocks >= 2
				}
			}
			return false
		})
		c.mustRun(c.dns[full])
		c.checkAcked("after restarting the full datanode")
	})

	t.Run("datanode killed during a plain PUT", func(t *testing.T) {
		c.t = t
		// A plain PUT (a small file's block, a transfer) acknowledges
		// nothing before its end: a datanode killed while it receives one
		// comes back without any of it — no replica in rbw/ to recover.
		var lbs api.LocatedBlocksResponse
		if code := c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/blockLocations?path=/faults/fill-0&user.name=hdfs", c.metaPort), &lbs); code != 200 || len(lbs.LocatedBlocks.LocatedBlocks) == 0 {
			t.Fatalf("block locations of /faults/fill-0: %d %+v", code, lbs)
		}
		bpid := lbs.LocatedBlocks.LocatedBlocks[0].Block.BlockPoolID
		const victim, id = 0, int64(1<<40 + 77)
		pool := filepath.Join(c.dnDirs[victim], "current", bpid, "current")
		url := fmt.Sprintf("http://127.0.0.1:%d/api/v1/blocks/%d?bpid=%s&gs=1001", c.dnPorts[victim], id, bpid)
		pw, answered := streamPut(t, url, false)
		stream := packets(randomBytes(packet.MaxData, 77))
		if _, err := pw.Write(stream[:len(stream)-4]); err != nil { // no end marker
			t.Fatal(err)
		}
		pid := strconv.Itoa(c.dns[victim].PID())
		eventually(t, 10*time.Second, "the datanode to hold the replica's unnamed files", func() bool {
			return holdsUnnamed(pid, filepath.Join(pool, "rbw"))
		})
		c.dns[victim].Kill9()
		pw.Close() // the transport's writer waits for more of the body
		if a := <-answered; a.err == nil {
			a.resp.Body.Close()
			t.Fatalf("the PUT to the killed datanode answered %s", a.resp.Status)
		}
		c.startDatanode(victim)
		eventually(t, 30*time.Second, "the killed datanode to rejoin", func() bool {
			for _, d := range c.datanodes() {
				if d.HTTPPort == c.dnPorts[victim] {
					return d.State == "live"
				}
			}
			return false
		})
		if left, _ := filepath.Glob(filepath.Join(pool, "*", fmt.Sprintf("blk_%d*", id))); len(left) != 0 {
			t.Fatalf("files of the unfinished PUT after the restart: %v", left)
		}
		if code, exc := blockRequest(t, "GET", url, nil); code != 403 || exc != "ReplicaNotFoundException" {
			t.Fatalf("the unfinished PUT's block after the restart: %d %s", code, exc)
		}
		c.mustRun(c.dns[victim])
		c.checkAcked("after a datanode was killed during a plain PUT")
	})

	t.Run("PostgreSQL down past the retry window", func(t *testing.T) {
		c.t = t
		c.ackedDirs = append(c.ackedDirs, "/faults")
		pid, err := c.pg.PID()
		if err != nil {
			t.Fatal(err)
		}
		// The server crashes: the postmaster and every backend, at once.
		for _, p := range append(childrenOf(pid), pid) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		// Mutations now cannot be committed: they are refused, and once
		// the edit log's retry window (3 s) has passed the service exits
		// non-zero instead of lingering. One committed before the crash
		// took effect is acknowledged and must survive.
		for i := 0; ; i++ {
			dir := fmt.Sprintf("/faults/during-pg-%d", i)
			req, _ := http.NewRequest("PUT", fmt.Sprintf("http://127.0.0.1:%d/webhdfs/v1%s?op=MKDIRS&user.name=hdfs", c.metaPort, dir), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				break // the service is gone
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				break
			}
			c.ackedDirs = append(c.ackedDirs, dir)
			if i == 100 {
				t.Fatal("100 mutations acknowledged with PostgreSQL killed")
			}
		}
		code, exited := c.meta.Exit(60 * time.Second)
		if !exited {
			t.Fatal("the metadata service did not exit with its database gone past the retry window")
		}
		if code == 0 {
			t.Fatal("the metadata service exited 0 after losing its database")
		}
		c.mustRun(c.coord, c.dns[0], c.dns[1], c.dns[2])
		// PostgreSQL comes back; the service is started again, as a
		// supervisor would, and has lost nothing acknowledged.
		c.startPostgres()
		c.startMetadata()
		c.writeEventually("/faults/after-pg", randomBytes(20_000, 12), "a write after PostgreSQL came back")
		c.checkAcked("after PostgreSQL came back")
	})
	t.Run("truncate interrupted by kill -9", func(t *testing.T) {
		c.t = t
		c.truncateKilled()
	})
}

// editCount counts the edits of op code in the edit log.
func (c *procCluster) editCount(op int) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := pgx.Connect(ctx, c.dbURL)
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close(ctx)
	var n int64
	if err := db.QueryRow(ctx, "SELECT count(*) FROM edit_log WHERE op = $1", op).Scan(&n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

// truncate asks the metadata service to truncate path to n and returns
// the status and body of its answer.
func (c *procCluster) truncate(path string, n int) (int, string, error) {
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/webhdfs/v1%s?op=TRUNCATE&newlength=%d&user.name=hdfs", c.metaPort, path, n), "", nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// truncateKilled: a TRUNCATE inside a block is one OP_TRUNCATE, and the
// metadata service killed before the datanodes cut their replicas, or
// while one of them does, leaves no third length: restarted, it finishes
// the recovery, and the file holds exactly the bytes it kept. Meanwhile an
// append is refused (RecoveryInProgressException), not slipped in.
func (c *procCluster) truncateKilled() {
	t := c.t
	const n = 60_000
	files := map[string][]byte{"/trunc/a": randomBytes(100_000, 30), "/trunc/b": randomBytes(100_000, 31)}
	for p, data := range files {
		// 1 MiB blocks: the full volume takes none; the replicas are on
		// datanodes 1 and 2.
		if err := c.write(p, data, client.CreateOptions{Replication: 2, BlockSize: 1 << 20}); err != nil {
			t.Fatal(err)
		}
	}
	status := func(p string) (int64, int) {
		var st struct{ FileStatus struct{ Length int64 } }
		code := c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/webhdfs/v1%s?op=GETFILESTATUS&user.name=hdfs", c.metaPort, p), &st)
		return st.FileStatus.Length, code
	}
	truncates := c.editCount(46) // OP_TRUNCATE

	// Killed before any datanode was asked: they are down, so the
	// recovery cannot even start.
	c.dns[0].Kill9()
	c.dns[1].Kill9()
	if code, body, err := c.truncate("/trunc/a", n); err != nil || code != 200 || body != `{"boolean":false}` {
		t.Fatalf("TRUNCATE /trunc/a with its datanodes down: %d %s %v, want {\"boolean\":false}", code, body, err)
	}
	if l, _ := status("/trunc/a"); l != 0 {
		t.Fatalf("during the recovery /trunc/a is %d bytes long; HDFS does not count a block under recovery", l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if w, err := c.client().Append(ctx, "/trunc/a"); !errs.Is(err, errs.RecoveryInProgress) {
		if w != nil {
			_ = w.Close()
		}
		t.Fatalf("an append during the truncate's recovery: %v, want RecoveryInProgressException", err)
	}
	c.meta.Kill9()
	c.startDatanode(0)
	c.startDatanode(1)
	c.startMetadata()
	want := func(p string) {
		t.Helper()
		eventually(t, 60*time.Second, p+" recovered and closed at the new length", func() bool {
			l, code := status(p)
			return code == 200 && l == n
		})
		files[p] = files[p][:n]
		c.acked[p] = files[p]
	}
	want("/trunc/a")

	// Killed while a datanode is being asked: both are stopped, the
	// service waits on the first; after the kill that one cuts its
	// replica, the other keeps the old one.
	eventually(t, 30*time.Second, "3 live datanodes", func() bool { return c.cluster().Live == 3 })
	c.dns[0].Signal(syscall.SIGSTOP)
	c.dns[1].Signal(syscall.SIGSTOP)
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		_, _, _ = c.truncate("/trunc/b", n) // never answered: the service is killed
	}()
	eventually(t, 30*time.Second, "the OP_TRUNCATE of /trunc/b committed", func() bool { return c.editCount(46) >= truncates+2 })
	c.meta.Kill9()
	<-answered
	c.dns[0].Signal(syscall.SIGCONT)
	c.dns[1].Signal(syscall.SIGCONT)
	c.startMetadata()
	want("/trunc/b")
	c.mustRun(c.coord, c.dns[0], c.dns[1], c.dns[2])
	c.checkAcked("after the truncates interrupted by kill -9")
	// The old replicas are replaced: both files have two replicas again,
	// all under the block's new stamp.
	for p := range files {
		eventually(t, 60*time.Second, p+" with two replicas of its recovered block", func() bool {
			var lbs api.LocatedBlocksResponse
			code := c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/blockLocations?path=%s&user.name=hdfs", c.metaPort, p), &lbs)
			return code == 200 && len(lbs.LocatedBlocks.LocatedBlocks) == 1 && len(lbs.LocatedBlocks.LocatedBlocks[0].Locations) == 2
		})
	}
	c.checkAcked("with the recovered replicas")
}
