// Package iobench is `granary bench io` (modelled on HDFS's TestDFSIO) and
// `granary bench smallfiles` (modelled on `weed benchmark`). Both start a
// whole cluster in-process on this machine (PostgreSQL, NATS, metadata,
// coordinator, datanodes) and drive it through the Go client, the public
// interface the CLI uses. bench io also measures the same disk's raw
// sequential write and read speed in the same run, with the same sync
// policy as the datanodes (dfs.datanode.synconclose, false by default).
package iobench

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/devissuer"
	"github.com/granary-fs/granary/internal/httpceiling"
	"github.com/granary-fs/granary/internal/inlinehttp"
	"github.com/granary-fs/granary/internal/pgdb"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/datanode"
	"github.com/granary-fs/granary/services/metadata"
)

type env struct {
	dir    string
	c      *cluster.Cluster
	cl     *client.Client
	bearer string // token mode: the bench user's bearer token
	issuer *http.Server
	dropDB func() error // with -database-url: drops the run's database
}

// clusterOpts are the datanodes' dfs.datanode.synconclose,
// dfs.datanode.sync.behind.writes and dfs.datanode.drop.cache.behind.writes,
// and the metadata service's edit-log gathering (off with noGather).
type clusterOpts struct{ onClose, behindWrites, dropBehind, noGather bool }

// client is a client of the cluster as the bench user.
func (e *env) client() *client.Client {
	cl := client.New(e.c.MetadataURL, "bench")
	cl.SetBearer(e.bearer)
	return cl
}

// tokenMode starts a development OIDC issuer and returns the token-mode
// settings of every service and the bench user's token.
func tokenMode() (auth.Config, *http.Server, string, error) {
	iss, srv, err := devissuer.Start("127.0.0.1:0", nil, "granary")
	if err != nil {
		return auth.Config{}, nil, "", err
	}
	tok, err := iss.Token("bench")
	return auth.Config{Mode: auth.Token, OIDCIssuer: iss.URL, OIDCAudience: "granary"}, srv, tok, err
}

func start(ctx context.Context, dir, dbURL string, datanodes int, opts clusterOpts, token bool) (*env, error) {
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "granary-bench-"); err != nil {
			return nil, err
		}
	}
	addrs := make([]string, datanodes)
	for i := range addrs {
		addrs[i] = "127.0.0.1:0"
	}
	e := &env{dir: dir}
	if dbURL != "" {
		// Each run formats a namespace of its own in a database of its own
		// on that server: the last run's files, whose blocks went with its
		// datanodes, would hold this one in safe mode.
		var err error
		if dbURL, e.dropDB, err = pgdb.Create(ctx, dbURL, "granary_bench_"); err != nil {
			return nil, err
		}
	}
	var ac auth.Config
	if token {
		var err error
		if ac, e.issuer, e.bearer, err = tokenMode(); err != nil {
			e.closeDB()
			return nil, err
		}
	}
	c, err := cluster.Start(ctx, cluster.Config{
		DataDir: filepath.Join(dir, "cluster"), DatabaseURL: dbURL, MetadataAddr: "127.0.0.1:0", CoordinatorAddr: "127.0.0.1:0",
		NATSAddr: "127.0.0.1:0", Datanodes: datanodes, DatanodeAddrs: addrs,
		Logger: benchLogger(),
		Metadata: func(m *metadata.Config) {
			m.Superuser = "bench"
			m.SafeModeExtension = -1
			m.DBMaxConns = 32
			m.Auth = ac
			m.EditLogNoGather = opts.noGather
		},
		Coordinator: func(c *coordinator.Config) { c.Auth = ac },
		Datanode: func(i int, c *datanode.Config) {
			c.SyncOnClose, c.SyncBehindWrites, c.DropCacheBehindWrites, c.Auth = opts.onClose, opts.behindWrites, opts.dropBehind, ac
			// Every create, rename and delete of a replica file is timed:
			// what the file system's state adds to a write shows apart.
			c.FileIOProfilingPercentage = 100
		},
	})
	if err != nil {
		if e.issuer != nil {
			_ = e.issuer.Close()
		}
		e.closeDB()
		return nil, err
	}
	e.c = c
	e.cl = e.client()
	return e, nil
}

