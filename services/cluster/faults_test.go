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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/packet"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/datanode"
	"github.com/granary-fs/granary/services/metadata"
)

// TestWriteSurvivesADatanodeKilledMidWrite kills, in the middle of a
// block, the first datanode of the pipeline (the stream breaks for all of
// it) and, separately, the second (the first goes on without it).
func TestWriteSurvivesADatanodeKilledMidWrite(t *testing.T) {
	for _, pos := range []int{0, 1} {
		t.Run(fmt.Sprintf("pipeline node %d", pos), func(t *testing.T) { killMidWrite(t, pos) })
	}
}

func killMidWrite(t *testing.T, pos int) {
	c := testCluster(t, 4, smallBlocks)
	cl := newClient(c, "hdfs")
	const bs = 256 << 10
	data := randomBytes(6*bs+1234, 7)
	w, err := cl.Create(context.Background(), "/kill/f", client.CreateOptions{BlockSize: bs, Replication: 3})
	if err != nil {
		t.Fatal(err)
	}
	half := len(data) / 2
	if _, err := w.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	pipeline, inFlight := w.Pipeline(), w.Block()
	if len(pipeline) != 3 || inFlight == nil {
		t.Fatalf("pipeline %v, block %v", pipeline, inFlight)
	}
	victim := index(t, c, pipeline[pos])
	if err := c.KillDatanode(victim); err != nil {
		t.Fatalf("killing the datanode: %v", err)
	}
	if _, err := w.Write(data[half:]); err != nil {
		t.Fatalf("write after the kill: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close after the kill: %v", err)
	}
	if got := readFile(t, cl, "/kill/f"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, different from the %d written", len(got), len(data))
	}
	// Pipeline recovery kept the block (same ID) under a new generation
	// stamp, on the two survivors.
	var recovered located
	for _, lb := range locations(t, c, "/kill/f") {
		if lb.Block.BlockID == inFlight.BlockID {
			recovered = lb
		}
	}
	if recovered.Block.BlockID == 0 || recovered.Block.GenerationStamp <= inFlight.GenerationStamp {
		t.Fatalf("block %d (stamp %d) after the recovery: %+v", inFlight.BlockID, inFlight.GenerationStamp, recovered.Block)
	}
	if slices.Contains(recovered.uuids(), pipeline[pos]) {
		t.Fatalf("the killed datanode still holds the recovered block: %v", recovered.uuids())
	}
	// A crashed datanode process comes back with what it had received of
	// the block, under the old stamp, in rbw/ (the in-process kill drops
	// it; it is put back as a crash leaves it). That replica is stale and
	// is deleted.
	rbw := filepath.Join(c.DatanodeDir(victim), "current", inFlight.BlockPoolID, "current", "rbw")
	partial := data[:512]
	stale := filepath.Join(rbw, fmt.Sprintf("blk_%d", inFlight.BlockID))
	if err := os.WriteFile(stale, partial, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rbw, datanode.MetaFileName(inFlight.BlockID, inFlight.GenerationStamp)), datanode.MetaFile(partial), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.StartDatanode(context.Background(), victim); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the stale replica deleted", func() bool {
		_, err := os.Stat(stale)
		return os.IsNotExist(err)
	})
	if got := readFile(t, cl, "/kill/f"); !bytes.Equal(got, data) {
		t.Fatal("file differs after the stale replica went")
	}
}

// TestSmallBlockSurvivesADeadDatanode: a block that is one packet at the
// writer's close goes in one request (no acknowledgement stream); a
// datanode of its pipeline that died before the close is left out as a
// stream's recovery leaves it out, first (the request fails) or second
// (the first reports it failed).
func TestSmallBlockSurvivesADeadDatanode(t *testing.T) {
	for _, pos := range []int{0, 1} {
		t.Run(fmt.Sprintf("pipeline node %d", pos), func(t *testing.T) {
			c := testCluster(t, 4, smallBlocks)
			cl := newClient(c, "hdfs")
			data := randomBytes(1000, 11)
			w, err := cl.Create(context.Background(), "/small/f", client.CreateOptions{Replication: 3})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
			pipeline := w.Pipeline()
			if len(pipeline) != 3 {
				t.Fatalf("pipeline %v", pipeline)
			}
			if err := c.KillDatanode(index(t, c, pipeline[pos])); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("close after the kill: %v", err)
			}
			if got := readFile(t, cl, "/small/f"); !bytes.Equal(got, data) {
				t.Fatalf("read back %q, wrote %q", got, data)
			}
			lbs := locations(t, c, "/small/f")
			if len(lbs) != 1 || slices.Contains(lbs[0].uuids(), pipeline[pos]) || len(lbs[0].uuids()) < 2 {
				t.Fatalf("locations %+v: want the block without the dead datanode %s", lbs, pipeline[pos])
			}
		})
	}
}

