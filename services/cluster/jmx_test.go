package cluster_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/client"
)

// jmxBeans fetches /jmx?qry=... and returns the status and the beans.
func jmxBeans(t *testing.T, metadataURL, qry string) (int, []map[string]any) {
	t.Helper()
	var r api.JMXResponse
	code := call(t, http.MethodGet, metadataURL+"/jmx?qry="+url.QueryEscape(qry), nil, &r)
	return code, r.Beans
}

func TestJMXBeansMatchTheCluster(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	cl := newClient(c, "hdfs")
	writeFile(t, cl, "/jmx/a", randomBytes(3*(64<<10)+5, 71), client.CreateOptions{BlockSize: 64 << 10, Replication: 2})

	code, beans := jmxBeans(t, c.MetadataURL, "Hadoop:service=NameNode,name=NameNodeInfo")
	if code != http.StatusOK || len(beans) != 1 {
		t.Fatalf("NameNodeInfo: %d %v", code, beans)
	}
	info := beans[0]
	if info["name"] != "Hadoop:service=NameNode,name=NameNodeInfo" || info["ClusterId"] == "" || info["ClusterId"] == nil || info["Safemode"] != "" {
		t.Fatalf("NameNodeInfo: %v", info)
	}
	// "/", "/jmx", "/jmx/a" (and whatever the cluster's layout created).
	if tf := info["TotalFiles"].(float64); tf < 3 {
		t.Fatalf("TotalFiles = %v, want at least 3", tf)
	}
	if tb := info["TotalBlocks"].(float64); tb != 4 {
		t.Fatalf("TotalBlocks = %v, want 4", tb)
	}
	var live map[string]map[string]any
	if err := json.Unmarshal([]byte(info["LiveNodes"].(string)), &live); err != nil || len(live) != 3 {
		t.Fatalf("LiveNodes = %v (%v)", info["LiveNodes"], err)
	}
	replicas := 0.0
	for _, n := range live {
		replicas += n["numBlocks"].(float64)
		if n["adminState"] != "NORMAL" || n["capacity"].(float64) <= 0 {
			t.Fatalf("live node: %v", n)
		}
	}
	if replicas != 8 {
		t.Fatalf("replicas on the live nodes = %v, want 4 blocks × 2", replicas)
	}
	var view api.ClusterView
	call(t, http.MethodGet, c.CoordinatorURL+"/api/v1/cluster", nil, &view)
	if info["Total"].(float64) != float64(view.Capacity) {
		t.Fatalf("Total %v, the coordinator's capacity %d", info["Total"], view.Capacity)
	}

	// A killed datanode moves to DeadNodes and FSNamesystemState counts it.
	if err := c.KillDatanode(0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the killed datanode counted dead", func() bool {
		_, beans := jmxBeans(t, c.MetadataURL, "Hadoop:service=NameNode,name=FSNamesystemState")
		return len(beans) == 1 && beans[0]["NumDeadDataNodes"] == 1.0 && beans[0]["NumLiveDataNodes"] == 2.0
	})
	_, beans = jmxBeans(t, c.MetadataURL, "Hadoop:service=NameNode,name=NameNodeInfo")
	var dead map[string]map[string]any
	if err := json.Unmarshal([]byte(beans[0]["DeadNodes"].(string)), &dead); err != nil || len(dead) != 1 {
		t.Fatalf("DeadNodes = %v (%v)", beans[0]["DeadNodes"], err)
	}

	// Patterns: every NameNode bean; one that matches nothing; a malformed one.
	if _, beans := jmxBeans(t, c.MetadataURL, "Hadoop:service=NameNode,*"); len(beans) != 5 {
		t.Fatalf("Hadoop:service=NameNode,* matched %d beans, want 5", len(beans))
	}
	// JvmMetrics carries the pause monitor's figures (HDFS's JvmPauseMonitor).
	if _, beans := jmxBeans(t, c.MetadataURL, "Hadoop:service=NameNode,name=JvmMetrics"); len(beans) != 1 ||
		beans[0]["GcNumInfoThresholdExceeded"] == nil || beans[0]["GcNumWarnThresholdExceeded"] == nil || beans[0]["GcTotalExtraSleepTime"] == nil {
		t.Fatalf("JvmMetrics: %v", beans)
	}
	if code, _, body := curlL(t, "GET", c.MetadataURL+"/metrics?user.name=hdfs", nil); code != 200 || !strings.Contains(string(body), "granary_metadata_pause_warn_threshold_exceeded_total") {
		t.Fatalf("/metrics has no pause figures: %d", code)
	}
	_, beans = jmxBeans(t, c.MetadataURL, "Hadoop:service=NameNode,name=FSNamesystem")
	if len(beans) != 1 || beans[0]["TransactionsSinceLastCheckpoint"].(float64) <= 0 || beans[0]["LastWrittenTransactionId"].(float64) <= 0 {
		t.Fatalf("FSNamesystem: %v", beans)
	}
	if code, beans := jmxBeans(t, c.MetadataURL, "Hadoop:service=DataNode,*"); code != http.StatusOK || len(beans) != 0 {
		t.Fatalf("a pattern matching nothing: %d %v", code, beans)
	}
	resp, err := http.Get(c.MetadataURL + "/jmx?qry=NameNodeInfo")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var re struct {
		RemoteException struct{ Exception string } `json:"RemoteException"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&re); err != nil || resp.StatusCode != http.StatusBadRequest || re.RemoteException.Exception != "IllegalArgumentException" {
		t.Fatalf("malformed qry: %d %+v (%v)", resp.StatusCode, re, err)
	}
}
