package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/proctest"
	"github.com/granary-fs/granary/services/cluster"
)

// TestNATSClusterMemberKilled: the services use a cluster of three real
// nats-server processes; one of them is killed with SIGKILL while 6
// clients write files with replication 3. The services connected to it
// reconnect to the others; no write fails, and afterwards every block of
// every file has its 3 replicas in the block map.
func TestNATSClusterMemberKilled(t *testing.T) {
	bin := proctest.NATSServer(t)
	procs := proctest.NewGroup(t)
	var urls, routes []string
	clientPorts, monitorPorts := make([]int, 3), make([]int, 3)
	for i := range clientPorts {
		clientPorts[i], monitorPorts[i] = freePort(t), freePort(t)
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[i]))
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", freePort(t)))
	}
	servers := make([]*proctest.Proc, 3)
	for i := range servers {
		servers[i] = procs.Start(t, fmt.Sprintf("nats-%d", i+1), bin, "-a", "127.0.0.1", "-p", fmt.Sprint(clientPorts[i]), "-m", fmt.Sprint(monitorPorts[i]),
			"--cluster_name", "granary", "--cluster", routes[i], "--routes", strings.Join(routes, ","))
	}
	waitNATSCluster(t, urls)

	c := testCluster(t, 3, func(cfg *cluster.Config) { cfg.ExternalNATS = strings.Join(urls, ",") })
	w := startWriters(newClient(c, "hdfs"), "/natsload", 6)
	eventually(t, 60*time.Second, "30 files written", func() bool { return w.count() >= 30 })
	// The victim is a server that services are connected to.
	victim := -1
	for i, port := range monitorPorts {
		var connz struct {
			NumConnections int `json:"num_connections"`
		}
		if code := call(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/connz", port), nil, &connz); code == 200 && connz.NumConnections > 0 {
			victim = i
			t.Logf("killing NATS server %d, with %d service connections", i+1, connz.NumConnections)
			break
		}
	}
	if victim < 0 {
		t.Fatal("no NATS server has a connection")
	}
	servers[victim].Kill9()
	killedAt := w.count()
	eventually(t, 60*time.Second, "30 more files written after the kill", func() bool { return w.count() >= killedAt+30 })
	written := w.finish(t)
	t.Logf("%d files written, one NATS server of three killed after %d", len(written), killedAt)
	checkReplicas(t, c, written, 3)
}

// TestDevNATSCluster: `granary dev -nats-cluster 3` runs three embedded
// NATS servers routed to each other and gives every service all three.
// The one with the most service connections is shut down under 6 writers:
// no write fails and every block has its 3 replicas in the block map.
func TestDevNATSCluster(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) { cfg.NATSCluster = 3 })
	servers := c.NATSServers()
	if len(servers) != 3 || len(strings.Split(c.NATSURL, ",")) != 3 {
		t.Fatalf("%d NATS servers, services given %q", len(servers), c.NATSURL)
	}
	for _, ns := range servers {
		if ns.NumRemotes() != 2 {
			t.Fatalf("NATS server %s routes to %d others, want 2", ns.Name(), ns.NumRemotes())
		}
	}
	w := startWriters(newClient(c, "hdfs"), "/devnats", 6)
	eventually(t, 60*time.Second, "20 files written", func() bool { return w.count() >= 20 })
	// The services spread over the servers (the client picks one at
	// random): the victim is the one with the most connections.
	victim := servers[0]
	for _, ns := range servers[1:] {
		if ns.NumClients() > victim.NumClients() {
			victim = ns
		}
	}
	if victim.NumClients() == 0 {
		t.Fatal("no NATS server has a service connection")
	}
	t.Logf("shutting down NATS server %s, with %d connections", victim.Name(), victim.NumClients())
	victim.Shutdown()
	killedAt := w.count()
	eventually(t, 60*time.Second, "20 more files written after the shutdown", func() bool { return w.count() >= killedAt+20 })
	checkReplicas(t, c, w.finish(t), 3)
}

// writers are clients writing files of replication 3 in a loop.
type writers struct {
	mu       sync.Mutex
	written  []string
	failures []error
	stop     chan struct{}
	wg       sync.WaitGroup
}

// startWriters starts n writers of files under prefix.
func startWriters(cl *client.Client, prefix string, n int) *writers {
	w := &writers{stop: make(chan struct{})}
	for g := 0; g < n; g++ {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-w.stop:
					return
				default:
				}
				p := fmt.Sprintf("%s/c%d/f%d", prefix, g, i)
				data := bytes.Repeat([]byte{byte(g), byte(i)}, 4000+i)
				err := writeErr(cl, p, data, client.CreateOptions{Replication: 3})
				w.mu.Lock()
				if err != nil {
					w.failures = append(w.failures, fmt.Errorf("%s: %w", p, err))
				} else {
					w.written = append(w.written, p)
				}
				w.mu.Unlock()
			}
		}()
	}
	return w
}

func (w *writers) count() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.written) }

// finish stops the writers, fails the test for every failed write and
// returns the files written.
func (w *writers) finish(t *testing.T) []string {
	t.Helper()
	close(w.stop)
	w.wg.Wait()
	for _, err := range w.failures {
		t.Errorf("a write failed: %v", err)
	}
	return w.written
}

// checkReplicas waits until every block of every file has want replicas
// in the block map.
func checkReplicas(t *testing.T, c *cluster.Cluster, files []string, want int) {
	t.Helper()
	for _, p := range files {
		eventually(t, 30*time.Second, fmt.Sprintf("%d replicas of every block of %s in the block map", want, p), func() bool {
			bs := locations(t, c, p)
			for _, b := range bs {
				if len(b.uuids()) != want {
					return false
				}
			}
			return len(bs) > 0
		})
	}
}

// waitNATSCluster waits until a request sent to each server reaches a
// responder connected to every other one (the routes are up).
func waitNATSCluster(t *testing.T, urls []string) {
	t.Helper()
	conns := make([]*nats.Conn, len(urls))
	eventually(t, 30*time.Second, "the NATS servers to accept clients", func() bool {
		for i, u := range urls {
			if conns[i] != nil {
				continue
			}
			nc, err := nats.Connect(u, nats.DontRandomize(), nats.MaxReconnects(0))
			if err != nil {
				return false
			}
			conns[i] = nc
		}
		return true
	})
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	for i, nc := range conns {
		subj := fmt.Sprintf("probe.%d", i)
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) { _ = m.Respond([]byte("ok")) }); err != nil {
			t.Fatal(err)
		}
		_ = nc.Flush()
	}
	eventually(t, 30*time.Second, "the NATS cluster's routes", func() bool {
		for _, nc := range conns {
			for j := range conns {
				if _, err := nc.Request(fmt.Sprintf("probe.%d", j), nil, 200*time.Millisecond); err != nil {
					return false
				}
			}
		}
		return true
	})
}

// writeErr writes a file and returns the error instead of failing the test
// (for writers on goroutines).
func writeErr(c *client.Client, path string, data []byte, opts client.CreateOptions) error {
	w, err := c.Create(context.Background(), path, opts)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}
