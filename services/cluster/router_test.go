package cluster_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/pgtest"
	"github.com/granary-fs/granary/internal/proctest"
	"github.com/granary-fs/granary/services/cluster"
)

// TestRouter: one WebHDFS endpoint over two nameservices (HDFS's
// router-based federation): files created, read, listed, summed and
// deleted through it land in the nameservice their mount names; the root
// lists the mount points; a rename across nameservices is refused; a
// mount added at run time is used at once; Debian's fsspec WebHDFS client
// works through it unpatched.
func TestRouter(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		twoNameservices(t, cfg)
		cfg.Router, cfg.RouterAddr, cfg.RouterDatabaseURL = true, "127.0.0.1:0", pgtest.NewDatabase(t)
	})
	ns2 := c.Federated[0]
	for svc, u := range map[string]string{"router": c.RouterURL, "metadata": ns2.MetadataURL} {
		if err := contracts.Serve(svc, strings.TrimPrefix(u, "http://")); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "ns2's coordinator to see the datanodes", func() bool { return ns2.Coordinator.Manager().Cluster().Live == 3 })
	rt := c.RouterURL + "/webhdfs/v1"
	one, two := bytes.Repeat([]byte("one "), 1000), bytes.Repeat([]byte("two "), 2000)
	for p, data := range map[string][]byte{"/ns1/tmp/a": one, "/ns2/tmp/b": two} {
		if code, _, body := curlL(t, "PUT", rt+p+"?op=CREATE&user.name=hdfs", data); code != 201 {
			t.Fatalf("CREATE %s through the router: %d %s", p, code, body)
		}
		if code, _, body := curlL(t, "GET", rt+p+"?op=OPEN&user.name=hdfs", nil); code != 200 || !bytes.Equal(body, data) {
			t.Fatalf("OPEN %s through the router: %d, %d bytes", p, code, len(body))
		}
	}
	// They are in their own nameservices, at the mounted paths.
	if got := readFile(t, newClient(c, "hdfs"), "/tmp/a"); !bytes.Equal(got, one) {
		t.Fatal("ns1 does not hold /tmp/a")
	}
	if got := readFile(t, client.New(ns2.MetadataURL, "hdfs"), "/tmp/b"); !bytes.Equal(got, two) {
		t.Fatal("ns2 does not hold /tmp/b")
	}
	// A GET that carries a body (some clients send one) is forwarded
	// without it.
	if code, _, body := curlL(t, "GET", rt+"/ns1/tmp?op=LISTSTATUS&user.name=hdfs", []byte("ignored")); code != 200 {
		t.Fatalf("LISTSTATUS with a body through the router: %d %s", code, body)
	}
	// The root lists the mount points.
	code, _, body := curlL(t, "GET", rt+"/?op=LISTSTATUS&user.name=hdfs", nil)
	var ls struct {
		FileStatuses struct {
			FileStatus []struct{ PathSuffix, Type string }
		}
	}
	if code != 200 || json.Unmarshal(body, &ls) != nil || len(ls.FileStatuses.FileStatus) != 2 ||
		ls.FileStatuses.FileStatus[0].PathSuffix != "ns1" || ls.FileStatuses.FileStatus[1].Type != "DIRECTORY" {
		t.Fatalf("LISTSTATUS / through the router: %d %s", code, body)
	}
	// A content summary of the root covers both.
	code, _, body = curlL(t, "GET", rt+"/?op=GETCONTENTSUMMARY&user.name=hdfs", nil)
	var cs struct {
		ContentSummary struct{ Length, FileCount int64 }
	}
	if code != 200 || json.Unmarshal(body, &cs) != nil || cs.ContentSummary.Length != int64(len(one)+len(two)) || cs.ContentSummary.FileCount != 2 {
		t.Fatalf("GETCONTENTSUMMARY / through the router: %d %s", code, body)
	}
	// A rename inside a nameservice works, across is refused.
	if code, _, body := curlL(t, "PUT", rt+"/ns1/tmp/a?op=RENAME&destination=/ns1/tmp/a2&user.name=hdfs", nil); code != 200 || !strings.Contains(string(body), "true") {
		t.Fatalf("RENAME within ns1: %d %s", code, body)
	}
	if code, _, body := curlL(t, "PUT", rt+"/ns1/tmp/a2?op=RENAME&destination=/ns2/tmp/a2&user.name=hdfs", nil); code != 403 || exception(body) != "IOException" {
		t.Fatalf("RENAME across nameservices: %d %s", code, body)
	}
	// A mount added at run time, used at once.
	put := `{"source":"/data","nameservice":"ns2","destination":"/tmp"}`
	if code, _, body := curlL(t, "PUT", c.RouterURL+"/api/v1/router/mounttable?user.name=bob", []byte(put)); code != 403 || exception(body) != "AccessControlException" {
		t.Fatalf("bob adding a mount: %d %s", code, body)
	}
	if code, _, body := curlL(t, "PUT", c.RouterURL+"/api/v1/router/mounttable?user.name=hdfs", []byte(put)); code != 200 {
		t.Fatalf("adding a mount: %d %s", code, body)
	}
	if code, _, body := curlL(t, "GET", rt+"/data/b?op=OPEN&user.name=hdfs", nil); code != 200 || !bytes.Equal(body, two) {
		t.Fatalf("OPEN /data/b through the new mount: %d, %d bytes", code, len(body))
	}
	if code, _, body := curlL(t, "DELETE", rt+"/ns1/tmp/a2?op=DELETE&user.name=hdfs", nil); code != 200 || !strings.Contains(string(body), "true") {
		t.Fatalf("DELETE through the router: %d %s", code, body)
	}
	if code, _, _ := curlL(t, "GET", rt+"/nowhere?op=GETFILESTATUS&user.name=hdfs", nil); code != 404 {
		t.Fatalf("a path no mount covers: %d", code)
	}
	// The router's page: the nameservices' state and the mount table.
	code, _, body = curlL(t, "GET", c.RouterURL+"/", nil)
	if page := string(body); code != 200 || !strings.Contains(page, "<td>ns2</td>") || strings.Count(page, ">active<") != 2 || !strings.Contains(page, "<td>/data</td>") {
		t.Fatalf("the router's page: %d %s", code, body)
	}
	// granary admin -router, as hdfs dfsrouteradmin.
	bin := proctest.Granary(t)
	admin := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"admin", "-router", "-router-url", c.RouterURL, "-user", "hdfs"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("granary admin -router %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := admin("-add", "/cli", "ns1", "/tmp"); !strings.Contains(out, "Successfully added mount point /cli") {
		t.Fatalf("-add: %s", out)
	}
	if out := admin("-ls"); !strings.Contains(out, "/cli") || !strings.Contains(out, "ns1->/tmp") || !strings.Contains(out, "ns2->/") {
		t.Fatalf("-ls: %s", out)
	}
	if code, _, _ := curlL(t, "GET", rt+"/cli?op=GETFILESTATUS&user.name=hdfs", nil); code != 200 {
		t.Fatalf("the mount added with granary admin: %d", code)
	}
	if out := admin("-rm", "/cli"); !strings.Contains(out, "Successfully removed mount point /cli") {
		t.Fatalf("-rm: %s", out)
	}
	// fsspec, unpatched, through the router into ns2.
	host, port, _ := strings.Cut(strings.TrimPrefix(c.RouterURL, "http://"), ":")
	out, err := exec.Command(fsspecPython, "testdata/fsspec_client.py", host, port, "/ns2/tmp/fsspec").CombinedOutput()
	if err != nil {
		t.Fatalf("fsspec through the router: %v\n%s", err, out)
	}
	if _, err := client.New(ns2.MetadataURL, "alice").Stat(t.Context(), "/tmp/fsspec/big"); err != nil {
		t.Fatalf("fsspec's file is not in ns2: %v", err)
	}
	t.Run("npm webhdfs", func(t *testing.T) {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Skip("npm is not installed: this part needs Node.js and npm")
		}
		dir := t.TempDir()
		for _, f := range []string{"package.json", "client.js"} {
			b, err := os.ReadFile(filepath.Join("testdata", "npm-webhdfs", f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		install := exec.Command(npm, "install", "--no-audit", "--no-fund", "--loglevel=error")
		install.Dir = dir
		if out, err := install.CombinedOutput(); err != nil {
			t.Fatalf("npm install: %v\n%s", err, out)
		}
		run := exec.Command("node", "client.js", host, port, "/ns1/tmp/npm")
		run.Dir = dir
		out, err := run.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Fatalf("npm webhdfs through the router: %v\n%s", err, out)
		}
		if _, err := newClient(c, "hdfs").Stat(t.Context(), "/tmp/npm"); err != nil {
			t.Fatalf("the npm client's folder is not in ns1: %v", err)
		}
	})
}

