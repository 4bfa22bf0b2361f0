package iobench

import (
	"bufio"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// PutMain is `granary bench put`: `granary fs -put` of one large file, run
// as its own process against a cluster started in-process, and the peak
// resident memory of that process (its rusage maxrss): a writer keeps only
// the packets in flight, so the figure must not grow with the file.
func PutMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("granary bench put", flag.ContinueOnError)
	size := fs.Int64("size", 300, "file size in MB")
	dir := fs.String("dir", "", "where the cluster and the local file live (default: a temporary folder)")
	dbURL := fs.String("database-url", os.Getenv("GRANARY_DATABASE_URL"), "PostgreSQL server to create each run's database on (dropped after it) instead of starting one")
	bin := fs.String("bin", "", "the granary binary whose fs -put is measured (default: this one; another build compares side by side)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		var err error
		if *dir, err = os.MkdirTemp("", "granary-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(*dir)
	}
	local := filepath.Join(*dir, "local")
	err := randomFile(local, *size<<20)
	if err != nil {
		return err
	}
	self := *bin
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return err
		}
	}
	e, err := start(ctx, filepath.Join(*dir, "run"), *dbURL, 3, clusterOpts{}, false)
	if err != nil {
		return err
	}
	defer e.close()
	cmd := exec.CommandContext(ctx, self, "fs", "-fs", e.c.MetadataURL, "-D", "user.name=bench", "-put", local, "/bench/put")
	cmd.Stdout, cmd.Stderr = out, out
	begin := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("granary fs -put: %w", err)
	}
	took := time.Since(begin)
	st, err := e.cl.Stat(ctx, "/bench/put")
	if err != nil {
		return err
	}
	if st.Length != *size<<20 {
		return fmt.Errorf("/bench/put is %d bytes long, want %d", st.Length, *size<<20)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return fmt.Errorf("no resource usage for the fs -put process")
	}
	fmt.Fprintf(out, "----- granary fs -put of %d MB (replication %d, block size %d MB) -----\npeak RSS of the client process: %.1f MB\nthroughput: %.1f MB/s (%v)\n",
		*size, st.Replication, st.BlockSize>>20, float64(ru.Maxrss)/1024, float64(*size)/took.Seconds(), took.Round(time.Millisecond))
	return nil
}

// randomFile writes n random bytes to path.
func randomFile(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.CopyN(bw, rand.Reader, n); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