func TestCorruptReplicaIsSkippedAndReported(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	cl := newClient(c, "hdfs")
	data := randomBytes(100_000, 9)
	writeFile(t, cl, "/bad/f", data, client.CreateOptions{BlockSize: 1 << 20, Replication: 2})
	lb := locations(t, c, "/bad/f")[0]
	holders := lb.uuids()
	if len(holders) != 2 {
		t.Fatalf("holders %v", holders)
	}
	// Flip a byte in one replica. Readers are offered the replicas in an
	// order this test does not control: every read must return the right
	// bytes, and reads go on until one has met the corrupt replica and
	// reported it, after which it is no longer offered.
	first := index(t, c, holders[0])
	flipByte(t, c, lb, holders[0], 777)
	eventually(t, 10*time.Second, "the corrupt replica to leave the block's locations", func() bool {
		if got := readFile(t, cl, "/bad/f"); !bytes.Equal(got, data) {
			t.Fatal("read returned wrong bytes from a corrupt replica")
		}
		l := locations(t, c, "/bad/f")[0].uuids()
		return len(l) == 1 && l[0] == holders[1]
	})
	// A direct read of the corrupt replica is refused with ChecksumException.
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s", c.DatanodeURLs[first], lb.Block.BlockID, lb.Block.BlockPoolID))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !bytes.Contains(body, []byte("ChecksumException")) {
		t.Fatalf("direct read of the corrupt replica: %d %s", resp.StatusCode, body)
	}
}

// leaseCluster is a test cluster whose leases expire after hardLimit,
// checked every 100 ms.
func leaseCluster(t *testing.T, hardLimit time.Duration) *cluster.Cluster {
	return testCluster(t, 3, func(cfg *cluster.Config) {
		smallBlocks(cfg)
		inner := cfg.Metadata
		cfg.Metadata = func(m *metadata.Config) {
			inner(m)
			m.LeaseHardLimit = hardLimit
			m.LeaseCheck = 100 * time.Millisecond
		}
	})
}

// TestOverwriteTakesOverAnExpiredLease: a create with overwrite of a file
// another client is writing is refused while that client's lease is within
// the soft limit (AlreadyBeingCreatedException, as HDFS), and takes the
// file over once the lease is past it; the new writer's lease then holds
// against the old one.
func TestOverwriteTakesOverAnExpiredLease(t *testing.T) {
	c := testCluster(t, 1, func(cfg *cluster.Config) {
		inner := cfg.Metadata
		cfg.Metadata = func(m *metadata.Config) {
			if inner != nil {
				inner(m)
			}
			m.LeaseSoftLimit = time.Second
			m.LeaseHardLimit = time.Hour
		}
	})
	create := func(client string, overwrite bool) (int, string) {
		b, _ := json.Marshal(map[string]any{"path": "/lease/o", "clientName": client, "overwrite": overwrite, "createParent": true})
		code, _, body := curlL(t, http.MethodPost, c.MetadataURL+"/api/v1/create?user.name=hdfs", b)
		return code, string(body)
	}
	if code, body := create("ghost", false); code != 200 {
		t.Fatalf("first create: %d %s", code, body)
	}
	if code, body := create("other", true); code != 403 || !strings.Contains(body, "AlreadyBeingCreatedException") || !strings.Contains(body, "ghost") {
		t.Fatalf("overwrite within the holder's soft limit: %d %s", code, body)
	}
	eventually(t, 20*time.Second, "the overwrite to take the file over past the soft limit", func() bool {
		code, _ := create("other", true)
		return code == 200
	})
	if code, body := create("ghost", true); code != 403 || !strings.Contains(body, "AlreadyBeingCreatedException") || !strings.Contains(body, "other") {
		t.Fatalf("the old writer's overwrite against the new lease: %d %s", code, body)
	}
}

func TestAbandonedFileIsClosedByLeaseRecovery(t *testing.T) {
	c := leaseCluster(t, time.Second)
	ctx, disappear := context.WithCancel(context.Background())
	cl := newClient(c, "hdfs")
	const bs = 64 << 10
	data := randomBytes(bs, 3)
	w, err := cl.Create(ctx, "/lease/f", client.CreateOptions{BlockSize: bs, Replication: 2})
	if err != nil {
		t.Fatal(err)
	}
	// One full block reaches the datanodes; then the client vanishes
	// without closing the file.
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	disappear()
	eventually(t, 20*time.Second, "lease recovery to close the file", func() bool { return isClosed(t, c, "/lease/f") })
	if got := readFile(t, newClient(c, "hdfs"), "/lease/f"); !bytes.Equal(got, data) {
		t.Fatalf("recovered file holds %d bytes, want the %d the datanodes hold", len(got), len(data))
	}
}

