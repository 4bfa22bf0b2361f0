package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/datanode"
	"github.com/granary-fs/granary/services/metadata"
)

func TestBlockReportsLocateReplicas(t *testing.T) {
	c := testCluster(t, 3, nil)
	ctx := context.Background()
	bpid := c.Datanodes[0].Info().BlockPools[0]
	data := []byte(strings.Repeat("granary", 100))

	lb := newFile(t, c, "/f", 2)
	targets := lb.uuids()
	if len(targets) != 2 || targets[0] == targets[1] {
		t.Fatalf("addBlock chose %v, want two distinct datanodes", targets)
	}
	b := lb.Block
	b.NumBytes = int64(len(data))
	// The first replica arrives the way written blocks do (an incremental
	// report); the second is put on disk behind the datanode's back and
	// found by a full block report.
	if err := c.Datanodes[index(t, c, targets[0])].PutReplica(b.BlockID, b.GenerationStamp, data); err != nil {
		t.Fatal(err)
	}
	second := index(t, c, targets[1])
	placeOnDisk(t, c, second, bpid, b, data)
	// The datanode finds replicas on disk at its next start-up scan.
	if err := c.StopDatanode(second); err != nil {
		t.Fatal(err)
	}
	if err := c.StartDatanode(ctx, second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "both replicas located", func() bool {
		locs := locations(t, c, "/f")
		return len(locs) == 1 && len(locs[0].Locations) == 2
	})
	got := locations(t, c, "/f")[0].uuids()
	slices.Sort(got)
	slices.Sort(targets)
	if !slices.Equal(got, targets) {
		t.Fatalf("located on %v, want %v", got, targets)
	}
	eventually(t, 10*time.Second, "complete", func() bool { return complete(t, c, "/f", b) })
	if !isClosed(t, c, "/f") {
		t.Fatal("/f is still under construction after complete")
	}

	// A killed datanode turns stale, then dead, and its replicas leave the map.
	victim := targets[0]
	if err := c.StopDatanode(index(t, c, victim)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the stopped datanode stale", func() bool {
		v, _ := datanodeView(t, c, victim)
		return v.State == "stale" || v.State == "dead"
	})
	eventually(t, 10*time.Second, "the stopped datanode dead", func() bool {
		v, _ := datanodeView(t, c, victim)
		return v.State == "dead"
	})
	// (The redundancy monitor may already have copied the block to the
	// third datanode.) Readers learn it from the coordinator's next
	// announcement (docs/nats-protocol.md, "Cached locations"): moments
	// after the coordinator, not in the same instant.
	eventually(t, 5*time.Second, "the dead datanode gone from the block's locations", func() bool {
		locs := locations(t, c, "/f")[0].uuids()
		return !slices.Contains(locs, victim) && len(locs) > 0
	})

	// A restarted coordinator is repopulated from re-registrations and reports.
	if err := c.StopCoordinator(); err != nil {
		t.Fatal(err)
	}
	if err := c.StartCoordinator(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the new coordinator to know 2 live datanodes and the block", func() bool {
		v := clusterView(t, c)
		return v.LiveDatanodes == 2 && v.Synced && v.Blocks == 1
	})
	eventually(t, 20*time.Second, "the block located again", func() bool { return len(locations(t, c, "/f")[0].Locations) >= 1 })

	// A restarted metadata service: the coordinator resynchronises and no
	// namespace change is missed.
	if err := c.StopMetadata(); err != nil {
		t.Fatal(err)
	}
	if err := c.StartMetadata(ctx); err != nil {
		t.Fatal(err)
	}
	lb2 := newFile(t, c, "/g", 1)
	eventually(t, 20*time.Second, "the coordinator to learn the new block", func() bool {
		return clusterView(t, c).Blocks == 2
	})
	if code := call(t, "DELETE", c.MetadataURL+"/webhdfs/v1/g?op=DELETE&user.name=hdfs", nil, &struct{}{}); code != 200 {
		t.Fatalf("delete /g: %d", code)
	}
	eventually(t, 20*time.Second, "the coordinator to drop the deleted block", func() bool {
		v := clusterView(t, c)
		return v.Blocks == 1
	})
	_ = lb2
}

