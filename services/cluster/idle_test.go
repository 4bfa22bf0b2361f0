package cluster_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/datanode"
	"github.com/granary-fs/granary/services/metadata"
)

// TestIdleConnectionsAreClosed: every service closes a keep-alive
// connection that stays idle past its idle timeout
// (hadoop.http.idle_timeout.ms), so idle clients cannot hold connections
// open for ever.
func TestIdleConnectionsAreClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	c := testCluster(t, 1, func(cfg *cluster.Config) {
		meta, coord, dn := cfg.Metadata, cfg.Coordinator, cfg.Datanode
		cfg.Metadata = func(c *metadata.Config) { meta(c); c.HTTPIdleTimeout = idle }
		cfg.Coordinator = func(c *coordinator.Config) { coord(c); c.HTTPIdleTimeout = idle }
		cfg.Datanode = func(i int, c *datanode.Config) { dn(i, c); c.HTTPIdleTimeout = idle }
	})
	for name, base := range map[string]string{"metadata": c.MetadataURL, "coordinator": c.CoordinatorURL, "datanode": c.DatanodeURLs[0]} {
		var conns []net.Conn
		for range 20 {
			conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// One request on a keep-alive connection, then silence.
			if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Close {
				t.Fatalf("%s: /healthz answered %d (close %v), want a kept-alive 200", name, resp.StatusCode, resp.Close)
			}
			conns = append(conns, conn)
		}
		for _, conn := range conns {
			_ = conn.SetReadDeadline(time.Now().Add(20 * idle))
			var b [1]byte
			_, err := conn.Read(b[:])
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("%s kept an idle connection open for %v (idle timeout %v)", name, 20*idle, idle)
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(fmtErr(err), "reset") {
				t.Fatalf("%s: reading an idle connection: %v, want it closed by the server", name, err)
			}
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