// TestLeaseRecoveryAdoptsAnUnrecordedAppend: a writer appends to a file's
// partial last block on every datanode holding it, under the new stamp it
// was given, and vanishes before recording it (updatePipeline). Lease
// recovery finds the replicas under the newer stamp and closes the file
// with them, as HDFS's block recovery does: neither the old bytes nor the
// appended ones are lost.
func TestLeaseRecoveryAdoptsAnUnrecordedAppend(t *testing.T) {
	// The hard limit leaves the append below time to reach the datanodes
	// before the lease can expire.
	c := leaseCluster(t, 3*time.Second)
	cl := newClient(c, "hdfs")
	data := randomBytes(2000, 5)
	writeFile(t, cl, "/lease/a", data[:1000], client.CreateOptions{BlockSize: 64 << 10, Replication: 2})
	lb := locations(t, c, "/lease/a")[0]
	holders := lb.uuids()
	if len(holders) != 2 {
		t.Fatalf("holders %v", holders)
	}
	u := func(op string) string { return c.MetadataURL + "/api/v1/" + op + "?user.name=hdfs" }
	if code := call(t, "POST", u("append"), map[string]any{"path": "/lease/a", "clientName": "ghost"}, &struct{}{}); code != 200 {
		t.Fatalf("append: %d", code)
	}
	var nb located
	if code := call(t, "POST", u("updateBlockForPipeline"), map[string]any{"path": "/lease/a", "clientName": "ghost", "block": lb.Block}, &nb); code != 200 {
		t.Fatalf("updateBlockForPipeline: %d", code)
	}
	// The append reaches both datanodes: 24 bytes complete the partial
	// chunk, the rest follows.
	body := packet.AppendEnd(packet.Append(packet.Append(nil, data[1000:1024]), data[1024:]))
	second := strings.TrimPrefix(c.DatanodeURLs[index(t, c, holders[1])], "http://")
	put := fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s&gs=%d&appendgs=%d&appendlength=1000&targets=%s", c.DatanodeURLs[index(t, c, holders[0])],
		lb.Block.BlockID, lb.Block.BlockPoolID, nb.Block.GenerationStamp, lb.Block.GenerationStamp, second)
	req, _ := http.NewRequest(http.MethodPut, put, bytes.NewReader(body))
	req.Header.Set("Content-Type", packet.ContentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(res, []byte(`"length":2000`)) || !bytes.Contains(res, []byte(`"failed":[]`)) {
		t.Fatalf("the append on the datanodes: %d %s", resp.StatusCode, res)
	}
	// The ghost never calls updatePipeline nor renews its lease.
	eventually(t, 20*time.Second, "lease recovery to close the file", func() bool { return isClosed(t, c, "/lease/a") })
	if got := readFile(t, cl, "/lease/a"); !bytes.Equal(got, data) {
		t.Fatalf("recovered file: %d bytes, want the %d on the datanodes", len(got), len(data))
	}
	if after := locations(t, c, "/lease/a")[0].Block; after.GenerationStamp != nb.Block.GenerationStamp || after.NumBytes != 2000 {
		t.Fatalf("last block after the recovery %+v, want stamp %d and 2000 bytes", after, nb.Block.GenerationStamp)
	}
}

// corruptingTransport flips a data byte in the packet streams one datanode
// sends: corruption after the datanode's own check (in transit).
type corruptingTransport struct {
	next http.RoundTripper
	host string // host:port of the datanode whose answers are damaged
}

func (c corruptingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil || req.URL.Host != c.host || resp.Header.Get("Content-Type") != packet.ContentType {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) > 1000 {
		body[1000] ^= 0x40
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// TestClientReportsChecksumMismatches: a replica whose bytes arrive
// damaged fails the client's own checksum check; the read goes on from
// another replica with the right bytes, and the client reports the replica
// (reportBadBlocks), which then is no longer offered.
func TestClientReportsChecksumMismatches(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	data := randomBytes(50_000, 21)
	writeFile(t, newClient(c, "hdfs"), "/e2e/f", data, client.CreateOptions{BlockSize: 1 << 20, Replication: 2})
	holders := locations(t, c, "/e2e/f")[0].uuids()
	if len(holders) != 2 {
		t.Fatalf("holders %v", holders)
	}
	victim := holders[0]
	var next http.RoundTripper = http.DefaultTransport
	if contracts != nil {
		next = contracts
	}
	cl := newClient(c, "hdfs")
	cl.SetTransport(corruptingTransport{next: next, host: strings.TrimPrefix(c.DatanodeURLs[index(t, c, victim)], "http://")})
	eventually(t, 10*time.Second, "the damaged replica reported and no longer offered", func() bool {
		if got := readFile(t, cl, "/e2e/f"); !bytes.Equal(got, data) {
			t.Fatal("a read returned damaged bytes")
		}
		l := locations(t, c, "/e2e/f")[0].uuids()
		return len(l) == 1 && l[0] == holders[1]
	})
}