func isClosed(t *testing.T, c *cluster.Cluster, path string) bool {
	var ls struct {
		LocatedBlocks struct {
			IsUnderConstruction bool `json:"isUnderConstruction"`
		}
	}
	call(t, "GET", c.MetadataURL+"/api/v1/blockLocations?path="+path+"&user.name=hdfs", nil, &ls)
	return !ls.LocatedBlocks.IsUnderConstruction
}

func TestOrphanReplicaKeptInSafeModeThenInvalidated(t *testing.T) {
	c := testCluster(t, 1, nil)
	dn := c.Datanodes[0]
	if code := call(t, "POST", c.MetadataURL+"/api/v1/admin/safemode/enter?user.name=hdfs", nil, &struct{}{}); code != 200 {
		t.Fatalf("safemode enter: %d", code)
	}
	eventually(t, 10*time.Second, "the coordinator to see safe mode", func() bool {
		var v struct {
			Safe bool `json:"namespaceInSafeMode"`
		}
		call(t, "GET", c.CoordinatorURL+"/api/v1/cluster", nil, &v)
		return v.Safe
	})
	const orphan = 1<<30 + 999
	if err := dn.PutReplica(orphan, 1001, []byte("nobody's block")); err != nil {
		t.Fatal(err)
	}
	path := datanode.FinalizedPath(c.DatanodeDir(0), dn.Info().BlockPools[0], orphan)
	eventually(t, 10*time.Second, "the coordinator to hear of the orphan", func() bool {
		v, _ := datanodeView(t, c, dn.UUID())
		return v.Blocks == 1
	})
	// Let several reconcile passes run: none may delete while in safe mode.
	runs := metricValue(t, c.CoordinatorURL, "granary_coordinator_reconcile_runs_total")
	eventually(t, 10*time.Second, "five reconcile passes", func() bool {
		return metricValue(t, c.CoordinatorURL, "granary_coordinator_reconcile_runs_total") >= runs+5
	})
	// And heartbeats that could carry a command.
	beat := dn.Info().LastHeartbeat
	eventually(t, 10*time.Second, "two more heartbeats", func() bool {
		return dn.Info().LastHeartbeat.After(beat.Add(150 * time.Millisecond))
	})
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the orphan replica was deleted during safe mode: %v", err)
	}
	if code := call(t, "POST", c.MetadataURL+"/api/v1/admin/safemode/leave?user.name=hdfs", nil, &struct{}{}); code != 200 {
		t.Fatalf("safemode leave: %d", code)
	}
	eventually(t, 20*time.Second, "the orphan replica deleted", func() bool {
		_, err := os.Stat(path)
		return os.IsNotExist(err) && dn.Info().Replicas == 0
	})
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), datanode.MetaFileName(orphan, 1001))); !os.IsNotExist(err) {
		t.Fatalf("the orphan's meta file is still there: %v", err)
	}
	eventually(t, 10*time.Second, "the coordinator to forget the orphan", func() bool {
		v, _ := datanodeView(t, c, dn.UUID())
		return v.Blocks == 0
	})
}

