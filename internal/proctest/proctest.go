// Package proctest runs Granary's services as separate processes for the
// fault tests: it builds the granary binary and a nats-server once per test
// binary, starts processes, kills them with SIGKILL and waits for their
// exit codes. Output goes to a log file per process (and to stderr with
// GRANARY_TEST_LOG=1); a failing test prints its last lines.
//
// It is for tests only and never stubs a service: every process is the
// real program, started as a user starts it.
package proctest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var builds struct {
	sync.Mutex
	dir   string
	paths map[string]string
}

// build builds pkg once per test binary and returns the executable's path.
func build(t testing.TB, name, pkg string) string {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	if p, ok := builds.paths[name]; ok {
		return p
	}
	if builds.dir == "" {
		d, err := os.MkdirTemp("", "granary-bin-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir, builds.paths = d, map[string]string{}
	}
	p := filepath.Join(builds.dir, name)
	if out, err := exec.Command("go", "build", "-o", p, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v: %s", pkg, err, out)
	}
	builds.paths[name] = p
	return p
}

// Granary returns the path of the granary binary, built from this tree.
func Granary(t testing.TB) string {
	return build(t, "granary", "github.com/granary-fs/granary/cmd/granary")
}

// NATSServer returns the path of a real nats-server, built from the module
// the project already depends on.
func NATSServer(t testing.TB) string {
	return build(t, "nats-server", "github.com/nats-io/nats-server/v2")
}

// Proc is one running process.
type Proc struct {
	Name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// Group owns processes that outlive the subtest that started them (a
// restarted service): they are killed when the test that made the group
// ends.
type Group struct {
	mu    sync.Mutex
	procs []*Proc
}

// NewGroup returns a group whose processes are killed when t ends; if t
// failed, each one's last lines are logged.
func NewGroup(t testing.TB) *Group {
	g := &Group{}
	t.Cleanup(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, p := range g.procs {
			p.Kill9()
			if t.Failed() {
				t.Logf("last lines of %s:\n%s", p.Name, p.Tail(40))
			}
			os.Remove(p.logPath)
		}
	})
	return g
}

// Start starts bin with args as a process named name, owned by the group
// (t reports a failure to start).
func (g *Group) Start(t testing.TB, name, bin string, args ...string) *Proc {
	t.Helper()
	return g.StartCmd(t, name, exec.Command(bin, args...))
}

// StartCmd starts cmd (its environment and folder as set) as a process
// named name, owned by the group.
func (g *Group) StartCmd(t testing.TB, name string, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := startCmd(t, name, cmd)
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	return p
}

func startCmd(t testing.TB, name string, cmd *exec.Cmd) *Proc {
	t.Helper()
	logf, err := os.CreateTemp("", "granary-proc-"+strings.ReplaceAll(name, "/", "-")+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{Name: name, cmd: cmd, logPath: logf.Name(), done: make(chan struct{})}
	var out io.Writer = logf
	if os.Getenv("GRANARY_TEST_LOG") != "" {
		out = io.MultiWriter(logf, prefixed{name: name, w: os.Stderr})
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p
}

// Kill9 kills the process with SIGKILL and waits for it to be gone.
func (p *Proc) Kill9() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// PID is the process's ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Running reports whether the process has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exit waits up to within for the process to exit by itself and returns
// its exit code (-1 when a signal ended it); ok is false when it still
// runs.
func (p *Proc) Exit(within time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
	case <-time.After(within):
		return 0, false
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0, true
	case errors.As(p.err, &ee):
		return ee.ExitCode(), true
	}
	return -1, true
}

// Tail returns the last n lines the process wrote.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

type prefixed struct {
	name string
	w    io.Writer
}

func (p prefixed) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			fmt.Fprintf(p.w, "[%s] %s", p.name, line)
		}
	}
	return len(b), nil
}

// Signal sends sig to the process (SIGQUIT makes a Go program print every
// goroutine's stack before it exits).
func (p *Proc) Signal(sig os.Signal) { _ = p.cmd.Process.Signal(sig) }
