// Package failbench measures metadata-service failover the way an operator
// meets it: two `granary metadata -namenode-id` processes of one
// nameservice on a PostgreSQL started from the machine's binaries, clients
// given both URLs making non-idempotent calls, and the active killed with
// SIGKILL at a random moment, run after run. It reports the takeover time
// of every run, the client operations that failed and the acknowledged
// operations missing afterwards (both must be 0). `granary bench failover`
// prints it; the HA test runs it three times.
package failbench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/localpg"
)

// Config is one measurement.
type Config struct {
	Bin     string // the granary binary the services run from
	Dir     string // scratch directory (PostgreSQL's data, service logs)
	Runs    int    // kills (default 3)
	Clients int    // concurrent clients (default 8)
	Log     io.Writer
}

// Run is one kill.
type Run struct {
	Takeover time.Duration // SIGKILL of the active → the other ready as active
	Ops      int64         // client operations during the run
}

// Report is the measurement.
type Report struct {
	Runs     []Run
	Ops      int64 // client operations acknowledged
	Errors   int64 // client operations that failed
	Lost     int   // acknowledged operations missing at the end
	Examples []string
}

// Takeovers returns the minimum, median and maximum takeover time.
func (r Report) Takeovers() (lo, med, hi time.Duration) {
	d := make([]time.Duration, len(r.Runs))
	for i, x := range r.Runs {
		d[i] = x.Takeover
	}
	slices.Sort(d)
	if len(d) == 0 {
		return 0, 0, 0
	}
	return d[0], d[len(d)/2], d[len(d)-1]
}

