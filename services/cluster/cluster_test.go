package cluster_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/granary-fs/granary/services/cluster"
)

// run starts the all-in-one cluster on dataDir and returns its metadata URL
// and a stop function that waits for a clean shutdown.
func run(t *testing.T, dataDir string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *cluster.Cluster, 1)
	done := make(chan error, 1)
	go func() {
		done <- cluster.Run(ctx, cluster.Config{
			DataDir: dataDir, MetadataAddr: "127.0.0.1:0", CoordinatorAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0",
			DatanodeAddrs: []string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"},
			Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		}, func(c *cluster.Cluster) { ready <- c })
	}()
	select {
	case c := <-ready:
		return c.MetadataURL, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("cluster stopped with %v", err)
			}
		}
	case err := <-done:
		cancel()
		t.Fatalf("cluster failed to start: %v", err)
	case <-time.After(2 * time.Minute):
		cancel()
		t.Fatal("cluster did not start within 2 minutes")
	}
	return "", nil
}

func fileStatus(t *testing.T, base, path string) map[string]any {
	t.Helper()
	resp, err := http.Get(base + "/webhdfs/v1" + path + "?op=GETFILESTATUS")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ FileStatus map[string]any }
	if resp.StatusCode != 200 {
		t.Fatalf("GETFILESTATUS %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.FileStatus
}

func TestDevClusterFirstRunAndRestart(t *testing.T) {
	dir, err := os.MkdirTemp("", "granary-dev-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	base, stop := run(t, dir)
	if st := fileStatus(t, base, "/tmp"); st["permission"] != "1777" || st["type"] != "DIRECTORY" {
		t.Fatalf("/tmp after first run: %v", st)
	}
	if st := fileStatus(t, base, "/user"); st["permission"] != "755" {
		t.Fatalf("/user after first run: %v", st)
	}
	req, _ := http.NewRequest("PUT", base+"/webhdfs/v1/tmp/kept?op=MKDIRS&user.name=me", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("MKDIRS /tmp/kept: %v %v", resp, err)
	}
	resp.Body.Close()
	stop()

	base, stop = run(t, dir)
	defer stop()
	if st := fileStatus(t, base, "/tmp/kept"); st["owner"] != "me" {
		t.Fatalf("/tmp/kept after restart: %v", st)
	}
}