func TestDatanodeOfAnotherClusterIsRefused(t *testing.T) {
	c := testCluster(t, 1, nil)
	dir, err := os.MkdirTemp("", "granary-foreign-dn-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "current"), 0o755); err != nil {
		t.Fatal(err)
	}
	version := "storageID=DS-foreign\nclusterID=CID-some-other-cluster\ncTime=0\ndatanodeUuid=foreign-dn\nstorageType=DATA_NODE\nlayoutVersion=-57\n"
	if err := os.WriteFile(filepath.Join(dir, "current", "VERSION"), []byte(version), 0o644); err != nil {
		t.Fatal(err)
	}
	dn, err := datanode.New(datanode.Config{
		DataDirs: []string{dir}, NATSURL: c.NATSURL, HTTPAddr: "127.0.0.1:0", HeartbeatInterval: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- dn.Run(ctx) }()
	// Refused, its only block pool service ends and the datanode stops
	// (HDFS's datanode shuts down with no block pool service alive): Run
	// returns the refusal with nothing cancelling it.
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the refused datanode did not stop within 20s")
	}
	ours := c.Datanodes[0].Info().ClusterID
	for _, why := range []string{fmt.Sprint(runErr), dn.Info().RefusedBecause} {
		if !strings.Contains(why, "CID-some-other-cluster") || !strings.Contains(why, ours) {
			t.Fatalf("refusal %q does not name both cluster IDs (ours %s)", why, ours)
		}
	}
	if dn.Info().Registration != "refused" {
		t.Fatalf("registration state %q, want refused", dn.Info().Registration)
	}
	if _, code := datanodeView(t, c, "foreign-dn"); code != 404 {
		t.Fatalf("the foreign datanode is known to the coordinator (status %d)", code)
	}
}

func TestSafeModeLeavesOnlyWhenEnoughBlocksAreReported(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		inner := cfg.Metadata
		cfg.Metadata = func(m *metadata.Config) {
			inner(m)
			m.SafeModeThresholdPct = 1.0
		}
	})
	ctx := context.Background()
	// Three one-replica files, each block on a different datanode.
	for i := 0; i < 3; i++ {
		path := "/sm" + string(rune('a'+i))
		lb := newFile(t, c, path, 1)
		b := lb.Block
		data := []byte(strings.Repeat("x", 100*(i+1)))
		b.NumBytes = int64(len(data))
		if err := c.Datanodes[i].PutReplica(b.BlockID, b.GenerationStamp, data); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "complete "+path, func() bool { return complete(t, c, path, b) })
	}
	for i := range c.Datanodes {
		if err := c.StopDatanode(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.StopCoordinator(); err != nil {
		t.Fatal(err)
	}
	if err := c.StopMetadata(); err != nil {
		t.Fatal(err)
	}
	if err := c.StartMetadata(ctx); err != nil {
		t.Fatal(err)
	}
	if sm := safeModeOf(t, c); !sm.On {
		t.Fatalf("a namespace with 3 blocks and no reports started out of safe mode: %+v", sm)
	}
	if err := c.StartCoordinator(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := c.StartDatanode(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	// The metadata service has seen two reported blocks of three...
	eventually(t, 20*time.Second, "safe mode to count 2 reported blocks", func() bool {
		return strings.Contains(safeModeOf(t, c).Message, "The reported blocks 2 needs additional 1 blocks to reach the threshold 1.0000 of total blocks 3.")
	})
	// ...and the start-up progress's SafeMode step counts them while it
	// waits (HDFS's AwaitingReportedBlocks: reported of needed).
	eventually(t, 10*time.Second, "the SafeMode step to count 2 of 3", func() bool {
		var prog metadata.StartupProgressView
		call(t, "GET", c.MetadataURL+"/startupProgress", nil, &prog)
		ph := prog.Phases[3]
		return ph.Name == "SafeMode" && ph.Status == "RUNNING" && len(ph.Steps) == 1 && ph.Steps[0].Count == 2 && ph.Steps[0].Total == 3
	})
	// ...and stays in safe mode: mutations are refused.
	if !safeModeOf(t, c).On {
		t.Fatal("safe mode left with 2 of 3 blocks reported")
	}
	if code := call(t, "PUT", c.MetadataURL+"/webhdfs/v1/x?op=MKDIRS&user.name=hdfs", nil, &struct{}{}); code != 403 {
		t.Fatalf("MKDIRS in safe mode: %d", code)
	}
	if err := c.StartDatanode(ctx, 2); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "safe mode to turn off once all blocks are reported", func() bool { return !safeModeOf(t, c).On })
	if code := call(t, "PUT", c.MetadataURL+"/webhdfs/v1/x?op=MKDIRS&user.name=hdfs", nil, &struct{}{}); code != 200 {
		t.Fatalf("MKDIRS after safe mode: %d", code)
	}
}
