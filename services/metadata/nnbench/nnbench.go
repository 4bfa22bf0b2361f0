// Package nnbench is `granary bench nn`, modelled on HDFS's
// NNThroughputBenchmark: it drives the namespace in-process with many
// threads while every mutation is committed to the real PostgreSQL edit log
// (default durability: fsync and synchronous_commit on), and prints
// operations per second. It also measures GETFILESTATUS over HTTP, heap
// bytes per file and the fsimage load rate.
package nnbench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/granary-fs/granary/internal/localpg"
	"github.com/granary-fs/granary/internal/pgdb"
	"github.com/granary-fs/granary/services/metadata"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
	"github.com/granary-fs/granary/services/metadata/internal/store"
)

// Options are the benchmark's parameters.
type Options struct {
	Op          string
	Threads     int
	Files       int
	FilesPerDir int
	Close       bool // create: complete each file too
	DatabaseURL string
	Duration    time.Duration // httpFileStatus: how long to run
	AuditLog    string        // httpFileStatus: the service writes its audit log here
	// Standby runs a standby metadata service on the database during a
	// throughput op and prints how far behind the writes it stays (HA).
	Standby bool
	// NoGather commits each batch as soon as the last one is (HDFS's
	// FSEditLog) instead of letting it grow.
	NoGather bool
	// CPUProfile, when set, receives a CPU profile of each throughput op's
	// timed part (the op's name appended when -op all).
	CPUProfile string
}