// inProcessConf returns the /conf of a service started in-process (as
// granary dev starts them), by key.
func inProcessConf(t *testing.T, base string) map[string]api.ConfProperty {
	t.Helper()
	code, _, body := curlL(t, "GET", base+"/conf?user.name=hdfs", nil)
	var r api.ConfResponse
	if code != 200 {
		t.Fatalf("%s/conf: %d %s", base, code, body)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s/conf: %v", base, err)
	}
	m := map[string]api.ConfProperty{}
	for _, p := range r.Properties {
		m[p.Key] = p
	}
	return m
}

// TestInProcessConf: services granary dev starts in-process (no command
// line) list the settings they run with in /conf, as the metadata service
// does, instead of nothing.
func TestInProcessConf(t *testing.T) {
	c := testCluster(t, 1, func(cfg *cluster.Config) {
		cfg.Router, cfg.RouterAddr, cfg.RouterDatabaseURL = true, "127.0.0.1:0", pgtest.NewDatabase(t)
	})
	for _, w := range []struct {
		url, key, value, resource string
	}{
		{c.CoordinatorURL, "dfs.heartbeat.interval", "100ms", "granary coordinator"},
		{c.CoordinatorURL, "dfs.namenode.stale.datanode.interval", "500ms", "granary coordinator"},
		{c.CoordinatorURL, "dfs.namenode.replication.max-streams", "2", "granary coordinator"},
		{c.CoordinatorURL, "dfs.nameservice.id", "ns1", "granary coordinator"},
		{c.DatanodeURLs[0], "dfs.heartbeat.interval", "100ms", "granary datanode"},
		{c.DatanodeURLs[0], "dfs.blockreport.intervalMsec", "6h0m0s", "granary datanode"},
		{c.DatanodeURLs[0], "dfs.datanode.data.dir", c.DatanodeDir(0), "granary datanode"},
		{c.RouterURL, "-nameservice", "ns1=" + c.MetadataURL, "granary router"},
		{c.MetadataURL, "dfs.permissions.superuser", "hdfs", "granary metadata"},
	} {
		got := inProcessConf(t, w.url)[w.key]
		if got.Value != w.value || got.Resource != w.resource {
			t.Errorf("%s/conf %s: %+v, want %q from %q", w.url, w.key, got, w.value, w.resource)
		}
	}
}