// authModes reads -auth: simple, token or both.
func authModes(v string) ([]bool, error) {
	switch v {
	case "simple":
		return []bool{false}, nil
	case "token":
		return []bool{true}, nil
	case "both":
		// Simple, token, token, simple: what the disk and the heap carry
		// from one run into the next weighs the same on both sides.
		return []bool{false, true, true, false}, nil
	}
	return nil, fmt.Errorf("-auth must be simple, token or both, not %q", v)
}

func modeName(token bool) string {
	if token {
		return "token mode (bearer JWT, block access tokens)"
	}
	return "simple mode"
}

func (e *env) close() {
	e.c.Stop()
	if e.issuer != nil {
		_ = e.issuer.Close()
	}
	e.closeDB()
	defer syscall.Sync() // the next run starts on a settled disk
	_ = os.RemoveAll(e.dir)
}

// closeDB drops the run's database on the server -database-url named.
func (e *env) closeDB() {
	if e.dropDB != nil {
		_ = e.dropDB()
	}
}

// IOMain is `granary bench io`.
func IOMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("granary bench io", flag.ContinueOnError)
	nrFiles := fs.Int("nrFiles", 2, "files written and read concurrently (TestDFSIO -nrFiles)")
	size := fs.Int64("fileSize", 512, "file size in MB (TestDFSIO -fileSize)")
	blockSize := fs.Int64("blockSize", 128, "block size in MB")
	dir := fs.String("dir", "", "where the cluster and the raw-disk file live (default: a temporary folder on the same disk as /tmp)")
	syncClose := fs.Bool("synconclose", false, "fsync replicas (and the raw file) on close")
	syncBehind := fs.Bool("syncbehindwrites", false, "the datanodes hand each replica's data to the disk every 8 MB as it arrives (dfs.datanode.sync.behind.writes)")
	dropBehind := fs.Bool("dropbehindwrites", false, "the datanodes drop each replica's data from the page cache 8 MB behind the write-back (dfs.datanode.drop.cache.behind.writes)")
	dbURL := fs.String("database-url", os.Getenv("GRANARY_DATABASE_URL"), "PostgreSQL server to create each run's database on (dropped after it) instead of starting one")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the Granary part of the run to this file")
	drop := fs.Bool("dropcaches", true, "sync and drop the page cache before each phase (needs root), so phases do not slow each other and reads come from the disk on both sides")
	authMode := fs.String("auth", "simple", "simple, token, or both (side by side: what token mode costs)")
	rounds := fs.Int("rounds", 3, "rounds of raw disk then Granary; the medians are the figures")
	if err := fs.Parse(args); err != nil {
		return err
	}
	modes, err := authModes(*authMode)
	if err != nil {
		return err
	}
	if *dir == "" {
		if *dir, err = os.MkdirTemp("", "granary-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(*dir)
	}
	buf := make([]byte, 1<<20)
	_, _ = rand.Read(buf)

	// Every phase starts on a settled page cache: dirty pages written back
	// and the cache dropped (where permitted), so that one phase's
	// write-back does not slow the next and reads come from the disk on
	// both sides.
	settle := func() { syscall.Sync() }
	cacheNote := "page cache dropped before each phase"
	if *drop {
		if err := dropCaches(); err != nil {
			cacheNote = "page cache NOT dropped (" + err.Error() + "): reads may come from memory"
		} else {
			settle = func() { syscall.Sync(); _ = dropCaches() }
		}
	} else {
		cacheNote = "page cache not dropped: reads may come from memory"
	}
	if *cpuProfile != "" {
		if err := startProfile(*cpuProfile); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(out, "raw disk and Granary alternate, %d rounds (same folder, %d files in parallel, on both sides synconclose=%v, sync.behind.writes=%v and drop.cache.behind.writes=%v, %s)\n", *rounds, *nrFiles, *syncClose, *syncBehind, *dropBehind, cacheNote)
	// [token][raw, replication 1, replication 3][write, read]: each round's figure.
	var figs [2][3][2][]float64
	for _, token := range modes {
		e, err := start(ctx, filepath.Join(*dir, modeDir(token)), *dbURL, 3, clusterOpts{onClose: *syncClose, behindWrites: *syncBehind, dropBehind: *dropBehind}, token)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "===== %s =====\n", modeName(token))
		for round := 1; round <= *rounds; round++ {
			settle()
			rawW, rawR, err := rawDisk(filepath.Join(*dir, "raw"), *nrFiles, *size<<20, buf, rawPolicy{*syncClose, *syncBehind, *dropBehind}, settle)
			if err != nil {
				e.close()
				return err
			}
			fmt.Fprintf(out, "round %d: raw disk write %.1f MB/s, read %.1f MB/s\n", round, rawW, rawR)
			var r [2][2]float64
			if err := ioRuns(ctx, e, out, *nrFiles, *size, *blockSize, buf, rawW, rawR, settle, &r); err != nil {
				e.close()
				return err
			}
			t := b2i(token)
			figs[t][0][0], figs[t][0][1] = append(figs[t][0][0], rawW), append(figs[t][0][1], rawR)
			for i := range r {
				for j := range r[i] {
					figs[t][i+1][j] = append(figs[t][i+1][j], r[i][j])
				}
			}
		}
		e.close()
		t := b2i(token)
		rawW, rawR := median(figs[t][0][0]), median(figs[t][0][1])
		fmt.Fprintf(out, "----- medians of %d rounds (%s) -----\nraw disk: write %.1f MB/s, read %.1f MB/s\n", *rounds, modeName(token), rawW, rawR)
		for i, repl := range []int{1, 3} {
			w, rd := median(figs[t][i+1][0]), median(figs[t][i+1][1])
			base := rawW / float64(repl)
			fmt.Fprintf(out, "replication %d: write %.1f MB/s (%.0f%% of raw write%s), read %.1f MB/s (%.0f%% of raw read)\n",
				repl, w, 100*w/base, map[bool]string{true: " ÷ 3", false: ""}[repl == 3], rd, 100*rd/rawR)
		}
	}
	if len(modes) > 1 {
		fmt.Fprintf(out, "----- token mode against simple mode (medians) -----\n")
		for i, repl := range []int{1, 3} {
			tw, sw := median(figs[1][i+1][0]), median(figs[0][i+1][0])
			tr, sr := median(figs[1][i+1][1]), median(figs[0][i+1][1])
			fmt.Fprintf(out, "replication %d: write %.1f vs %.1f MB/s (%+.1f%%), read %.1f vs %.1f MB/s (%+.1f%%)\n", repl, tw, sw, pct(tw, sw), tr, sr, pct(tr, sr))
		}
	}
	return nil
}

