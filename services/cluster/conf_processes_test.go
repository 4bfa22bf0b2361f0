package cluster_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/api"
)

// TestServicesReadHadoopConf: metadata, coordinator and a datanode started
// as a user starts them with -conf hdfs-site.xml take the values of the
// HDFS keys their flags name from it — the datanode with no other setting
// than its addresses runs on the data directory, heartbeat interval and
// storage type the file gives — while a flag or a GRANARY_* variable wins
// over the file; GET /conf lists every value with its source, as JSON and
// as Hadoop's XML. A malformed file stops a service with the file's name
// and line.
func TestServicesReadHadoopConf(t *testing.T) {
	site := filepath.Join(t.TempDir(), "hdfs-site.xml")
	dnDir := filepath.Join(t.TempDir(), "dn1")
	props := map[string]string{
		"dfs.heartbeat.interval":               "1",
		"dfs.namenode.stale.datanode.interval": "4000",
		"dfs.namenode.safemode.threshold-pct":  "0.5",
		"dfs.datanode.data.dir":                "[SSD]file://" + dnDir,
		"dfs.blockreport.split.threshold":      "${split}",
		"split":                                "1000",
		"dfs.namenode.checkpoint.period":       "2h",
		"some.key.granary.does.not.use":        "x",
	}
	body := "<?xml version=\"1.0\"?>\n<configuration>\n"
	for k, v := range props {
		body += fmt.Sprintf("  <property>\n    <name>%s</name>\n    <value>%s</value>\n  </property>\n", k, v)
	}
	if err := os.WriteFile(site, []byte(body+"</configuration>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GRANARY_BLOCKREPORT_SPLIT_THRESHOLD", "")
	c := newProcCluster(t, func(c *procCluster) {
		c.metaArgs = []string{"-conf", site}
		c.coordArgs = []string{"-conf", site}
	})
	// The datanode: addresses only, everything else from the file, but
	// one setting from the environment.
	t.Setenv("GRANARY_FAILED_VOLUMES_TOLERATED", "0")
	port := freePort(t)
	c.procs.Start(t, "datanode1", c.granary, "datanode", "-conf", site, "-nats-url", c.natsURL,
		"-http-addr", fmt.Sprintf("127.0.0.1:%d", port), "-ip", "127.0.0.1", "-superuser", "hdfs", "-log-level", procLogLevel())
	c.waitHTTP(fmt.Sprintf("http://127.0.0.1:%d/readyz", port), "datanode1")
	eventually(t, 30*time.Second, "the datanode registered", func() bool { return c.cluster().Live == 1 })
	if _, err := os.Stat(filepath.Join(dnDir, "current", "VERSION")); err != nil {
		t.Fatalf("the datanode did not use the data directory of the file: %v", err)
	}
	if d := c.datanodes(); len(d) != 1 || len(d[0].StorageTypes) != 1 || d[0].StorageTypes[0] != "SSD" {
		t.Fatalf("the datanode's storages: %+v", d)
	}
	conf := func(port int) map[string]api.ConfProperty {
		var r api.ConfResponse
		if code := c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/conf?user.name=hdfs", port), &r); code != 200 {
			t.Fatalf("/conf on port %d: %d", port, code)
		}
		m := map[string]api.ConfProperty{}
		for _, p := range r.Properties {
			m[p.Key] = p
		}
		return m
	}
	for _, w := range []struct {
		port                int
		service, key, value string
		resource            string
	}{
		{port, "datanode", "dfs.heartbeat.interval", "1s", site},
		{port, "datanode", "dfs.datanode.data.dir", "[SSD]" + dnDir, site},
		{port, "datanode", "dfs.blockreport.split.threshold", "1000", site},
		{port, "datanode", "dfs.datanode.failed.volumes.tolerated", "0", "env"},
		{port, "datanode", "-http-addr", fmt.Sprintf("127.0.0.1:%d", port), "flag"},
		{port, "datanode", "dfs.blockreport.intervalMsec", "6h0m0s", "default"},
		{c.coordPort, "coordinator", "dfs.heartbeat.interval", "200ms", "flag"},
		{c.coordPort, "coordinator", "dfs.namenode.stale.datanode.interval", "1s", "flag"},
		{c.metaPort, "metadata", "dfs.namenode.safemode.threshold-pct", "0.5", site},
		{c.metaPort, "metadata", "dfs.namenode.checkpoint.period", "2h0m0s", site},
		{c.metaPort, "metadata", "-database-url-file", "******", "flag"},
	} {
		if got := conf(w.port)[w.key]; got.Value != w.value || got.Resource != w.resource {
			t.Errorf("%s /conf %s: %+v, want %q from %q", w.service, w.key, got, w.value, w.resource)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/conf?format=xml&user.name=hdfs", port))
	if err != nil {
		t.Fatal(err)
	}
	xml, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "<name>dfs.heartbeat.interval</name>\n    <value>1s</value>\n    <final>false</final>\n    <source>" + site + "</source>"; resp.StatusCode != 200 || !strings.Contains(string(xml), want) {
		t.Fatalf("/conf?format=xml: %d\n%s\nwant %s", resp.StatusCode, xml, want)
	}
	// A malformed file: the service stops at once, naming file and line.
	bad := filepath.Join(t.TempDir(), "hdfs-site.xml")
	if err := os.WriteFile(bad, []byte("<configuration>\n<property><name>dfs.heartbeat.interval</name><value>3</value>\n</configuration>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(c.granary, "datanode", "-conf", bad, "-data-dir", t.TempDir()).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), bad+":3: malformed XML") {
		t.Fatalf("a malformed -conf: %v\n%s", err, out)
	}
	if err := os.WriteFile(bad, []byte("<configuration><property><name>dfs.heartbeat.interval</name><value>3 fortnights</value></property></configuration>"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(c.granary, "datanode", "-conf", bad, "-data-dir", t.TempDir()).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `dfs.heartbeat.interval: "3 fortnights" is not a duration`) {
		t.Fatalf("a bad duration in -conf: %v\n%s", err, out)
	}
}
