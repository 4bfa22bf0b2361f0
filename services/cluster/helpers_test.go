package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"github.com/granary-fs/granary/internal/poll"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/contract"
	"github.com/granary-fs/granary/internal/pgtest"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/datanode"
	"github.com/granary-fs/granary/services/metadata"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testCluster runs an in-process cluster on a fresh database with short
// intervals: heartbeats every 100 ms, stale after 500 ms, dead after
// 2 × 250 ms + 10 × 100 ms = 1.5 s.
func testCluster(t *testing.T, datanodes int, tweak func(*cluster.Config)) *cluster.Cluster {
	t.Helper()
	return startCluster(t, datanodes, tweak, "")
}

// startCluster is testCluster; in token mode bearer is the superuser's
// token, which http.DefaultClient sends where a request carries no
// credential of its own.
func startCluster(t *testing.T, datanodes int, tweak func(*cluster.Config), bearer string) *cluster.Cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "granary-cluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	addrs := make([]string, datanodes)
	for i := range addrs {
		addrs[i] = "127.0.0.1:0"
	}
	cfg := cluster.Config{
		DataDir: dir, DatabaseURL: pgtest.NewDatabase(t), MetadataAddr: "127.0.0.1:0", CoordinatorAddr: "127.0.0.1:0",
		NATSAddr: "127.0.0.1:0", Datanodes: datanodes, DatanodeAddrs: addrs,
		Logger: testLogger(),
		Metadata: func(c *metadata.Config) {
			c.Superuser = "hdfs"
			c.SafeModeExtension = -1 // none
		},
		Coordinator: func(c *coordinator.Config) {
			c.HeartbeatInterval = 100 * time.Millisecond
			c.StaleInterval = 500 * time.Millisecond
			c.RecheckInterval = 250 * time.Millisecond
			c.ReconcileInterval = 50 * time.Millisecond
			c.UnknownReplicaGrace = 200 * time.Millisecond
			c.RedundancyInterval = 100 * time.Millisecond
			// A transfer that failed (a datanode busy under the whole test
			// suite) is scheduled again after 3 s instead of HDFS's 5 min.
			c.PendingTimeout = 3 * time.Second
			// Three or four datanodes heartbeating every 100 ms mid-write:
			// a single block in flight can make one look "busy" (over twice
			// an average of a fraction), which HDFS's small test clusters
			// avoid the same way.
			c.IgnoreLoad = true
		},
		Datanode: func(i int, c *datanode.Config) {
			c.HeartbeatInterval = 100 * time.Millisecond
			c.RPCTimeout = 2 * time.Second
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("starting the cluster: %v", err)
	}
	t.Cleanup(c.Stop)
	checkContracts(t, c)
	if bearer != "" {
		http.DefaultClient.Transport = withBearer{contracts, bearer}
	}
	eventually(t, 30*time.Second, "every datanode live", func() bool { return clusterView(t, c).LiveDatanodes == datanodes })
	return c
}

// checkContracts validates every exchange the test makes with the
// services through http.DefaultClient against their OpenAPI 3 documents;
// a mismatch fails the test.
func checkContracts(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	tr := contract.NewTransport(http.DefaultTransport)
	hosts := map[string]string{strings.TrimPrefix(c.MetadataURL, "http://"): "metadata", strings.TrimPrefix(c.CoordinatorURL, "http://"): "coordinator"}
	for _, u := range c.DatanodeURLs {
		hosts[strings.TrimPrefix(u, "http://")] = "datanode"
	}
	for host, svc := range hosts {
		if err := tr.Serve(svc, host); err != nil {
			t.Fatal(err)
		}
	}
	old := http.DefaultClient.Transport
	http.DefaultClient.Transport = tr
	contracts = tr
	t.Cleanup(func() {
		http.DefaultClient.Transport = old
		contracts = nil
		failures, checked := tr.Failures()
		for i, f := range failures {
			if i == 10 {
				t.Errorf("... and %d more contract violations", len(failures)-10)
				break
			}
			t.Errorf("contract violation: %s", f)
		}
		if checked == 0 {
			t.Errorf("no exchange was checked against the contracts")
		}
	})
}

// consistently checks cond again and again for d: a negative can only be
// asserted over some time.
func consistently(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !cond() {
			t.Fatalf("not %s", what)
		}
	}
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, within, what, cond)
}

// call sends a JSON request (body may be nil) and decodes the answer.
func call(t *testing.T, method, url string, body, out any) int {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	code, _, data := curlL(t, method, url, b)
	if out != nil && code == 200 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, url, data, err)
		}
	}
	if code != 200 && out != nil {
		t.Logf("%s %s: %d %s", method, url, code, data)
	}
	return code
}

type clusterSummary struct {
	LiveDatanodes  int  `json:"liveDatanodes"`
	StaleDatanodes int  `json:"staleDatanodes"`
	DeadDatanodes  int  `json:"deadDatanodes"`
	Blocks         int  `json:"blocks"`
	Synced         bool `json:"namespaceSynced"`
}

func clusterView(t *testing.T, c *cluster.Cluster) clusterSummary {
	var v clusterSummary
	call(t, "GET", c.CoordinatorURL+"/api/v1/cluster", nil, &v)
	return v
}

