package cluster_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/datanode"
)

// allBlocks reports whether every block of path has exactly want
// locations on distinct datanodes, none of them in not.
func allBlocks(t *testing.T, c *cluster.Cluster, path string, want int, not ...string) bool {
	for _, b := range locations(t, c, path) {
		u := b.uuids()
		slices.Sort(u)
		if len(u) != want || len(slices.Compact(u)) != want {
			return false
		}
		for _, n := range not {
			if slices.Contains(u, n) {
				return false
			}
		}
	}
	return true
}

func TestReReplicationAfterADatanodeDies(t *testing.T) {
	c := testCluster(t, 4, smallBlocks)
	cl := newClient(c, "hdfs")
	const bs = 64 << 10
	files := map[string][]byte{}
	for i, name := range []string{"/heal/a", "/heal/b", "/heal/c"} {
		files[name] = randomBytes(3*bs+100*i, int64(i)+900)
		writeFile(t, cl, name, files[name], client.CreateOptions{BlockSize: bs, Replication: 3})
	}
	victim := locations(t, c, "/heal/a")[0].uuids()[0]
	if err := c.KillDatanode(index(t, c, victim)); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		eventually(t, 30*time.Second, "3 live replicas of every block of "+name, func() bool {
			return allBlocks(t, c, name, 3, victim)
		})
	}
	for name, data := range files {
		if got := readFile(t, cl, name); !bytes.Equal(got, data) {
			t.Fatalf("%s differs after re-replication", name)
		}
	}
	if v := clusterView(t, c); v.DeadDatanodes != 1 || v.LiveDatanodes != 3 {
		t.Fatalf("cluster after the loss: %+v", v)
	}
	resp, err := http.Get(c.MetadataURL + "/api/v1/admin/fsck?path=/heal&user.name=hdfs")
	if err != nil {
		t.Fatal(err)
	}
	report, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("X-Granary-Fsck-Status") != "HEALTHY" || !strings.Contains(string(report), " Under-replicated blocks:\t0 (0.0 %)") {
		t.Fatalf("fsck after healing:\n%s", report)
	}
}

func TestSetReplicationConverges(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	cl := newClient(c, "hdfs")
	data := randomBytes(200<<10, 5)
	writeFile(t, cl, "/rep/f", data, client.CreateOptions{BlockSize: 64 << 10, Replication: 3})
	for _, r := range []int{1, 2, 3} {
		if ok, err := cl.SetReplication(context.Background(), "/rep/f", r); err != nil || !ok {
			t.Fatalf("setrep %d: %v %v", r, ok, err)
		}
		eventually(t, 30*time.Second, "every block at replication "+strconv.Itoa(r), func() bool { return allBlocks(t, c, "/rep/f", r) })
		if got := readFile(t, cl, "/rep/f"); !bytes.Equal(got, data) {
			t.Fatalf("file differs at replication %d", r)
		}
	}
	// Excess replicas were deleted from the datanodes' disks too.
	if _, err := cl.SetReplication(context.Background(), "/rep/f", 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the datanodes to hold one replica per block", func() bool {
		total := 0
		for _, dn := range c.Datanodes {
			total += dn.Info().Replicas
		}
		return total == len(locations(t, c, "/rep/f"))
	})
}

func TestCorruptReplicaIsReplaced(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	cl := newClient(c, "hdfs")
	data := randomBytes(50_000, 11)
	writeFile(t, cl, "/corrupt/f", data, client.CreateOptions{BlockSize: 1 << 20, Replication: 2})
	lb := locations(t, c, "/corrupt/f")[0]
	holders := lb.uuids()
	path := flipByte(t, c, lb, holders[0], 100)
	// Reads find the corruption (whichever replica they are offered first,
	// they return the right bytes), and a healthy copy replaces it.
	eventually(t, 30*time.Second, "a healthy copy on the third datanode", func() bool {
		if got := readFile(t, cl, "/corrupt/f"); !bytes.Equal(got, data) {
			t.Fatal("a read returned corrupt bytes")
		}
		return allBlocks(t, c, "/corrupt/f", 2, holders[0])
	})
	eventually(t, 30*time.Second, "the corrupt replica deleted", func() bool {
		_, err := os.Stat(path)
		return os.IsNotExist(err)
	})
	if got := readFile(t, cl, "/corrupt/f"); !bytes.Equal(got, data) {
		t.Fatal("file differs after the repair")
	}
}

