package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/client"
)

// TestWriteSurvivesAStalledDatanode: a datanode process that stops
// answering in the middle of a write (SIGSTOP: its connections stay open,
// nothing is read or acknowledged) does not hang the writer. When it is the
// first of the pipeline, the client's watchdog (dfs.client.socket-timeout)
// gives up on it and recovers the pipeline with the others; when it is the
// second, the first datanode's watchdog reports it failed and the block
// goes on without it. Either way the file is written whole.
func TestWriteSurvivesAStalledDatanode(t *testing.T) {
	c := newProcCluster(t, func(c *procCluster) { c.dnArgs = []string{"-socket-timeout", "2s"} })
	for i := range 4 {
		c.addDatanode(filepath.Join(c.dir, fmt.Sprintf("dn%d", i+1)))
	}
	eventually(t, 30*time.Second, "4 live datanodes", func() bool { return c.cluster().Live == 4 })
	for pos := range 2 {
		t.Run(fmt.Sprintf("pipeline node %d stopped", pos), func(t *testing.T) {
			c.t = t
			cl := c.client()
			cl.SocketTimeout = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			path := fmt.Sprintf("/stall/f%d", pos)
			data := randomBytes(12<<20, int64(40+pos))
			w, err := cl.Create(ctx, path, client.CreateOptions{Replication: 3, BlockSize: 8 << 20})
			if err != nil {
				t.Fatal(err)
			}
			half := 4 << 20
			if _, err := w.Write(data[:half]); err != nil {
				t.Fatal(err)
			}
			victim := -1
			for _, d := range c.datanodes() {
				if d.UUID == w.Pipeline()[pos] {
					for i, p := range c.dnPorts {
						if p == d.HTTPPort {
							victim = i
						}
					}
				}
			}
			if victim < 0 {
				t.Fatalf("pipeline %v: datanode %d not found", w.Pipeline(), pos)
			}
			c.dns[victim].Signal(syscall.SIGSTOP)
			defer c.dns[victim].Signal(syscall.SIGCONT)
			if _, err := w.Write(data[half:]); err != nil {
				t.Fatalf("write with datanode %d stopped: %v", pos, err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("close with datanode %d stopped: %v", pos, err)
			}
			c.dns[victim].Signal(syscall.SIGCONT)
			r, err := cl.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes (%v), different from the %d written", len(got), err, len(data))
			}
		})
	}
}