// median returns the median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func modeDir(token bool) string { return map[bool]string{false: "simple", true: "token"}[token] }

// pct is how much a differs from b, in percent of b.
func pct(a, b float64) float64 { return 100 * (a - b) / b }

// ioRuns is TestDFSIO's write and read at replication 1 and 3 on one cluster.
func ioRuns(ctx context.Context, e *env, out io.Writer, nrFiles int, size, blockSize int64, buf []byte, rawW, rawR float64, settle func(), rates *[2][2]float64) error {
	total := int64(nrFiles) * size << 20
	for ri, repl := range []int{1, 3} {
		settle()
		var written atomic.Int64
		writes0, syncs0 := e.fileIO("write"), e.fileIO("sync")
		start, cpu0, mcpu0 := time.Now(), processCPU(), machineCPU()
		err := parallel(nrFiles, func(i int) error {
			w, err := e.cl.Create(ctx, fmt.Sprintf("/benchmarks/TestDFSIO/r%d/io_data/test_io_%d", repl, i),
				client.CreateOptions{Replication: repl, BlockSize: blockSize << 20, Overwrite: true})
			if err != nil {
				return err
			}
			for n := int64(0); n < size<<20; n += int64(len(buf)) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				written.Add(int64(len(buf)))
			}
			return w.Close()
		})
		if err != nil {
			return err
		}
		wMBs := mbps(total, time.Since(start))
		wCPU := (processCPU() - cpu0) / time.Duration(total>>20)
		wMachine := (machineCPU() - mcpu0) / time.Duration(total>>20)
		stored := time.Duration(int64(repl) * total >> 20) // MB the datanodes stored
		writes, syncs := e.fileIO("write").minus(writes0), e.fileIO("sync").minus(syncs0)
		settle()
		start, cpu0, mcpu0 = time.Now(), processCPU(), machineCPU()
		var read atomic.Int64
		err = parallel(nrFiles, func(i int) error {
			r, err := e.cl.Open(ctx, fmt.Sprintf("/benchmarks/TestDFSIO/r%d/io_data/test_io_%d", repl, i))
			if err != nil {
				return err
			}
			defer r.Close()
			n, err := io.CopyBuffer(io.Discard, r, make([]byte, 1<<20))
			read.Add(n)
			return err
		})
		if err != nil {
			return err
		}
		if read.Load() != total {
			return fmt.Errorf("read %d bytes, wrote %d", read.Load(), total)
		}
		rMBs := mbps(total, time.Since(start))
		rCPU := (processCPU() - cpu0) / time.Duration(total>>20)
		rMachine := (machineCPU() - mcpu0) / time.Duration(total>>20)
		rates[ri] = [2]float64{wMBs, rMBs}
		fmt.Fprintf(out, "----- TestDFSIO ----- : replication %d\n           Number of files: %d\n    Total MBytes processed: %d\n  write throughput MB/sec: %.1f (%.0f%% of raw write%s; CPU per MB in this process %v, on the machine %v)\n   read throughput MB/sec: %.1f (%.0f%% of raw read; CPU per MB in this process %v, on the machine %v)\n",
			repl, nrFiles, total>>20, wMBs, 100*wMBs/rawW, map[bool]string{true: fmt.Sprintf("; %.0f%% of raw write ÷ 3", 300*wMBs/rawW), false: ""}[repl == 3], wCPU.Round(time.Microsecond), wMachine.Round(time.Microsecond), rMBs, 100*rMBs/rawR, rCPU.Round(time.Microsecond), rMachine.Round(time.Microsecond))
		fmt.Fprintf(out, "  per MB the datanodes stored: their write calls took %v, their syncs (sync_file_range, fsync) %v (latencies summed)\n",
			(writes.d / stored).Round(time.Microsecond), (syncs.d / stored).Round(time.Microsecond))
	}
	return nil
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