func TestFsckReport(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	cl := newClient(c, "hdfs")
	writeFile(t, cl, "/fsck/a", randomBytes(100_000, 1), client.CreateOptions{BlockSize: 64 << 10, Replication: 3})
	fsck := func() (string, string) {
		resp, err := http.Get(c.MetadataURL + "/api/v1/admin/fsck?path=/fsck&files=true&blocks=true&locations=true&user.name=hdfs")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.Header.Get("X-Granary-Fsck-Status")
	}
	report, status := fsck()
	for _, want := range []string{"/fsck/a 100000 bytes, replicated: replication=3, 2 block(s):   OK", "Live_repl=3", " Total files:\t1", " Total blocks (validated):\t2 ", " Under-replicated blocks:\t0 (0.0 %)", "The filesystem under path '/fsck' is HEALTHY"} {
		if !strings.Contains(report, want) || status != "HEALTHY" {
			t.Fatalf("fsck report lacks %q (status %s):\n%s", want, status, report)
		}
	}
	// With a datanode gone and no fourth to copy to, blocks are under-replicated.
	victim := locations(t, c, "/fsck/a")[0].uuids()[0]
	if err := c.KillDatanode(index(t, c, victim)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "fsck to see under-replicated blocks", func() bool {
		r, _ := fsck()
		return strings.Contains(r, " Under-replicated blocks:\t2 (100.0 %)")
	})
	if report, status = fsck(); status != "HEALTHY" || !strings.Contains(report, "Target Replicas is 3 but found 2 live replica(s)") {
		t.Fatalf("fsck after the loss (status %s):\n%s", status, report)
	}
	// The datanode comes back: fsck is clean again.
	if err := c.StartDatanode(context.Background(), stoppedIndex(c, victim)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "fsck without under-replicated blocks", func() bool {
		r, st := fsck()
		return st == "HEALTHY" && strings.Contains(r, " Under-replicated blocks:\t0 (0.0 %)")
	})
}

// stoppedIndex finds the slot of a stopped datanode by the UUID it had, from its volume.
func stoppedIndex(c *cluster.Cluster, uuid string) int {
	for i := range c.Datanodes {
		if b, err := os.ReadFile(filepath.Join(c.DatanodeDir(i), "current", "VERSION")); err == nil && strings.Contains(string(b), "datanodeUuid="+uuid) {
			return i
		}
	}
	return -1
}

func TestDecommissionCopiesEveryBlockFirst(t *testing.T) {
	c := testCluster(t, 4, smallBlocks)
	cl := newClient(c, "hdfs")
	data := randomBytes(300_000, 77)
	writeFile(t, cl, "/decom/f", data, client.CreateOptions{BlockSize: 64 << 10, Replication: 3})
	node := locations(t, c, "/decom/f")[0].uuids()[0]
	var v struct{ AdminState string }
	if code := call(t, "POST", c.CoordinatorURL+"/api/v1/datanodes/"+node+"/decommission?user.name=hdfs", nil, &v); code != 200 || v.AdminState != "DECOMMISSION_INPROGRESS" {
		t.Fatalf("decommission: %d %+v", code, v)
	}
	// Reads keep working while it drains: read on every poll.
	eventually(t, 30*time.Second, "the datanode DECOMMISSIONED", func() bool {
		if got := readFile(t, cl, "/decom/f"); !bytes.Equal(got, data) {
			t.Fatal("a read failed during decommissioning")
		}
		call(t, "GET", c.CoordinatorURL+"/api/v1/datanodes/"+node, nil, &v)
		return v.AdminState == "DECOMMISSIONED"
	})
	// Every block now has 3 replicas besides the decommissioned node (as
	// readers see it: from the coordinator's announcements, moments after
	// the coordinator).
	eventually(t, 5*time.Second, "every block with 3 replicas besides the decommissioned node", func() bool {
		for _, b := range locations(t, c, "/decom/f") {
			others := 0
			for _, u := range b.uuids() {
				if u != node {
					others++
				}
			}
			if others < 3 {
				return false
			}
		}
		return true
	})
	if code := call(t, "POST", c.CoordinatorURL+"/api/v1/datanodes/"+node+"/recommission?user.name=hdfs", nil, &v); code != 200 || v.AdminState != "NORMAL" {
		t.Fatalf("recommission: %d %+v", code, v)
	}
	eventually(t, 30*time.Second, "excess replicas trimmed after recommissioning", func() bool { return allBlocks(t, c, "/decom/f", 3) })
}