type datanodeSummary struct {
	UUID       string `json:"uuid"`
	State      string `json:"state"`
	AdminState string `json:"adminState"`
	Blocks     int    `json:"blocks"`
}

func datanodeView(t *testing.T, c *cluster.Cluster, uuid string) (datanodeSummary, int) {
	var v datanodeSummary
	code := call(t, "GET", c.CoordinatorURL+"/api/v1/datanodes/"+uuid, nil, &v)
	return v, code
}

type extBlock struct {
	BlockPoolID     string `json:"blockPoolId,omitempty"`
	BlockID         int64  `json:"blockId"`
	GenerationStamp int64  `json:"generationStamp"`
	NumBytes        int64  `json:"numBytes"`
}

type located struct {
	Block     extBlock `json:"block"`
	Locations []struct {
		UUID string `json:"uuid"`
	} `json:"locations"`
}

func (l located) uuids() []string {
	var out []string
	for _, d := range l.Locations {
		out = append(out, d.UUID)
	}
	return out
}

// newFile creates path and allocates its first block; it returns the block
// and the datanodes chosen for it.
func newFile(t *testing.T, c *cluster.Cluster, path string, replication int) located {
	t.Helper()
	if code := call(t, "POST", c.MetadataURL+"/api/v1/create?user.name=hdfs", map[string]any{
		"path": path, "clientName": "test", "createParent": true, "replication": replication, "blockSize": 1 << 20,
	}, &struct{}{}); code != 200 {
		t.Fatalf("create %s: %d", path, code)
	}
	var lb located
	if code := call(t, "POST", c.MetadataURL+"/api/v1/addBlock?user.name=hdfs", map[string]any{"path": path, "clientName": "test"}, &lb); code != 200 {
		t.Fatalf("addBlock %s: %d", path, code)
	}
	return lb
}

func complete(t *testing.T, c *cluster.Cluster, path string, last extBlock) bool {
	t.Helper()
	var b struct{ Boolean bool }
	if code := call(t, "POST", c.MetadataURL+"/api/v1/complete?user.name=hdfs", map[string]any{"path": path, "clientName": "test", "last": last}, &b); code != 200 {
		t.Fatalf("complete %s: %d", path, code)
	}
	return b.Boolean
}

func locations(t *testing.T, c *cluster.Cluster, path string) []located {
	t.Helper()
	var out struct {
		LocatedBlocks struct {
			LocatedBlocks []located `json:"locatedBlocks"`
		}
	}
	if code := call(t, "GET", c.MetadataURL+"/api/v1/blockLocations?path="+path+"&user.name=hdfs", nil, &out); code != 200 {
		t.Fatalf("blockLocations %s: %d", path, code)
	}
	return out.LocatedBlocks.LocatedBlocks
}

// index returns the position of the datanode with uuid in the cluster.
func index(t *testing.T, c *cluster.Cluster, uuid string) int {
	t.Helper()
	for i, dn := range c.Datanodes {
		if dn != nil && dn.UUID() == uuid {
			return i
		}
	}
	t.Fatalf("no running datanode %s", uuid)
	return -1
}

// placeOnDisk writes a finalized replica straight into datanode i's volume,
// as HDFS's layout keeps it, without telling the datanode.
func placeOnDisk(t *testing.T, c *cluster.Cluster, i int, bpid string, b extBlock, data []byte) string {
	t.Helper()
	path := datanode.FinalizedPath(c.DatanodeDir(i), bpid, b.BlockID)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), datanode.MetaFileName(b.BlockID, b.GenerationStamp)), datanode.MetaFile(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func metricValue(t *testing.T, url, name string) float64 {
	t.Helper()
	v, ok := metricSample(t, url, name)
	if !ok {
		t.Fatalf("no metric %s at %s", name, url)
	}
	return v
}

// metricSample returns the sample of series name (with its labels, as the
// exposition writes them) at url's /metrics; false when there is none yet.
func metricSample(t *testing.T, url, name string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f, true
		}
	}
	return 0, false
}

type safeMode struct {
	On      bool
	Message string
}

func safeModeOf(t *testing.T, c *cluster.Cluster) safeMode {
	var sm safeMode
	call(t, "GET", c.MetadataURL+"/api/v1/admin/safemode", nil, &sm)
	return sm
}

// testLogger discards logs unless GRANARY_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("GRANARY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// contracts is the running test's contract checker (tests here run one at
// a time).
var contracts *contract.Transport

// newClient returns a Go client whose exchanges are checked too.
func newClient(c *cluster.Cluster, user string) *client.Client {
	cl := client.New(c.MetadataURL, user)
	if contracts != nil {
		cl.SetTransport(contracts)
	}
	return cl
}

// withBearer adds a bearer token to requests that carry no credential.
type withBearer struct {
	next   http.RoundTripper
	bearer string
}

func (b withBearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" && !r.URL.Query().Has("delegation") {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.bearer)
	}
	return b.next.RoundTrip(r)
}

// following reports whether every running datanode of c follows
// coordinator id of nameservice ns as the active one.
func following(c *cluster.Cluster, ns, id string) func() bool {
	return func() bool {
		for _, dn := range c.Datanodes {
			if dn != nil && dn.Info().ActiveCoordinators[ns] != id {
				return false
			}
		}
		return true
	}
}
