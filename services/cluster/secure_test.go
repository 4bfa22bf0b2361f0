package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/natsconn"
	"github.com/granary-fs/granary/internal/pgtest"
	"github.com/granary-fs/granary/internal/tlsconf"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/datanode"
	"github.com/granary-fs/granary/services/metadata"
)

// TestSecureCluster runs the cluster as `granary dev -secure` does (HTTPS
// from a throwaway CA, token mode against the development issuer, block
// tokens, NATS with nkeys) and uses it the way a user would: a token from
// the issuer's token endpoint, the Go client, and WebHDFS over HTTPS whose
// redirects name https datanodes.
func TestSecureCluster(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Config{
		DataDir: dir, DatabaseURL: pgtest.NewDatabase(t), MetadataAddr: "127.0.0.1:0", CoordinatorAddr: "127.0.0.1:0",
		NATSAddr: "127.0.0.1:0", IssuerAddr: "127.0.0.1:0", Datanodes: 3, DatanodeAddrs: []string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"},
		Logger: testLogger(), Secure: true,
		Metadata: func(m *metadata.Config) { m.Superuser = "hdfs"; m.SafeModeExtension = -1 },
		Coordinator: func(c *coordinator.Config) {
			c.Superuser = "hdfs"
			c.HeartbeatInterval, c.StaleInterval, c.RecheckInterval = 100*time.Millisecond, 500*time.Millisecond, 250*time.Millisecond
		},
		Datanode: func(_ int, d *datanode.Config) { d.Superuser = "hdfs"; d.HeartbeatInterval = 100 * time.Millisecond },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	if !strings.HasPrefix(c.MetadataURL, "https://") || !strings.HasPrefix(c.DatanodeURLs[0], "https://") {
		t.Fatalf("URLs %s %v", c.MetadataURL, c.DatanodeURLs)
	}
	hc := c.HTTPClient()
	// A token from the issuer, as curl would get it.
	resp, err := hc.PostForm(c.IssuerURL+"/token", url.Values{"username": {"hdfs"}})
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token endpoint: %v", err)
	}
	resp.Body.Close()
	tok := tr.AccessToken
	tlsCfg, err := tlsconf.Files{CA: c.CAFile}.Client()
	if err != nil {
		t.Fatal(err)
	}
	cl := client.New(c.MetadataURL, "hdfs")
	cl.SetTLS(tlsCfg)
	cl.SetBearer(tok)
	eventually(t, 30*time.Second, "three live datanodes", func() bool {
		return c.Coordinator.Manager().Cluster().Live == 3
	})
	data := bytes.Repeat([]byte("over tls "), 100000)
	writeFile(t, cl, "/secure/f", data, client.CreateOptions{})
	if got := readFile(t, cl, "/secure/f"); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	// WebHDFS over HTTPS: the redirect names an https datanode and a
	// delegation token.
	noFollow := &http.Client{Transport: hc.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", c.MetadataURL+"/webhdfs/v1/secure/f?op=OPEN", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 307 || !strings.HasPrefix(loc, "https://") || !strings.Contains(loc, "delegation=") {
		t.Fatalf("OPEN: %d %s", resp.StatusCode, loc)
	}
	resp, err = hc.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("OPEN at the datanode: %d, %d bytes", resp.StatusCode, len(got))
	}
	// Plain HTTP to an HTTPS port gets nowhere, nor does a client that does
	// not trust the CA.
	if resp, err := http.Get(strings.Replace(c.MetadataURL, "https://", "http://", 1) + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served")
		}
		resp.Body.Close()
	}
	if _, err := http.Get(c.MetadataURL + "/healthz"); err == nil {
		t.Fatal("a client that does not trust the dev CA connected")
	}
	// NATS wants TLS and an nkey: a plain connection is refused, a TLS one
	// without an nkey too.
	if nc, err := nats.Connect(c.NATSURL, nats.Timeout(2*time.Second)); err == nil {
		nc.Close()
		t.Fatal("plain NATS connection accepted")
	}
	if nc, err := natsconn.Connect(natsconn.Config{URL: c.NATSURL, CAFile: c.CAFile}); err == nil {
		if err := nc.Flush(); err == nil {
			t.Fatal("a TLS NATS connection without an nkey works")
		}
		nc.Close()
	}
}