func TestBlockScannerFindsAndReplacesCorruption(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		smallBlocks(cfg)
		inner := cfg.Datanode
		cfg.Datanode = func(i int, d *datanode.Config) {
			inner(i, d)
			d.ScanPeriod, d.ScanBytesPerSecond = 200*time.Millisecond, 64<<20
		}
	})
	cl := newClient(c, "hdfs")
	data := randomBytes(80_000, 21)
	writeFile(t, cl, "/scan/f", data, client.CreateOptions{BlockSize: 1 << 20, Replication: 2})
	lb := locations(t, c, "/scan/f")[0]
	holders := lb.uuids()
	path := flipByte(t, c, lb, holders[0], -1)
	// No client reads the file: the scanner must find the corruption.
	eventually(t, 30*time.Second, "the scanner's report to replace the corrupt replica", func() bool {
		return allBlocks(t, c, "/scan/f", 2, holders[0])
	})
	eventually(t, 30*time.Second, "the corrupt replica deleted", func() bool {
		_, err := os.Stat(path)
		return os.IsNotExist(err)
	})
	if got := readFile(t, cl, "/scan/f"); !bytes.Equal(got, data) {
		t.Fatal("file differs after the repair")
	}
}

func TestFailedVolumeIsDroppedAndItsBlocksReReplicated(t *testing.T) {
	var vols [3][2]string
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		smallBlocks(cfg)
		inner := cfg.Datanode
		cfg.Datanode = func(i int, d *datanode.Config) {
			inner(i, d)
			vols[i] = [2]string{d.DataDirs[0] + "-a", d.DataDirs[0] + "-b"}
			d.DataDirs = vols[i][:]
			d.FailedVolumesTolerated = 1
			d.VolumeCheckInterval = 100 * time.Millisecond
		}
	})
	cl := newClient(c, "hdfs")
	data := randomBytes(600_000, 31)
	writeFile(t, cl, "/vol/f", data, client.CreateOptions{BlockSize: 64 << 10, Replication: 2})
	i := index(t, c, locations(t, c, "/vol/f")[0].uuids()[0])
	dn := c.Datanodes[i]
	// The volumes are used round-robin, so both hold replicas; one
	// disappears from under the datanode.
	if err := os.Rename(vols[i][0], vols[i][0]+".gone"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the volume taken out", func() bool { return dn.Info().FailedVolumes == 1 })
	eventually(t, 30*time.Second, "every block back at 2 replicas", func() bool { return allBlocks(t, c, "/vol/f", 2) })
	if got := readFile(t, cl, "/vol/f"); !bytes.Equal(got, data) {
		t.Fatal("file differs after the volume failure")
	}
	// The coordinator learns it with the datanode's next heartbeat, which
	// re-replication may beat.
	eventually(t, 10*time.Second, "the coordinator counting the failed volume", func() bool {
		var v struct {
			FailedVolumes int `json:"failedVolumes"`
		}
		call(t, "GET", c.CoordinatorURL+"/api/v1/datanodes/"+dn.UUID(), nil, &v)
		return v.FailedVolumes == 1
	})
}

