// Package dnbench is `granary bench dnscan`: the datanode's start-up scan
// of its volumes into the replica map, timed on replicas it lays out in
// HDFS's on-disk format first.
package dnbench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/granary-fs/granary/services/datanode/internal/storage"
)

// Main parses args and runs the benchmark.
func Main(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("granary bench dnscan", flag.ContinueOnError)
	n := fs.Int("replicas", 1_000_000, "replicas to lay out and scan")
	volumes := fs.Int("volumes", 2, "volumes to spread them over")
	dir := fs.String("dir", "", "where to create the volumes (default: a temporary folder, removed after)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root := *dir
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "granary-dnscan-"); err != nil {
			return err
		}
		defer os.RemoveAll(root)
	}
	dirs := make([]string, *volumes)
	for i := range dirs {
		dirs[i] = filepath.Join(root, fmt.Sprintf("vol%d", i))
	}
	st, err := storage.Open(dirs, 0, 0)
	if err != nil {
		return err
	}
	const bpid = "BP-1-127.0.0.1-1"
	if err := st.InitBlockPool("CID-bench", bpid, 1, 0); err != nil {
		return err
	}
	start := time.Now()
	if err := layOut(ctx, dirs, bpid, *n); err != nil {
		return err
	}
	fmt.Fprintf(out, "laid out %d replicas (empty blocks with their meta files) on %d volumes in %v\n", *n, *volumes, time.Since(start).Round(time.Millisecond))
	// Drop nothing from the page cache (no privileges needed): this is the
	// warm-cache start-up a restarted datanode sees.
	start = time.Now()
	st2, err := storage.Open(dirs, 0, 0)
	if err != nil {
		return err
	}
	el := time.Since(start)
	got := st2.Count(bpid)
	fmt.Fprintf(out, "--- dnscan ---\nreplicas found: %d on %d volumes\nscan time: %v\nreplicas per sec: %.0f\n", got, *volumes, el.Round(time.Millisecond), float64(got)/el.Seconds())
	if got != *n {
		return fmt.Errorf("the scan found %d replicas, want %d", got, *n)
	}
	return nil
}

// layOut writes n replicas round-robin over the volumes, in parallel.
func layOut(ctx context.Context, dirs []string, bpid string, n int) error {
	meta := storage.ChecksumFile(nil)
	var wg sync.WaitGroup
	errc := make(chan error, len(dirs)*4)
	workers := len(dirs) * 4
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			made := map[string]bool{}
			for i := w; i < n; i += workers {
				if ctx.Err() != nil {
					return
				}
				id := int64(1<<30 + i)
				v := &storage.Volume{Dir: dirs[i%len(dirs)]}
				p := v.FinalizedPath(bpid, id)
				d := filepath.Dir(p)
				if !made[d] {
					if err := os.MkdirAll(d, 0o755); err != nil {
						errc <- err
						return
					}
					made[d] = true
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					errc <- err
					return
				}
				if err := os.WriteFile(filepath.Join(d, storage.MetaFileName(id, 1001)), meta, 0o644); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}
