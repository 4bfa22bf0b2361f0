package metadata_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/services/metadata"
)

// TestStandbyTakesOver: two metadata services of one nameservice (HA) on
// one database. The one holding the writer lock is active; the other is
// standby — StandbyException to client operations, /readyz 503, JMX state
// "standby" — and becomes active once the active is gone, with everything
// the active acknowledged. A client given both URLs carries on.
func TestStandbyTakesOver(t *testing.T) {
	db := formatted(t)
	cfg1 := testConfig(db)
	cfg1.NamenodeID = "nn1"
	nn1 := start(t, cfg1)
	if nn1.svc.HAState() != "active" {
		t.Fatalf("nn1 is %s", nn1.svc.HAState())
	}
	cfg2 := testConfig(db)
	cfg2.NamenodeID = "nn2"
	nn2 := metadata.New(cfg2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nn2.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	base2 := "http://" + nn2.Addr()
	eventually(t, 10*time.Second, "nn2 to be standby", func() bool { return nn2.HAState() == "standby" })
	n2 := &node{t: t, svc: nn2, base: base2}
	if msg := n2.remote(403, "StandbyException", "GET", "/webhdfs/v1/?op=GETFILESTATUS&user.name=hdfs"); msg == "" {
		t.Fatal("no StandbyException message")
	}
	n2.remote(403, "StandbyException", "PUT", "/webhdfs/v1/x?op=MKDIRS&user.name=hdfs")
	if code, _ := n2.call("GET", "/readyz", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("standby /readyz: %d", code)
	}
	var jmx struct{ Beans []map[string]any }
	n2.want(200, "GET", "/jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus", &jmx)
	if len(jmx.Beans) != 1 || jmx.Beans[0]["State"] != "standby" {
		t.Fatalf("standby JMX: %+v", jmx.Beans)
	}

	// A client with both URLs, the standby first.
	cl := client.New(base2+","+nn1.base, superuser)
	bg := context.Background()
	eventually(t, 10*time.Second, "the standby to load the namespace", func() bool { return nn2.StandbyTxID() >= 0 })
	before := nn2.StandbyTxID()
	if err := cl.Mkdirs(bg, "/before", 0o755); err != nil {
		t.Fatalf("mkdirs through the failover client: %v", err)
	}
	// The standby tails the edit log (a warm standby).
	eventually(t, 10*time.Second, "the standby to apply the new edit", func() bool { return nn2.StandbyTxID() > before })
	// Calls carrying a client call ID, applied by nn1; their retries go to
	// nn2 after the takeover.
	callHeader := func(n string) http.Header {
		return http.Header{api.ClientIDHeader: {"test-client-1"}, api.CallIDHeader: {n}}
	}
	nn1.want(200, "PUT", "/webhdfs/v1/r1?op=MKDIRS&user.name=hdfs", nil)
	rename := "/webhdfs/v1/r1?op=RENAME&destination=/r2&user.name=hdfs"
	if code, body := nn1.callWith("PUT", rename, nil, callHeader("1")); code != 200 || !strings.Contains(string(body), "true") {
		t.Fatalf("rename on nn1: %d %s", code, body)
	}
	create := `{"path":"/r2/f","clientName":"c1","createParent":true}`
	code, created := nn1.callWith("POST", "/api/v1/create?user.name=hdfs", strings.NewReader(create), callHeader("2"))
	if code != 200 {
		t.Fatalf("create on nn1: %d %s", code, created)
	}
	if code, body := nn1.callWith("PUT", "/webhdfs/v1/x?op=MKDIRS&user.name=hdfs", nil, http.Header{api.ClientIDHeader: {"bad id"}, api.CallIDHeader: {"1"}}); code != 400 || !strings.Contains(string(body), "IllegalArgumentException") {
		t.Fatalf("a malformed client ID: %d %s", code, body)
	}

	// The active goes; the standby takes over with what it acknowledged.
	if err := nn1.stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "nn2 to be active", func() bool {
		code, _ := n2.call("GET", "/readyz", nil)
		return nn2.HAState() == "active" && code == http.StatusOK
	})
	if st, err := cl.Stat(bg, "/before"); err != nil || st.Type != "DIRECTORY" {
		t.Fatalf("/before after the takeover: %+v %v", st, err)
	}
	if err := cl.Mkdirs(bg, "/after", 0o755); err != nil {
		t.Fatalf("mkdirs after the takeover: %v", err)
	}
	if _, err := cl.Stat(bg, "/nothing"); !errs.Is(err, errs.FileNotFound) {
		t.Fatalf("a missing path after the takeover: %v", err)
	}
	// The retries are answered from the retry cache nn2 rebuilt from the
	// edit log: applied again, the rename would answer false and the
	// create AlreadyBeingCreatedException.
	if code, body := n2.callWith("PUT", rename, nil, callHeader("1")); code != 200 || !strings.Contains(string(body), "true") {
		t.Fatalf("the rename retried on nn2: %d %s", code, body)
	}
	code, again := n2.callWith("POST", "/api/v1/create?user.name=hdfs", strings.NewReader(create), callHeader("2"))
	var first, second api.CreateResponse
	if code != 200 || json.Unmarshal(created, &first) != nil || json.Unmarshal(again, &second) != nil || second.FileStatus.FileID != first.FileStatus.FileID {
		t.Fatalf("the create retried on nn2: %d %s; first answer %s", code, again, created)
	}
	if code, body := n2.callWith("PUT", rename, nil, callHeader("3")); code != 200 || !strings.Contains(string(body), "false") {
		t.Fatalf("a new rename call of the moved source: %d %s", code, body)
	}
}

// TestStandbyCheckpoints: with HA the standby saves the images (HDFS's
// StandbyCheckpointer) and the active never does; a service started later
// loads the standby's image.
func TestStandbyCheckpoints(t *testing.T) {
	db := formatted(t)
	cfg := func(id string) metadata.Config {
		c := testConfig(db)
		c.NamenodeID, c.CheckpointTxns = id, 5
		return c
	}
	nn1 := start(t, cfg("nn1"))
	nn2 := metadata.New(cfg("nn2"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nn2.Run(ctx) }()
	eventually(t, 10*time.Second, "nn2 to load the namespace as standby", func() bool { return nn2.StandbyTxID() >= 0 })
	for i := 0; i < 12; i++ {
		nn1.want(200, "PUT", "/webhdfs/v1/cp/d"+string(rune('a'+i))+"?op=MKDIRS&user.name=hdfs", nil)
	}
	eventually(t, 10*time.Second, "the standby to save an image", func() bool { return nn2.LastImageTxID() >= 10 })
	if got := nn1.svc.LastImageTxID(); got != 0 {
		t.Fatalf("the active saved an image at txid %d", got)
	}
	image := nn2.LastImageTxID()
	cancel()
	<-done
	if err := nn1.stop(); err != nil {
		t.Fatal(err)
	}
	// A plain start loads the standby's image.
	nn3 := start(t, testConfig(db))
	if got := nn3.svc.LastImageTxID(); got < image {
		t.Fatalf("the next start loaded the image at txid %d, the standby saved %d", got, image)
	}
	nn3.want(200, "GET", "/webhdfs/v1/cp/dl?op=GETFILESTATUS&user.name=hdfs", nil)
}