func TestStaleReplicaOnARestartedDatanodeIsInvalidated(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	cl := newClient(c, "hdfs")
	data := randomBytes(10_000, 41)
	writeFile(t, cl, "/stale/f", data, client.CreateOptions{Replication: 1})
	lb := locations(t, c, "/stale/f")[0]
	// Another datanode has an old copy of the block (an older generation
	// stamp) on disk, found when it restarts.
	other := (index(t, c, lb.uuids()[0]) + 1) % 3
	old := lb.Block
	old.GenerationStamp--
	path := placeOnDisk(t, c, other, old.BlockPoolID, old, data)
	if err := c.StopDatanode(other); err != nil {
		t.Fatal(err)
	}
	if err := c.StartDatanode(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the stale replica deleted", func() bool {
		_, err := os.Stat(path)
		return os.IsNotExist(err)
	})
	eventually(t, 5*time.Second, "the block located on its one good replica", func() bool {
		l := locations(t, c, "/stale/f")[0].uuids()
		return len(l) == 1 && l[0] == lb.uuids()[0]
	})
}

func TestReReplicationCrossesRacks(t *testing.T) {
	dir := t.TempDir()
	topo := filepath.Join(dir, "racks.txt")
	if err := os.WriteFile(topo, []byte("127.0.0.1 /r1\n127.0.0.2 /r1\n127.0.0.3 /r2\n127.0.0.4 /r2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := testCluster(t, 4, func(cfg *cluster.Config) {
		smallBlocks(cfg)
		for i := range cfg.DatanodeAddrs {
			cfg.DatanodeAddrs[i] = "127.0.0." + strconv.Itoa(i+1) + ":0"
		}
		innerD, innerC := cfg.Datanode, cfg.Coordinator
		cfg.Datanode = func(i int, d *datanode.Config) {
			innerD(i, d)
			d.IPAddr = "127.0.0." + strconv.Itoa(i+1)
		}
		cfg.Coordinator = func(cc *coordinator.Config) {
			innerC(cc)
			cc.TopologyFile = topo
		}
	})
	cl := newClient(c, "hdfs")
	writeFile(t, cl, "/racks/f", randomBytes(200_000, 51), client.CreateOptions{BlockSize: 64 << 10, Replication: 1})
	if _, err := cl.SetReplication(context.Background(), "/racks/f", 2); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "two replicas per block", func() bool { return allBlocks(t, c, "/racks/f", 2) })
	var views struct{ Datanodes []struct{ UUID, Rack string } }
	call(t, "GET", c.CoordinatorURL+"/api/v1/datanodes", nil, &views)
	rack := map[string]string{}
	for _, d := range views.Datanodes {
		rack[d.UUID] = d.Rack
	}
	for _, b := range locations(t, c, "/racks/f") {
		u := b.uuids()
		if rack[u[0]] == rack[u[1]] {
			t.Fatalf("block %d re-replicated within rack %s", b.Block.BlockID, rack[u[0]])
		}
	}
}

func TestDirectoryScannerReconcilesDiskAndMemory(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		smallBlocks(cfg)
		inner := cfg.Datanode
		cfg.Datanode = func(i int, d *datanode.Config) {
			inner(i, d)
			d.DirectoryScanInterval = 100 * time.Millisecond
		}
	})
	cl := newClient(c, "hdfs")
	data := randomBytes(20_000, 61)
	writeFile(t, cl, "/dirscan/f", data, client.CreateOptions{Replication: 2})
	lb := locations(t, c, "/dirscan/f")[0]
	i := index(t, c, lb.uuids()[0])
	// A replica file vanishes behind the datanode's back: the scan reports
	// it deleted and the block is re-replicated.
	path := datanode.FinalizedPath(c.DatanodeDir(i), lb.Block.BlockPoolID, lb.Block.BlockID)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// Repaired: two replicas located again, each one really on its disk
	// (the new copy may land back on the same datanode).
	eventually(t, 30*time.Second, "the missing replica noticed and replaced", func() bool {
		if !allBlocks(t, c, "/dirscan/f", 2) {
			return false
		}
		for _, u := range locations(t, c, "/dirscan/f")[0].uuids() {
			if _, err := os.Stat(datanode.FinalizedPath(c.DatanodeDir(index(t, c, u)), lb.Block.BlockPoolID, lb.Block.BlockID)); err != nil {
				return false
			}
		}
		return true
	})
	if got := readFile(t, cl, "/dirscan/f"); !bytes.Equal(got, data) {
		t.Fatal("file differs")
	}
}