type service struct {
	id, url string
	args    []string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Measure runs cfg.Runs kills and reports.
func Measure(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Runs <= 0 {
		cfg.Runs = 3
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 8
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	var rep Report
	ports := make([]int, 3)
	for i := range ports {
		p, err := localpg.FreePort()
		if err != nil {
			return rep, err
		}
		ports[i] = p
	}
	pg, err := localpg.Start(ctx, filepath.Join(cfg.Dir, "pg"), ports[0])
	if err != nil {
		return rep, err
	}
	defer pg.Stop()
	svcs := make([]*service, 2)
	for i := range svcs {
		id := fmt.Sprintf("nn%d", i+1)
		addr := fmt.Sprintf("127.0.0.1:%d", ports[i+1])
		svcs[i] = &service{id: id, url: "http://" + addr, args: []string{"metadata", "-namenode-id", id,
			"-database-url", pg.URL("postgres"), "-nats-url", "", "-http-addr", addr, "-superuser", "hdfs",
			"-safemode-extension", "0", "-format-if-needed", "-log-level", "warn"}}
	}
	defer func() {
		for _, s := range svcs {
			s.kill()
		}
	}()
	for _, s := range svcs {
		if err := s.start(cfg.Bin, cfg.Dir); err != nil {
			return rep, err
		}
		if err := waitState(ctx, s, "", 60*time.Second); err != nil {
			return rep, err
		}
	}
	active, err := whichActive(ctx, svcs)
	if err != nil {
		return rep, err
	}

	l := NewLoad(svcs[0].url+","+svcs[1].url, cfg.Clients)
	lctx, stopLoad := context.WithCancel(ctx)
	loadDone := l.Start(lctx)
	defer func() { stopLoad(); <-loadDone }()
	for run := 0; run < cfg.Runs; run++ {
		other := svcs[1-slices.Index(svcs, active)]
		if err := waitState(ctx, other, "standby", 60*time.Second); err != nil {
			return rep, err
		}
		before := l.Ops()
		// A random moment under load.
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(300*time.Millisecond + time.Duration(rand.Int63n(int64(time.Second)))):
		}
		active.kill()
		killed := time.Now()
		if err := waitState(ctx, other, "active", 30*time.Second); err != nil {
			return rep, err
		}
		takeover := time.Since(killed)
		// The clients go on against the new active before the next run.
		mid := l.Ops()
		for l.Ops() < mid+int64(20*cfg.Clients) {
			if err := sleep(ctx, 10*time.Millisecond); err != nil {
				return rep, err
			}
		}
		rep.Runs = append(rep.Runs, Run{Takeover: takeover, Ops: l.Ops() - before})
		fmt.Fprintf(cfg.Log, "run %d: killed %s, %s active after %v\n", run+1, active.id, other.id, takeover.Round(time.Millisecond))
		if err := active.start(cfg.Bin, cfg.Dir); err != nil { // back as the standby of the next run
			return rep, err
		}
		active = other
	}
	stopLoad()
	<-loadDone
	rep.Ops, rep.Errors = l.Ops(), l.Errors()
	rep.Lost, err = l.Verify(ctx, active.url)
	rep.Examples = l.Examples
	return rep, err
}

// start runs s from the granary binary bin, its output in dir/<id>.log.
func (s *service) start(bin, dir string) error {
	logf, err := os.OpenFile(filepath.Join(dir, s.id+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.cmd = exec.Command(bin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	s.done = make(chan struct{})
	go func() { _ = s.cmd.Wait(); logf.Close(); close(s.done) }()
	return nil
}

func (s *service) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// state is "active" (ready), "standby", or "" when not answering.
func state(ctx context.Context, url string) string {
	switch code, body := readyz(ctx, url); {
	case code == http.StatusOK:
		return "active"
	case body == "standby":
		return "standby"
	}
	return ""
}

// waitState polls s until it is in want ("" = either state).
func waitState(ctx context.Context, s *service, want string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		st := state(ctx, s.url)
		if st != "" && (want == "" || st == want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not %q after %v (log: %s)", s.id, want, within, s.id+".log")
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
}

func whichActive(ctx context.Context, svcs []*service) (*service, error) {
	for _, s := range svcs {
		if state(ctx, s.url) == "active" {
			return s, nil
		}
	}
	return nil, errors.New("no metadata service is active")
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Load is the clients: each makes a directory, renames it, creates a file
// in it, and deletes every other one — creates, renames and deletes are
// not idempotent, so a retry applied twice would fail (a second rename or
// delete answers false, a second create AlreadyBeingCreated).
type Load struct {
	url     string
	clients int

	mu      sync.Mutex
	n, errs int64
	exist   map[string]bool // acknowledged: the path must exist (true) or not (false)
	// Examples are some failures and missing outcomes, for the report.
	Examples []string
}

// NewLoad returns clients of the metadata services at url (comma
// separated for HA).
func NewLoad(url string, clients int) *Load {
	return &Load{url: url, clients: clients, exist: map[string]bool{}}
}

// Ops is the number of acknowledged operations so far.
func (l *Load) Ops() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Errors is the number of failed operations so far.
func (l *Load) Errors() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs
}

// Start runs the clients until ctx ends; the channel closes when they
// have stopped.
func (l *Load) Start(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < l.clients; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.client(ctx, g)
		}()
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

func (l *Load) client(ctx context.Context, g int) {
	cl := client.New(l.url, "hdfs")
	for i := 0; ctx.Err() == nil; i++ {
		d := fmt.Sprintf("/failover/c%d/d%d", g, i)
		moved := d + "m"
		err := cl.Mkdirs(ctx, d, 0o755)
		if err == nil {
			var ok bool
			if ok, err = cl.Rename(ctx, d, moved); err == nil && !ok {
				err = errs.E(errs.IO, "rename %s answered false: applied twice?", d)
			}
		}
		if err == nil {
			var w *client.Writer
			if w, err = cl.Create(ctx, moved+"/f", client.CreateOptions{}); err == nil {
				err = w.Close()
			}
		}
		deleted := false
		if err == nil && i%2 == 1 {
			var ok bool
			if ok, err = cl.Delete(ctx, moved, true); err == nil && !ok {
				err = errs.E(errs.IO, "delete %s answered false: applied twice?", moved)
			}
			deleted = true
		}
		if ctx.Err() != nil {
			return // the load was stopped mid-round: not counted
		}
		l.mu.Lock()
		if err != nil {
			l.errs++
			if len(l.Examples) < 5 {
				l.Examples = append(l.Examples, err.Error())
			}
		} else {
			l.n += 3
			if deleted {
				l.n++
			}
			l.exist[moved+"/f"] = !deleted
			l.exist[d] = false
		}
		l.mu.Unlock()
	}
}

// Verify checks every acknowledged outcome on the metadata service at
// url, returning how many are missing (Examples names some).
func (l *Load) Verify(ctx context.Context, url string) (lost int, err error) {
	cl := client.New(url, "hdfs")
	for p, want := range l.exist {
		_, serr := cl.Stat(ctx, p)
		switch {
		case serr == nil && !want, errs.Is(serr, errs.FileNotFound) && want:
			lost++
			if len(l.Examples) < 10 {
				l.Examples = append(l.Examples, fmt.Sprintf("%s: exists=%v, acknowledged %v", p, serr == nil, want))
			}
		case serr != nil && !errs.Is(serr, errs.FileNotFound):
			return lost, serr
		}
	}
	return lost, nil
}

// Main is `granary bench failover`.
func Main(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("granary bench failover", flag.ContinueOnError)
	fs.SetOutput(out)
	runs := fs.Int("runs", 20, "kills of the active metadata service")
	clients := fs.Int("clients", 8, "concurrent clients (create, rename, delete)")
	coord := fs.Bool("coordinator", false, "instead, kill -9 the active coordinator of a nameservice and watch the new one's commands and transfers")
	watch := fs.Duration("watch", 30*time.Second, "-coordinator: how long to count the new active's transfers")
	files := fs.Int("files", 20, "-coordinator: files written before the failover")
	heartbeat := fs.Duration("heartbeat", 3*time.Second, "-coordinator: dfs.heartbeat.interval of the coordinators and datanodes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	if *coord {
		return coordinatorMain(ctx, CoordinatorConfig{Bin: bin, Files: *files, Watch: *watch, Heartbeat: *heartbeat}, out)
	}
	dir, err := os.MkdirTemp("", "granary-bench-failover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(out, "failover: %d kill -9 of the active metadata service (separate processes, PostgreSQL from the machine's binaries), %d clients\n", *runs, *clients)
	rep, err := Measure(ctx, Config{Bin: bin, Dir: dir, Runs: *runs, Clients: *clients, Log: out})
	if err != nil {
		return err
	}
	lo, med, hi := rep.Takeovers()
	fmt.Fprintf(out, "takeover: min %v, median %v, max %v\n", lo.Round(time.Millisecond), med.Round(time.Millisecond), hi.Round(time.Millisecond))
	fmt.Fprintf(out, "client operations: %d acknowledged, %d failed; acknowledged operations lost: %d\n", rep.Ops, rep.Errors, rep.Lost)
	for _, e := range rep.Examples {
		fmt.Fprintf(out, "  %s\n", e)
	}
	if rep.Errors > 0 || rep.Lost > 0 {
		return fmt.Errorf("failover lost operations or failed clients")
	}
	if hi > 5*time.Second {
		return fmt.Errorf("a takeover took longer than 5 s")
	}
	return nil
}
