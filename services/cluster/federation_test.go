package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/pgtest"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/datanode"
)

// twoNameservices configures a second nameservice (its own database,
// loopback ports) over the cluster's datanodes.
func twoNameservices(t *testing.T, cfg *cluster.Config) {
	cfg.Nameservices = 2
	cfg.FederatedDatabaseURLs = []string{pgtest.NewDatabase(t)}
	cfg.FederatedMetadataAddrs = []string{"127.0.0.1:0"}
	cfg.FederatedCoordinatorAddrs = []string{"127.0.0.1:0"}
}

// replicaFiles lists the block files of block id under block pool bpid on
// every datanode's volume.
func replicaFiles(t *testing.T, c *cluster.Cluster, bpid string, id int64) []string {
	t.Helper()
	var out []string
	for i := range c.Datanodes {
		root := filepath.Join(c.DatanodeDir(i), "current", bpid)
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() == "blk_"+itoa(id) {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestTwoNameservicesShareDatanodes (seed 003): two nameservices, each its
// own metadata service, database, coordinator and block pool, over the
// same three datanodes. Files of each are read back; each pool's replicas
// sit under its own current/<bpid>/; each coordinator knows only its own
// blocks; the first block of each namespace has the same ID in both pools
// and stays two blocks through writes, reads and a delete.
func TestTwoNameservicesShareDatanodes(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) { twoNameservices(t, cfg) })
	if len(c.Federated) != 1 {
		t.Fatalf("%d federated nameservices", len(c.Federated))
	}
	ns2 := c.Federated[0]
	for svc, u := range map[string]string{"metadata": ns2.MetadataURL, "coordinator": ns2.CoordinatorURL} {
		if err := contracts.Serve(svc, strings.TrimPrefix(u, "http://")); err != nil {
			t.Fatal(err)
		}
	}
	if ns2.Metadata.ClusterID() != c.Metadata.ClusterID() || ns2.Metadata.BlockPoolID() == c.Metadata.BlockPoolID() {
		t.Fatalf("ns2: cluster %s (ns1 %s), block pool %s (ns1 %s)", ns2.Metadata.ClusterID(), c.Metadata.ClusterID(), ns2.Metadata.BlockPoolID(), c.Metadata.BlockPoolID())
	}
	eventually(t, 30*time.Second, "ns2's coordinator to see the three datanodes", func() bool { return ns2.Coordinator.Manager().Cluster().Live == 3 })

	cl1 := newClient(c, "hdfs")
	cl2 := client.New(ns2.MetadataURL, "hdfs")
	cl2.SetTransport(contracts)
	one, two := bytes.Repeat([]byte("one "), 3000), bytes.Repeat([]byte("two "), 5000)
	writeFile(t, cl1, "/f", one, client.CreateOptions{Replication: 3})
	writeFile(t, cl2, "/f", two, client.CreateOptions{Replication: 3})
	if got := readFile(t, cl1, "/f"); !bytes.Equal(got, one) {
		t.Fatal("ns1's /f differs")
	}
	if got := readFile(t, cl2, "/f"); !bytes.Equal(got, two) {
		t.Fatal("ns2's /f differs")
	}
	ctx := context.Background()
	l1, err := cl1.BlockLocations(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	l2, err := cl2.BlockLocations(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	b1, b2 := l1.LocatedBlocks[0].Block, l2.LocatedBlocks[0].Block
	if b1.BlockID != b2.BlockID || b1.BlockPoolID == b2.BlockPoolID {
		t.Fatalf("blocks %+v and %+v: the same ID in two pools was wanted", b1, b2)
	}
	eventually(t, 10*time.Second, "three replicas of each pool's block under its own pool", func() bool {
		return len(replicaFiles(t, c, b1.BlockPoolID, b1.BlockID)) == 3 && len(replicaFiles(t, c, b2.BlockPoolID, b2.BlockID)) == 3
	})
	if n1, n2 := c.Coordinator.Manager().Cluster().Blocks, ns2.Coordinator.Manager().Cluster().Blocks; n1 != 1 || n2 != 1 {
		t.Fatalf("ns1's coordinator knows %d blocks, ns2's %d; each wanted its own one", n1, n2)
	}
	for _, dn := range c.Datanodes {
		if pools := dn.Info().BlockPools; len(pools) != 2 {
			t.Fatalf("datanode serves %v", pools)
		}
	}
	// ns2 down: ns1 goes on writing and reading on the same datanodes;
	// ns2 back: its block pool is reported again and its file read.
	c.StopNameservice(ns2)
	writeFile(t, cl1, "/while-ns2-is-down", one, client.CreateOptions{Replication: 3})
	if got := readFile(t, cl1, "/while-ns2-is-down"); !bytes.Equal(got, one) {
		t.Fatal("ns1 while ns2 is down")
	}
	if err := c.StartNameservice(ctx, ns2); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "ns2's block pool reported again", func() bool {
		cl := ns2.Coordinator.Manager().Cluster()
		return cl.Live == 3 && ns2.Coordinator.Manager().SafeModeCounts().SafeBlocks == 1
	})
	if got := readFile(t, cl2, "/f"); !bytes.Equal(got, two) {
		t.Fatal("ns2's /f after its restart")
	}
	// Deleting ns1's file removes its replicas only.
	if _, err := cl1.Delete(ctx, "/f", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "ns1's replicas to go", func() bool { return len(replicaFiles(t, c, b1.BlockPoolID, b1.BlockID)) == 0 })
	consistently(t, time.Second, "ns2's replicas to stay", func() bool { return len(replicaFiles(t, c, b2.BlockPoolID, b2.BlockID)) == 3 })
	if got := readFile(t, cl2, "/f"); !bytes.Equal(got, two) {
		t.Fatal("ns2's /f differs after ns1's delete")
	}
}

// TestRefreshNamenodes: running datanodes re-read their nameservices file
// when told (refreshNamenodes): a new nameservice's block pool service
// starts (the datanodes register and take its files), one no longer listed
// stops, and its replicas stay on disk.
func TestRefreshNamenodes(t *testing.T) {
	dir := t.TempDir()
	files := make([]string, 3)
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		twoNameservices(t, cfg)
		d := cfg.Datanode
		cfg.Datanode = func(i int, dc *datanode.Config) {
			d(i, dc)
			files[i] = filepath.Join(dir, fmt.Sprintf("nameservices%d", i))
			if err := os.WriteFile(files[i], []byte("ns1\nns2\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			dc.NameservicesFile = files[i]
		}
	})
	ctx := context.Background()
	ns2 := c.Federated[0]
	eventually(t, 30*time.Second, "ns2's coordinator to see the datanodes", func() bool { return ns2.Coordinator.Manager().Cluster().Live == 3 })
	cl2 := client.New(ns2.MetadataURL, "hdfs")
	writeFile(t, cl2, "/kept", []byte("kept on disk"), client.CreateOptions{Replication: 3})
	l2, err := cl2.BlockLocations(ctx, "/kept")
	if err != nil {
		t.Fatal(err)
	}
	b2 := l2.LocatedBlocks[0].Block

	ns3, err := c.AddNameservice(ctx, pgtest.NewDatabase(t), "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	consistently(t, 500*time.Millisecond, "no datanode to serve ns3 before it is told", func() bool { return ns3.Coordinator.Manager().Cluster().Live == 0 })
	for i, f := range files {
		if err := os.WriteFile(f, []byte("ns1\n# ns2 retired\nns3\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, exc := blockRequest(t, "POST", c.DatanodeURLs[i]+"/api/v1/admin/refreshNamenodes?user.name=hdfs", nil); code != 200 {
			t.Fatalf("refreshNamenodes: %d %s", code, exc)
		}
	}
	eventually(t, 30*time.Second, "ns3's coordinator to see the three datanodes", func() bool { return ns3.Coordinator.Manager().Cluster().Live == 3 })
	eventually(t, 30*time.Second, "the datanodes to leave ns2", func() bool {
		for _, dn := range c.Datanodes {
			if slices.Contains(dn.Info().BlockPools, ns2.Metadata.BlockPoolID()) || len(dn.Info().BlockPools) != 2 {
				return false
			}
		}
		return true
	})
	cl3 := client.New(ns3.MetadataURL, "hdfs")
	data := bytes.Repeat([]byte("ns3 "), 2000)
	writeFile(t, cl3, "/new", data, client.CreateOptions{Replication: 3})
	if got := readFile(t, cl3, "/new"); !bytes.Equal(got, data) {
		t.Fatal("ns3's file differs")
	}
	if n := len(replicaFiles(t, c, b2.BlockPoolID, b2.BlockID)); n != 3 {
		t.Fatalf("ns2's replicas on disk after it was retired: %d, want 3", n)
	}
	// ns1 is untouched.
	writeFile(t, newClient(c, "hdfs"), "/still", data, client.CreateOptions{Replication: 3})
}

// TestReformatNameserviceWhileDatanodesRun: ns2 formatted again (a new
// namespace and block pool) while the datanodes run: they retire its old
// pool (its replicas stay on disk, no longer served) and join the new one;
// not one replica of ns1 is touched.
func TestReformatNameserviceWhileDatanodesRun(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) { twoNameservices(t, cfg) })
	ctx := context.Background()
	ns2 := c.Federated[0]
	eventually(t, 30*time.Second, "ns2's coordinator to see the datanodes", func() bool { return ns2.Coordinator.Manager().Cluster().Live == 3 })
	cl1 := newClient(c, "hdfs")
	data := bytes.Repeat([]byte("ns1 "), 3000)
	writeFile(t, cl1, "/ns1", data, client.CreateOptions{Replication: 3})
	writeFile(t, client.New(ns2.MetadataURL, "hdfs"), "/old", data, client.CreateOptions{Replication: 3})
	l1, err := cl1.BlockLocations(ctx, "/ns1")
	if err != nil {
		t.Fatal(err)
	}
	b1 := l1.LocatedBlocks[0].Block
	oldPool := ns2.Metadata.BlockPoolID()
	if err := c.ReformatNameservice(ctx, ns2); err != nil {
		t.Fatal(err)
	}
	newPool := ns2.Metadata.BlockPoolID()
	if newPool == oldPool {
		t.Fatal("the re-format kept the block pool ID")
	}
	eventually(t, 30*time.Second, "the datanodes to join ns2's new pool and retire the old one", func() bool {
		for _, dn := range c.Datanodes {
			pools := dn.Info().BlockPools
			if !slices.Contains(pools, newPool) || slices.Contains(pools, oldPool) {
				return false
			}
		}
		return ns2.Coordinator.Manager().Cluster().Live == 3
	})
	cl2 := client.New(ns2.MetadataURL, "hdfs")
	writeFile(t, cl2, "/new", data, client.CreateOptions{Replication: 3})
	if got := readFile(t, cl2, "/new"); !bytes.Equal(got, data) {
		t.Fatal("ns2's new file differs")
	}
	if _, err := cl2.Stat(ctx, "/old"); err == nil {
		t.Fatal("the re-formatted namespace still has /old")
	}
	consistently(t, time.Second, "ns1's replicas to stay", func() bool { return len(replicaFiles(t, c, b1.BlockPoolID, b1.BlockID)) == 3 })
	if got := readFile(t, cl1, "/ns1"); !bytes.Equal(got, data) {
		t.Fatal("ns1's file differs")
	}
	for i := range c.Datanodes {
		if _, err := os.Stat(filepath.Join(c.DatanodeDir(i), "current", oldPool)); err != nil {
			t.Fatalf("the retired pool's folder on datanode %d: %v", i, err)
		}
	}
}

// TestDatanodeLossHealsEachPool: a datanode serving two pools dies; each
// nameservice's coordinator re-replicates its own block onto the
// survivors, under its own pool, and nothing crosses pools.
func TestDatanodeLossHealsEachPool(t *testing.T) {
	c := testCluster(t, 4, func(cfg *cluster.Config) { twoNameservices(t, cfg) })
	ctx := context.Background()
	ns2 := c.Federated[0]
	eventually(t, 30*time.Second, "ns2's coordinator to see the datanodes", func() bool { return ns2.Coordinator.Manager().Cluster().Live == 4 })
	cl1, cl2 := newClient(c, "hdfs"), client.New(ns2.MetadataURL, "hdfs")
	writeFile(t, cl1, "/a", bytes.Repeat([]byte("1"), 4000), client.CreateOptions{Replication: 3})
	writeFile(t, cl2, "/a", bytes.Repeat([]byte("2"), 6000), client.CreateOptions{Replication: 3})
	l1, err := cl1.BlockLocations(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	l2, err := cl2.BlockLocations(ctx, "/a")
	if err != nil {
		t.Fatal(err)
	}
	b1, b2 := l1.LocatedBlocks[0], l2.LocatedBlocks[0]
	// A datanode holding a replica of both blocks.
	victim := -1
	for _, d1 := range b1.Locations {
		for _, d2 := range b2.Locations {
			if d1.UUID == d2.UUID && victim < 0 {
				victim = index(t, c, d1.UUID)
			}
		}
	}
	if victim < 0 {
		t.Fatal("no datanode holds both blocks") // 3 of 4 each: impossible
	}
	if err := c.KillDatanode(victim); err != nil {
		t.Fatal(err)
	}
	live := func(files []string) int {
		n := 0
		for _, f := range files {
			if !strings.HasPrefix(f, c.DatanodeDir(victim)+string(filepath.Separator)) {
				n++
			}
		}
		return n
	}
	eventually(t, 60*time.Second, "each pool's block back to three live replicas", func() bool {
		return live(replicaFiles(t, c, b1.Block.BlockPoolID, b1.Block.BlockID)) == 3 && live(replicaFiles(t, c, b2.Block.BlockPoolID, b2.Block.BlockID)) == 3
	})
	if got := readFile(t, cl1, "/a"); !bytes.Equal(got, bytes.Repeat([]byte("1"), 4000)) {
		t.Fatal("ns1's /a differs")
	}
	if got := readFile(t, cl2, "/a"); !bytes.Equal(got, bytes.Repeat([]byte("2"), 6000)) {
		t.Fatal("ns2's /a differs")
	}
}

// TestRefreshNamenodesCoordinators: a nameservices file line can name the
// nameservice's coordinators ("ns1 c1,c2", HDFS's dfs.ha.namenodes.ns1);
// refreshNamenodes starts an actor for a coordinator new to the line and
// stops the one of a coordinator no longer on it, as HDFS's
// BPOfferService.refreshNNList: running datanodes join a standby added
// later, and after c1 leaves the line and stops, they follow c2 alone.
func TestRefreshNamenodesCoordinators(t *testing.T) {
	dir := t.TempDir()
	files := make([]string, 3)
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		cfg.HA, cfg.StandbyAddr, cfg.StandbyCoordinatorAddr = true, "127.0.0.1:0", "127.0.0.1:0"
		d := cfg.Datanode
		cfg.Datanode = func(i int, dc *datanode.Config) {
			d(i, dc)
			files[i] = filepath.Join(dir, fmt.Sprintf("nameservices%d", i))
			if err := os.WriteFile(files[i], []byte("ns1 c1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			dc.NameservicesFile = files[i]
		}
	})
	refresh := func(line string) {
		t.Helper()
		for i, f := range files {
			if err := os.WriteFile(f, []byte(line+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if code, exc := blockRequest(t, "POST", c.DatanodeURLs[i]+"/api/v1/admin/refreshNamenodes?user.name=hdfs", nil); code != 200 {
				t.Fatalf("refreshNamenodes: %d %s", code, exc)
			}
		}
	}
	eventually(t, 30*time.Second, "c1 to see the three datanodes", func() bool { return c.Coordinator.Manager().Cluster().Live == 3 })
	eventually(t, 10*time.Second, "every datanode to follow c1", following(c, "ns1", "c1"))
	consistently(t, 500*time.Millisecond, "c2 to see no datanode before it is listed", func() bool { return c.Coordinator2.Manager().Cluster().Live == 0 })

	refresh("ns1 c1,c2")
	eventually(t, 30*time.Second, "c2 to see the three datanodes", func() bool { return c.Coordinator2.Manager().Cluster().Live == 3 })
	cl := newClient(c, "hdfs")
	data := bytes.Repeat([]byte("refresh "), 1000)
	writeFile(t, cl, "/both", data, client.CreateOptions{Replication: 3})

	// c1 leaves the line and stops: the datanodes follow c2 alone.
	refresh("ns1 c2")
	if err := c.StopCoordinator(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "c2 to be active", func() bool { return c.Coordinator2.HAState() == "active" })
	eventually(t, 15*time.Second, "every datanode to follow c2", following(c, "ns1", "c2"))
	writeFile(t, cl, "/c2only", data, client.CreateOptions{Replication: 3})
	if got := readFile(t, cl, "/both"); !bytes.Equal(got, data) {
		t.Fatal("/both differs")
	}

	// A malformed line is refused and changes nothing.
	for i, f := range files {
		if err := os.WriteFile(f, []byte("ns1 c2 extra\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _ := blockRequest(t, "POST", c.DatanodeURLs[i]+"/api/v1/admin/refreshNamenodes?user.name=hdfs", nil); code != 200 {
			t.Fatalf("refreshNamenodes: %d", code)
		}
	}
	consistently(t, 500*time.Millisecond, "the datanodes to keep following c2", following(c, "ns1", "c2"))
}