// Main parses args and runs the benchmark.
func Main(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("granary bench nn", flag.ContinueOnError)
	var o Options
	fs.StringVar(&o.Op, "op", "all", "create, mkdirs, open, fileStatus, rename, delete, listStatus, httpFileStatus, heap, imageLoad or all")
	fs.IntVar(&o.Threads, "threads", 64, "concurrent threads")
	fs.IntVar(&o.Files, "files", 100000, "files (or directories) to operate on")
	fs.IntVar(&o.FilesPerDir, "filesPerDir", 100, "files per directory")
	fs.BoolVar(&o.Close, "close", false, "create: close each file after creating it")
	fs.StringVar(&o.DatabaseURL, "database-url", os.Getenv("GRANARY_DATABASE_URL"), "PostgreSQL server to create the benchmark database on; default a throwaway local one")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "httpFileStatus: run time")
	fs.StringVar(&o.AuditLog, "audit-log", "", "httpFileStatus: write the service's audit log to this file (compare with and without)")
	fs.BoolVar(&o.Standby, "standby", false, "create, mkdirs, rename, delete: run a standby metadata service tailing the edit log and print its lag")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "create, mkdirs, rename, delete, open, fileStatus, listStatus: write a CPU profile of the timed part to this file")
	fs.BoolVar(&o.NoGather, "nogather", false, "create, mkdirs, rename, delete: commit each edit-log batch as soon as the last one is, without letting it grow (compare)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Threads < 1 || o.Files < 1 || o.FilesPerDir < 1 {
		return fmt.Errorf("-threads, -files and -filesPerDir must be positive")
	}
	env, err := newEnv(ctx, o.DatabaseURL)
	if err != nil {
		return err
	}
	defer env.close()
	ops := []string{o.Op}
	if o.Op == "all" {
		ops = []string{"create", "mkdirs", "open", "fileStatus", "listStatus", "rename", "delete", "httpFileStatus", "heap", "imageLoad"}
	}
	for _, op := range ops {
		var err error
		switch op {
		case "heap":
			err = heapPerFile(out, 1_000_000)
		case "imageLoad":
			err = imageLoad(ctx, env, out, 1_000_000)
		case "httpFileStatus":
			err = httpFileStatus(ctx, env, o, out)
		default:
			err = throughput(ctx, env, o, op, out)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	return nil
}

// env is the PostgreSQL server the benchmark makes its databases on.
type env struct {
	adminURL string
	pg       *localpg.Server
	dir      string
	drops    []func() error // the databases made on the user's server, dropped at close
}

func newEnv(ctx context.Context, url string) (*env, error) {
	if url != "" {
		return &env{adminURL: url}, nil
	}
	dir, err := os.MkdirTemp("", "granary-nnbench-")
	if err != nil {
		return nil, err
	}
	pg, err := localpg.Start(ctx, dir+"/data", 0)
	if err != nil {
		return nil, err
	}
	return &env{adminURL: pg.URL("postgres"), pg: pg, dir: dir}, nil
}

func (e *env) close() {
	for _, drop := range e.drops {
		_ = drop()
	}
	if e.pg != nil {
		_ = e.pg.Stop()
		_ = os.RemoveAll(e.dir)
	}
}

// database creates a fresh formatted database, gone at close, and returns
// its URL.
func (e *env) database(ctx context.Context) (string, error) {
	url, drop, err := pgdb.Create(ctx, e.adminURL, "granary_nnbench_")
	if err != nil {
		return "", err
	}
	if e.pg == nil {
		// On the user's server: dropped at close. A throwaway server goes
		// whole.
		e.drops = append(e.drops, drop)
	}
	if _, err := metadata.Format(ctx, metadata.Config{DatabaseURL: url, Superuser: "bench"}, metadata.FormatOptions{}); err != nil {
		return "", err
	}
	return url, nil
}

// journaled is a namespace whose mutations commit to a real edit log.
type journaled struct {
	ns      *namespace.Namespace
	st      *store.Store
	stop    context.CancelFunc
	done    chan error
	edits   *store.EditLog
	lock    *store.WriterLock // with a standby: the active's lock
	batches *batchStats
}

// batchStats records the edit log's group commits: how many edits each
// carried and how long its commit took.
type batchStats struct {
	mu    sync.Mutex
	sizes []int
	times []time.Duration
}

// BatchCommitted implements store.EditLogMetrics.
func (b *batchStats) BatchCommitted(ops int, d time.Duration) {
	b.mu.Lock()
	b.sizes = append(b.sizes, ops)
	b.times = append(b.times, d)
	b.mu.Unlock()
}

func (b *batchStats) reset() {
	b.mu.Lock()
	b.sizes, b.times = nil, nil
	b.mu.Unlock()
}

// report prints the batch size distribution and the commit times.
func (b *batchStats) report(out io.Writer) {
	b.mu.Lock()
	sizes := slices.Sorted(slices.Values(b.sizes))
	times := slices.Sorted(slices.Values(b.times))
	b.mu.Unlock()
	if len(sizes) == 0 {
		return
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	q := func(p float64) int { return min(len(sizes)-1, int(p*float64(len(sizes)))) }
	fmt.Fprintf(out, "edit log batches: %d, edits per batch: mean %.1f, p50 %d, p90 %d, p99 %d, max %d; commit time: p50 %v, p90 %v, p99 %v\n",
		len(sizes), float64(total)/float64(len(sizes)), sizes[q(0.5)], sizes[q(0.9)], sizes[q(0.99)], sizes[len(sizes)-1],
		times[q(0.5)].Round(time.Microsecond), times[q(0.9)].Round(time.Microsecond), times[q(0.99)].Round(time.Microsecond))
}

func openJournaled(ctx context.Context, url string, conns int32, writerLock, noGather bool) (*journaled, error) {
	st, err := store.Open(ctx, url, conns)
	if err != nil {
		return nil, err
	}
	var lock *store.WriterLock
	if writerLock {
		// The active's lock, as a metadata service's: a standby on the
		// same database waits for it instead of taking over.
		if lock, err = st.LockWriter(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	epoch, err := st.ClaimEpoch(ctx)
	if err != nil {
		return nil, err
	}
	ns := namespace.New(namespace.Config{Superuser: "bench"})
	batches := &batchStats{}
	edits := st.NewEditLog(epoch, 0, 30*time.Second, batches, slog.New(slog.NewTextHandler(io.Discard, nil)))
	edits.NoGather = noGather
	ns.SetJournal(edits)
	rctx, stop := context.WithCancel(context.Background())
	j := &journaled{ns: ns, st: st, stop: stop, done: make(chan error, 1), edits: edits, lock: lock, batches: batches}
	go func() { j.done <- edits.Run(rctx) }()
	return j, nil
}

func (j *journaled) close() error {
	j.stop()
	err := <-j.done
	if j.lock != nil {
		j.lock.Release()
	}
	j.st.Close()
	return err
}

var benchUser = &namespace.User{Name: "bench", Groups: []string{"bench"}}

// names generates the benchmark's paths: per thread, filesPerDir files
// per directory, as NNThroughputBenchmark's FileNameGenerator.
func names(base string, thread, i, perDir int) string {
	return fmt.Sprintf("%s/t%d/d%d/f%d", base, thread, i/perDir, i%perDir)
}

func throughput(ctx context.Context, e *env, o Options, op string, out io.Writer) error {
	url, err := e.database(ctx)
	if err != nil {
		return err
	}
	j, err := openJournaled(ctx, url, int32(max(8, o.Threads/4)), o.Standby, o.NoGather)
	if err != nil {
		return err
	}
	defer j.close()
	per := (o.Files + o.Threads - 1) / o.Threads
	base := "/nnThroughputBenchmark/" + op
	needFiles := op != "create" && op != "mkdirs"
	if needFiles {
		// Generate the input files first (not timed), as NNThroughputBenchmark does.
		if err := runThreads(o.Threads, per, func(t, i int) error {
			p := names(base, t, i, o.FilesPerDir)
			if _, err := j.ns.Create(ctx, benchUser, p, namespace.CreateOptions{CreateParent: true, Mode: -1, ClientName: "nnbench"}); err != nil {
				return err
			}
			return j.ns.Complete(ctx, benchUser, p, "nnbench", nil)
		}); err != nil {
			return fmt.Errorf("generating inputs: %w", err)
		}
	}
	if op == "mkdirs" {
		// Parents exist before timing, so each op creates one directory.
		for t := 0; t < o.Threads; t++ {
			for d := 0; d*o.FilesPerDir < per; d++ {
				if err := j.ns.Mkdirs(ctx, benchUser, fmt.Sprintf("%s/t%d/d%d", base, t, d), -1); err != nil {
					return err
				}
			}
		}
	}
	var fn func(t, i int) error
	switch op {
	case "create":
		fn = func(t, i int) error {
			p := names(base, t, i, o.FilesPerDir)
			if _, err := j.ns.Create(ctx, benchUser, p, namespace.CreateOptions{CreateParent: true, Mode: -1, ClientName: "nnbench"}); err != nil {
				return err
			}
			if o.Close {
				return j.ns.Complete(ctx, benchUser, p, "nnbench", nil)
			}
			return nil
		}
	case "mkdirs":
		fn = func(t, i int) error { return j.ns.Mkdirs(ctx, benchUser, names(base, t, i, o.FilesPerDir), -1) }
	case "open":
		fn = func(t, i int) error { _, _, err := j.ns.Open(benchUser, names(base, t, i, o.FilesPerDir)); return err }
	case "fileStatus":
		fn = func(t, i int) error {
			_, err := j.ns.GetFileInfo(benchUser, names(base, t, i, o.FilesPerDir))
			return err
		}
	case "listStatus":
		fn = func(t, i int) error {
			_, _, err := j.ns.List(benchUser, fmt.Sprintf("%s/t%d/d%d", base, t, i/o.FilesPerDir), "", 1000)
			return err
		}
	case "rename":
		fn = func(t, i int) error {
			p := names(base, t, i, o.FilesPerDir)
			ok, err := j.ns.Rename(ctx, benchUser, p, p+"-r")
			if err == nil && !ok {
				err = fmt.Errorf("rename %s returned false", p)
			}
			return err
		}
	case "delete":
		fn = func(t, i int) error {
			ok, err := j.ns.Delete(ctx, benchUser, names(base, t, i, o.FilesPerDir), false)
			if err == nil && !ok {
				err = fmt.Errorf("delete returned false")
			}
			return err
		}
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	var lag *standbyLag
	if o.Standby {
		if lag, err = startStandby(ctx, url); err != nil {
			return err
		}
		defer lag.close()
	}
	if o.CPUProfile != "" {
		path := o.CPUProfile
		if o.Op == "all" {
			path += "." + op
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		if lag != nil {
			lag.run(sctx, j.edits.Committed)
		}
	}()
	j.batches.reset()
	start := time.Now()
	err = runThreads(o.Threads, per, fn)
	elapsed := time.Since(start)
	if o.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	stopSampling()
	<-sampled
	if err != nil {
		return err
	}
	total := per * o.Threads
	fmt.Fprintf(out, "--- %s inputs ---\nnrFiles = %d\nnrThreads = %d\nnrFilesPerDir = %d\n", op, total, o.Threads, o.FilesPerDir)
	fmt.Fprintf(out, "--- %s stats  ---\n# operations: %d\nElapsed Time: %d\n Ops per sec: %.0f\nAverage Time: %.3f\n",
		op, total, elapsed.Milliseconds(), float64(total)/elapsed.Seconds(), float64(elapsed.Microseconds())/1000/float64(per))
	j.batches.report(out)
	if lag != nil {
		lag.report(out)
	}
	return nil
}

// runThreads runs fn(thread, i) for i in [0, per) on each of threads goroutines.
func runThreads(threads, per int, fn func(t, i int) error) error {
	var wg sync.WaitGroup
	var first atomic.Value
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := fn(t, i); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}

// oneBlockFiles builds a namespace of n closed one-block files through the
// replay path (no database), 100 per directory.
func oneBlockFiles(n int) (*namespace.Namespace, error) {
	ns := namespace.New(namespace.Config{Superuser: "bench"})
	txid := int64(0)
	next := namespace.RootInodeID
	apply := func(op namespace.Op) error {
		txid++
		return ns.Replay(txid, op)
	}
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			next++
			if err := apply(&namespace.Mkdir{InodeID: next, Path: fmt.Sprintf("/d%d", i/100), Owner: "bench", Group: "bench", Mode: 0o755, Mtime: 1}); err != nil {
				return nil, err
			}
		}
		next++
		p := fmt.Sprintf("/d%d/f%d", i/100, i%100)
		if err := apply(&namespace.Add{InodeID: next, Path: p, Replication: 3, Mtime: 1, Atime: 1, BlockSize: 128 << 20,
			Owner: "bench", Group: "bench", Mode: 0o644, ClientName: "c", ClientMachine: "h"}); err != nil {
			return nil, err
		}
		if err := apply(&namespace.Close{Path: p, Mtime: 2, Atime: 2, Blocks: []namespace.Block{{ID: namespace.FirstBlockID + int64(i), GenStamp: 1001, NumBytes: 1 << 20}}}); err != nil {
			return nil, err
		}
	}
	return ns, nil
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func heapPerFile(out io.Writer, n int) error {
	before := heapInUse()
	ns, err := oneBlockFiles(n)
	if err != nil {
		return err
	}
	after := heapInUse()
	files, dirs := ns.Counts()
	fmt.Fprintf(out, "--- heap ---\nfiles: %d (one block each), directories: %d\nheap: %d bytes\nheap bytes per file: %.1f\n",
		files, dirs, after-before, float64(after-before)/float64(files))
	runtime.KeepAlive(ns)
	return nil
}

func imageLoad(ctx context.Context, e *env, out io.Writer, n int) error {
	ns, err := oneBlockFiles(n)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	inodes, err := ns.WriteImage(&buf)
	if err != nil {
		return err
	}
	ns = nil
	url, err := e.database(ctx)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, url, 4)
	if err != nil {
		return err
	}
	defer st.Close()
	txid := int64(3 * n)
	if err := st.SaveImage(ctx, txid, buf.Bytes(), inodes); err != nil {
		return err
	}
	imageBytes := buf.Len()
	buf = bytes.Buffer{}
	cfg := namespace.Config{Superuser: "bench"}
	// Read, then decode (the figures apart) — and streamed: decoded while
	// read, as the service loads it. Alternately, 3 times each.
	var seq, streamed, reads, decodes []time.Duration
	var files, dirs int64
	for range 3 {
		runtime.GC()
		start := time.Now()
		data, err := st.ReadImage(ctx, txid)
		if err != nil {
			return err
		}
		reads = append(reads, time.Since(start))
		decodeStart := time.Now()
		loaded, err := namespace.LoadImage(cfg, data, nil)
		if err != nil {
			return err
		}
		decodes = append(decodes, time.Since(decodeStart))
		seq = append(seq, time.Since(start))
		files, dirs = loaded.Counts()
		loaded, data = nil, nil
		runtime.GC()
		start = time.Now()
		im, err := st.StreamImage(ctx, txid)
		if err != nil {
			return err
		}
		loaded, err = namespace.LoadImageFrom(cfg, im, nil)
		if err == nil {
			err = im.Err()
		}
		if err != nil {
			return err
		}
		streamed = append(streamed, time.Since(start))
		if f, d := loaded.Counts(); f != files || d != dirs {
			return fmt.Errorf("the streamed load has %d files and %d directories, the other %d and %d", f, d, files, dirs)
		}
	}
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	rate := func(d time.Duration) float64 { return float64(inodes) / d.Seconds() }
	fmt.Fprintf(out, "--- imageLoad (medians of 3 alternating loads each way) ---\ninodes: %d (files %d, directories %d), image bytes: %d\n"+
		"read from PostgreSQL: %v, decode: %v\nload rate (read, then decode): %.0f inodes/s\ndecode rate: %.0f inodes/s\n"+
		"streamed load (decoded while read, as the service loads): %v, %.0f inodes/s\n",
		inodes, files, dirs, imageBytes, med(reads).Round(time.Millisecond), med(decodes).Round(time.Millisecond),
		rate(med(seq)), rate(med(decodes)), med(streamed).Round(time.Millisecond), rate(med(streamed)))
	return nil
}