func parallel(n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// cacheLag is the datanodes' storage.CacheLagBytes: how much written data
// goes between two calls of their page-cache management (HDFS's
// CACHE_DROP_LAG_BYTES).
const cacheLag = 8 << 20

// rawPolicy is the datanodes' sync policy, which the raw files follow too:
// what the raw write measures is the disk with the same calls around it.
type rawPolicy struct{ syncClose, behindWrites, dropBehind bool }

// manageCache does for a raw file what a datanode does for a replica every
// cacheLag bytes (storage's ReplicaWriter.manageCache, HDFS's
// manageWriterOsCache): with behindWrites it starts the write-back of the
// bytes from managed to n (sync_file_range), with dropBehind it drops the
// pages up to cacheLag before managed from the page cache.
func (p rawPolicy) manageCache(f *os.File, managed, n int64) error {
	fd := int(f.Fd())
	if p.behindWrites {
		if err := syncFileRange(fd, managed, n-managed, unix.SYNC_FILE_RANGE_WRITE); err != nil && err != unix.ENOSYS {
			return fmt.Errorf("sync_file_range: %w", err)
		}
	}
	if drop := managed - cacheLag; p.dropBehind && drop > 0 {
		_ = fadvise(fd, 0, drop, unix.FADV_DONTNEED)
	}
	return nil
}

// syncFileRange and fadvise are the calls manageCache makes; variables
// for tests.
var (
	syncFileRange = unix.SyncFileRange
	fadvise       = unix.Fadvise
)

// rawDisk writes and reads n files of size bytes in dir, in parallel, with
// the datanodes' sync policy p.
func rawDisk(dir string, n int, size int64, buf []byte, p rawPolicy, beforeRead func()) (float64, float64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	err := parallel(n, func(i int) error {
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			return err
		}
		var managed int64 // written and handed to manageCache
		for w := int64(0); w < size; w += int64(len(buf)) {
			if _, err := f.Write(buf); err != nil {
				f.Close()
				return err
			}
			if n := w + int64(len(buf)); n-managed >= cacheLag {
				if err := p.manageCache(f, managed, n); err != nil {
					f.Close()
					return err
				}
				managed = n
			}
		}
		if p.syncClose {
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
		}
		return f.Close()
	})
	if err != nil {
		return 0, 0, err
	}
	w := mbps(int64(n)*size, time.Since(start))
	beforeRead()
	start = time.Now()
	err = parallel(n, func(i int) error {
		f, err := os.Open(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyBuffer(io.Discard, f, make([]byte, 1<<20))
		return err
	})
	return w, mbps(int64(n)*size, time.Since(start)), err
}

// SmallFilesMain is `granary bench smallfiles`.
func SmallFilesMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("granary bench smallfiles", flag.ContinueOnError)
	n := fs.Int("files", 20000, "files to write, then read")
	clients := fs.Int("clients", 16, "concurrent clients")
	size := fs.Int("size", 1024, "bytes per file")
	dir := fs.String("dir", "", "where the cluster lives (default: a temporary folder)")
	dbURL := fs.String("database-url", os.Getenv("GRANARY_DATABASE_URL"), "PostgreSQL server to create each run's database on (dropped after it) instead of starting one")
	cpuProfile := fs.String("cpuprofile", "", "write CPU profiles of the run's write and read phases to this path with .<mode>.write and .<mode>.read appended")
	memProfile := fs.String("memprofile", "", "write the allocations so far before the write phase and at the end of the write and read phases to this path with .<mode>.start, .<mode>.write and .<mode>.read appended (a phase's own: go tool pprof -base <path>.<mode>.start <path>.<mode>.write)")
	authMode := fs.String("auth", "simple", "simple, token, or both (side by side: what token mode costs)")
	reads := fs.Int("reads", 1, "times each file is read (hot files: later reads find their locations and files kept)")
	replication := fs.Int("replication", 1, "replicas of each file (1 to 3: the benchmark's cluster has three datanodes)")
	noGather := fs.Bool("nogather", false, "the metadata service commits each edit-log batch as soon as the last one is (metadata -edit-log-gather=false), to compare")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *reads < 1 {
		return fmt.Errorf("-reads must be at least 1")
	}
	if *replication < 1 || *replication > 3 {
		return fmt.Errorf("-replication must be 1, 2 or 3")
	}
	modes, err := authModes(*authMode)
	if err != nil {
		return err
	}
	// The ceilings are measured first, on an idle machine: net/http's
	// client and the Go client's own transport, each against net/http's
	// server.
	ceiling, err := httpceiling.Measure(*clients, 2*time.Second, nil)
	if err != nil {
		return err
	}
	inlineCeiling, err := httpceiling.Measure(*clients, 2*time.Second, func(tr *http.Transport) http.RoundTripper {
		return &inlinehttp.Transport{Fallback: tr, MaxIdleConnsPerHost: *clients}
	})
	if err != nil {
		return err
	}
	if *dir == "" {
		if *dir, err = os.MkdirTemp("", "granary-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(*dir)
	}
	var res [2]smallResult
	for round, token := range modes {
		o := smallOpts{files: *n, clients: *clients, size: *size, reads: *reads, replication: *replication, noGather: *noGather}
		r, err := smallRun(ctx, filepath.Join(*dir, fmt.Sprintf("%s%d", modeDir(token), round)), *dbURL, token, o, profiles{cpu: *cpuProfile, mem: *memProfile})
		if err != nil {
			return err
		}
		res[b2i(token)].add(r)
		fmt.Fprintf(out, "----- small files, %s: %d files of %d bytes, replication %d, %d concurrent clients (Go client), each read %d time(s) -----\nwrite: %.0f files/s (%v)\nread:  %.0f files/s (%v)\n",
			modeName(token), r.files, *size, *replication, *clients, *reads, r.wRate, r.wd.Round(time.Millisecond), r.rRate, r.rd.Round(time.Millisecond))
		fmt.Fprintf(out, "CPU per file in this process (every service, NATS and the clients; PostgreSQL apart): write %v, read %v\n",
			r.wCPU.Round(time.Microsecond), r.rCPU.Round(time.Microsecond))
		fmt.Fprintf(out, "of a write, the datanodes' %.1f creates, renames, links and deletes of replica files took %v, their latencies summed (16 writers share three volumes; ext4 without a journal takes far longer for minutes after many files were deleted)\n",
			r.wFileOps, r.wFileOpTime.Round(time.Microsecond))
		fmt.Fprintf(out, "NATS messages per file (requests, replies and announcements, every service's): write %.2f, read %.2f\n", r.wMsgs, r.rMsgs)
		fmt.Fprintf(out, "block look-ups (readers', and completes' replica counts) answered from the metadata service's kept locations: %d, from the coordinator: %d\n", r.locHits, r.locMisses)
	}
	if len(modes) > 1 {
		res[0].mean()
		res[1].mean()
		fmt.Fprintf(out, "----- token mode against simple mode (means of %d runs each, alternated) -----\nwrite: %.0f vs %.0f files/s (%+.1f%%), CPU per file %v vs %v (%+.1f%%)\nread:  %.0f vs %.0f files/s (%+.1f%%), CPU per file %v vs %v (%+.1f%%)\n",
			len(modes)/2, res[1].wRate, res[0].wRate, pct(res[1].wRate, res[0].wRate), res[1].wCPU.Round(time.Microsecond), res[0].wCPU.Round(time.Microsecond), pct(float64(res[1].wCPU), float64(res[0].wCPU)),
			res[1].rRate, res[0].rRate, pct(res[1].rRate, res[0].rRate), res[1].rCPU.Round(time.Microsecond), res[0].rCPU.Round(time.Microsecond), pct(float64(res[1].rCPU), float64(res[0].rCPU)))
	}
	fmt.Fprintf(out, "this machine's net/http ceiling: %.0f round trips/s (empty handler, %d keep-alive clients); with the Go client's transport (inlinehttp): %.0f\n"+
		"  a write needs >= 3 (create with its first block, block PUT, complete): <= %.0f files/s doing nothing else\n"+
		"  a read needs >= 2 (getBlockLocations, block GET): <= %.0f files/s doing nothing else\n",
		ceiling, *clients, inlineCeiling, inlineCeiling/3, inlineCeiling/2)
	return nil
}

// smallResult is one small-files run.
type smallResult struct {
	files        int
	wd, rd       time.Duration
	wRate, rRate float64       // files/s
	wCPU, rCPU   time.Duration // per file
	// locHits, locMisses: readers' look-ups the metadata service answered
	// from its kept locations, and those that asked the coordinator.
	locHits, locMisses int64
	// wFileOps, wFileOpTime: the datanodes' creates, renames and deletes of
	// replica files per file written, and their time.
	wFileOps    float64
	wFileOpTime time.Duration
	// wMsgs, rMsgs: messages sent to NATS per file written and read.
	wMsgs, rMsgs float64
	runs         int
}

// add sums r into s (mean divides).
func (s *smallResult) add(r smallResult) {
	s.files = r.files
	s.wd, s.rd, s.wRate, s.rRate, s.wCPU, s.rCPU = s.wd+r.wd, s.rd+r.rd, s.wRate+r.wRate, s.rRate+r.rRate, s.wCPU+r.wCPU, s.rCPU+r.rCPU
	s.runs++
}

func (s *smallResult) mean() {
	if s.runs > 1 {
		n := float64(s.runs)
		s.wRate, s.rRate = s.wRate/n, s.rRate/n
		s.wd, s.rd, s.wCPU, s.rCPU = s.wd/time.Duration(s.runs), s.rd/time.Duration(s.runs), s.wCPU/time.Duration(s.runs), s.rCPU/time.Duration(s.runs)
		s.runs = 1
	}
}

// profiles are the paths the profiles of a small-files run go to ("": none).
type profiles struct{ cpu, mem string }

// smallRun writes and reads the small files on a new cluster.
// smallOpts are a small-files run's settings.
type smallOpts struct {
	files, clients, size, reads, replication int
	noGather                                 bool
}

func smallRun(ctx context.Context, dir, dbURL string, token bool, o smallOpts, prof profiles) (smallResult, error) {
	clients, size, reads := o.clients, o.size, o.reads
	e, err := start(ctx, dir, dbURL, 3, clusterOpts{noGather: o.noGather}, token)
	if err != nil {
		return smallResult{}, err
	}
	defer e.close()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	per := o.files / clients
	// Profiles per phase: <path>.<mode>.write and .read; the allocations
	// at .start too.
	suffix := func(phase string) string { return "." + modeDir(token) + "." + phase }
	allocs := func(phase string) error {
		if prof.mem == "" {
			return nil
		}
		return writeAllocs(prof.mem + suffix(phase))
	}
	profile := func(phase string) (stop func() error, err error) {
		stopCPU := func() {}
		if prof.cpu != "" {
			if err := startProfile(prof.cpu + suffix(phase)); err != nil {
				return nil, err
			}
			stopCPU = pprof.StopCPUProfile
		}
		return func() error {
			stopCPU()
			return allocs(phase)
		}, nil
	}
	// The allocations before the write phase (the cluster's start, the
	// ceilings measured first), to take away: -base.
	if err := allocs("start"); err != nil {
		return smallResult{}, err
	}
	stopProfile, err := profile("write")
	if err != nil {
		return smallResult{}, err
	}
	name := func(c, i int) string { return fmt.Sprintf("/bench/small/c%d/d%d/f%d", c, i/100, i%100) }
	fileOps0 := e.fileIO("metadata")
	msgs0 := e.natsMessages()
	cpu0 := processCPU()
	start := time.Now()
	err = parallel(clients, func(c int) error {
		cl := e.client()
		for i := 0; i < per; i++ {
			w, err := cl.Create(ctx, name(c, i), client.CreateOptions{Replication: o.replication, Overwrite: true})
			if err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return smallResult{}, err
	}
	wd := time.Since(start)
	wCPU := processCPU() - cpu0
	fileOps := e.fileIO("metadata").minus(fileOps0)
	msgs1 := e.natsMessages()
	if err := stopProfile(); err != nil {
		return smallResult{}, err
	}
	if stopProfile, err = profile("read"); err != nil {
		return smallResult{}, err
	}
	cpu0 = processCPU()
	start = time.Now()
	err = parallel(clients, func(c int) error {
		cl := e.client()
		buf := make([]byte, size+1)
		for i := 0; i < per*reads; i++ {
			r, err := cl.Open(ctx, name(c, i%per))
			if err != nil {
				return err
			}
			k, err := io.ReadFull(r, buf)
			r.Close()
			if err != io.ErrUnexpectedEOF || k != size {
				return fmt.Errorf("read %d bytes of %s: %v", k, name(c, i%per), err)
			}
		}
		return nil
	})
	if err != nil {
		return smallResult{}, err
	}
	rd := time.Since(start)
	rCPU := processCPU() - cpu0
	msgs2 := e.natsMessages()
	if err := stopProfile(); err != nil {
		return smallResult{}, err
	}
	hits, misses := e.c.Metadata.LocationCacheStats()
	total, read := per*clients, per*clients*reads
	return smallResult{files: total, wd: wd, rd: rd, wRate: float64(total) / wd.Seconds(), rRate: float64(read) / rd.Seconds(),
		wCPU: wCPU / time.Duration(total), rCPU: rCPU / time.Duration(read), locHits: hits, locMisses: misses,
		wFileOps: fileOps.n / float64(total), wFileOpTime: fileOps.d / time.Duration(total),
		wMsgs: float64(msgs1-msgs0) / float64(total), rMsgs: float64(msgs2-msgs1) / float64(read)}, nil
}

// natsMessages counts the messages the cluster's NATS servers were sent
// (each request and each reply is one).
func (e *env) natsMessages() int64 {
	var n int64
	for _, ns := range e.c.NATSServers() {
		if v, err := ns.Varz(nil); err == nil {
			n += v.InMsgs
		}
	}
	return n
}

// fileOpTotals are profiled operations of the datanodes on replica files
// and their time, latencies summed.
type fileOpTotals struct {
	n float64
	d time.Duration
}

func (a fileOpTotals) minus(b fileOpTotals) fileOpTotals { return fileOpTotals{a.n - b.n, a.d - b.d} }

// fileIO sums the profiled operations of kind op of every datanode.
func (e *env) fileIO(op string) fileOpTotals {
	var t fileOpTotals
	for _, dn := range e.c.Datanodes {
		if dn != nil {
			n, d := dn.FileIO(op)
			t.n, t.d = t.n+float64(n), t.d+d
		}
	}
	return t
}

// processCPU is the CPU time this process has used so far (all threads).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the CPU time the whole machine spent busy, every process
// and the kernel's own threads (write-back, softirqs) included, from
// /proc/stat; 0 where it cannot be read. It counts in ticks of 10 ms per
// core: over a phase shorter than a few seconds, a rough figure.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

// benchLogger discards logs unless GRANARY_BENCH_LOG is set.
func benchLogger() *slog.Logger {
	if os.Getenv("GRANARY_BENCH_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startProfile starts a CPU profile into path.
func startProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return pprof.StartCPUProfile(f)
}

// writeAllocs writes the allocations made so far (pprof's allocs profile)
// into path.
func writeAllocs(path string) error {
	// The profile stands as of the last collection, which the services'
	// heap floor makes rare: one now brings it up to date.
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// dropCaches writes dirty pages back and drops the page cache (root only).
func dropCaches() error {
	syscall.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o644)
}