func TestRefreshNodesDecommissionsExcludedHosts(t *testing.T) {
	exclude := filepath.Join(t.TempDir(), "exclude")
	if err := os.WriteFile(exclude, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c := testCluster(t, 4, func(cfg *cluster.Config) {
		smallBlocks(cfg)
		inner := cfg.Coordinator
		cfg.Coordinator = func(cc *coordinator.Config) { inner(cc); cc.HostsExcludeFile = exclude }
	})
	cl := newClient(c, "hdfs")
	writeFile(t, cl, "/ex/f", randomBytes(100_000, 71), client.CreateOptions{BlockSize: 64 << 10, Replication: 3})
	node := locations(t, c, "/ex/f")[0].uuids()[0]
	if err := os.WriteFile(exclude, []byte("# retiring\n"+node+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var r struct{ Changed int }
	if code := call(t, "POST", c.CoordinatorURL+"/api/v1/admin/refreshNodes?user.name=hdfs", nil, &r); code != 200 || r.Changed != 1 {
		t.Fatalf("refreshNodes: %d %+v", code, r)
	}
	eventually(t, 30*time.Second, "the excluded datanode DECOMMISSIONED", func() bool {
		var v struct{ AdminState string }
		call(t, "GET", c.CoordinatorURL+"/api/v1/datanodes/"+node, nil, &v)
		return v.AdminState == "DECOMMISSIONED"
	})
	resp, err := http.Get(c.CoordinatorURL + "/api/v1/admin/metasave?user.name=hdfs")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Metasave: Blocks waiting for reconstruction: 0") || !strings.Contains(string(body), "DECOMMISSIONED") {
		t.Fatalf("metasave:\n%s", body)
	}
}

// flipByte corrupts the replica of lb held by datanode uuid (byte at, or
// the last byte when at < 0) and returns its block file's path.
func flipByte(t *testing.T, c *cluster.Cluster, lb located, uuid string, at int) string {
	t.Helper()
	path := datanode.FinalizedPath(c.DatanodeDir(index(t, c, uuid)), lb.Block.BlockPoolID, lb.Block.BlockID)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if at < 0 {
		at = len(raw) - 1
	}
	raw[at] ^= 0x80
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFsckLeavesOpenFilesOut: files left open (a crashed writer's) are not
// missing blocks: fsck counts them apart unless -openforwrite, which lists
// them as OPENFORWRITE without checking the block still being written, as
// HDFS's fsck does.
func TestFsckLeavesOpenFilesOut(t *testing.T) {
	c := testCluster(t, 1, smallBlocks)
	cl := newClient(c, "hdfs")
	writeFile(t, cl, "/open/closed", randomBytes(1000, 2), client.CreateOptions{BlockSize: 1 << 20, Replication: 1})
	for _, p := range []string{"/open/a", "/open/b"} {
		newFile(t, c, p, 1) // created, a block allocated, nothing written, never closed
	}
	fsck := func(extra string) (string, string) {
		resp, err := http.Get(c.MetadataURL + "/api/v1/admin/fsck?path=/open&files=true&user.name=hdfs" + extra)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.Header.Get("X-Granary-Fsck-Status")
	}
	report, status := fsck("")
	for _, want := range []string{" Total files:\t1 (Files currently being written: 2)", " Total blocks (validated):\t1 (avg. block size 1000 B) (Total open file blocks (not validated): 2)", " Missing blocks:\t\t0", "is HEALTHY"} {
		if !strings.Contains(report, want) || status != "HEALTHY" {
			t.Fatalf("fsck report lacks %q (status %s):\n%s", want, status, report)
		}
	}
	if strings.Contains(report, "/open/a") {
		t.Fatalf("an open file is listed without -openforwrite:\n%s", report)
	}
	report, status = fsck("&openforwrite=true")
	for _, want := range []string{"/open/a 0 bytes, replicated: replication=1, 0 block(s), OPENFORWRITE:", " Total files:\t3\n", "is HEALTHY"} {
		if !strings.Contains(report, want) || status != "HEALTHY" {
			t.Fatalf("fsck -openforwrite report lacks %q (status %s):\n%s", want, status, report)
		}
	}
}

// TestIncludeListRefusesDatanodes (dfs.hosts): datanodes an include file
// lists register; after the file stops listing them and refreshNodes,
// their heartbeats are refused with DisallowedDatanodeException and their
// block pool service ends, saying why.
func TestIncludeListRefusesDatanodes(t *testing.T) {
	include := filepath.Join(t.TempDir(), "dfs.hosts")
	if err := os.WriteFile(include, []byte("# the datanodes of this test\n127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := testCluster(t, 1, func(cfg *cluster.Config) {
		co := cfg.Coordinator
		cfg.Coordinator = func(c *coordinator.Config) { co(c); c.HostsFile = include }
	})
	if got := c.Datanodes[0].Info().Registration; got != "running" {
		t.Fatalf("an included datanode: %s", got)
	}
	if err := os.WriteFile(include, []byte("10.9.9.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var r struct{ Changed int }
	if code := call(t, "POST", c.CoordinatorURL+"/api/v1/admin/refreshNodes?user.name=hdfs", nil, &r); code != 200 {
		t.Fatalf("refreshNodes: %d", code)
	}
	eventually(t, 10*time.Second, "the datanode to be refused", func() bool {
		in := c.Datanodes[0].Info()
		return in.Registration == "refused" && strings.Contains(in.RefusedBecause, "not in the include-list")
	})
}

// TestDatanodeUpgradeFinalized: a datanode whose block pool slice has an
// older layout upgrades it at start and keeps previous/ while the
// coordinator runs with -upgrade; after admin -finalizeUpgrade the next
// full report's reply carries FINALIZE and previous/ is deleted; the data
// stays readable throughout.
func TestDatanodeUpgradeFinalized(t *testing.T) {
	c := testCluster(t, 1, func(cfg *cluster.Config) {
		co := cfg.Coordinator
		cfg.Coordinator = func(cc *coordinator.Config) { co(cc); cc.Upgrade = true }
	})
	cl := newClient(c, "hdfs")
	data := randomBytes(10_000, 5)
	writeFile(t, cl, "/up/f", data, client.CreateOptions{Replication: 1})
	bpid := locations(t, c, "/up/f")[0].Block.BlockPoolID
	if err := c.StopDatanode(0); err != nil {
		t.Fatal(err)
	}
	slice := filepath.Join(c.DatanodeDir(0), "current", bpid)
	version := filepath.Join(slice, "current", "VERSION")
	b, err := os.ReadFile(version)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(version, []byte(strings.Replace(string(b), "layoutVersion=-57", "layoutVersion=-56", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.StartDatanode(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(slice, "previous")); err != nil {
		t.Fatalf("the upgraded slice kept no previous/: %v", err)
	}
	trigger := func() {
		if code, _, body := curlL(t, "POST", c.DatanodeURLs[0]+"/api/v1/admin/triggerBlockReport?user.name=hdfs", nil); code != 200 {
			t.Fatalf("triggerBlockReport: %d %s", code, body)
		}
	}
	report := func() time.Time { return c.Datanodes[0].Info().LastBlockReport.UTC() }
	eventually(t, 10*time.Second, "a full report", func() bool { return c.Datanodes[0].Info().LastBlockReport != nil })
	before := report()
	trigger()
	eventually(t, 10*time.Second, "another full report", func() bool { return report().After(before) })
	if _, err := os.Stat(filepath.Join(slice, "previous")); err != nil {
		t.Fatalf("previous/ went before the upgrade was finalized: %v", err)
	}
	if got := readFile(t, cl, "/up/f"); !bytes.Equal(got, data) {
		t.Fatal("/up/f differs after the upgrade")
	}
	if code, _, body := curlL(t, "POST", c.CoordinatorURL+"/api/v1/admin/finalizeUpgrade?user.name=hdfs", nil); code != 200 {
		t.Fatalf("finalizeUpgrade: %d %s", code, body)
	}
	trigger()
	eventually(t, 10*time.Second, "previous/ deleted by FINALIZE", func() bool {
		_, err := os.Stat(filepath.Join(slice, "previous"))
		return os.IsNotExist(err)
	})
	if got := readFile(t, cl, "/up/f"); !bytes.Equal(got, data) {
		t.Fatal("/up/f differs after finalizing")
	}
}
