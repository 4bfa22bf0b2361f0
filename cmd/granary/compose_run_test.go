package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/granary-fs/granary/internal/localpg"
	"github.com/granary-fs/granary/internal/proctest"
)

// TestComposeClusterAsProcesses runs every granary service of
// docker-compose.yml as a local process with the compose file's own
// command and environment — a real nats-server and a throwaway PostgreSQL
// stand in for the two images, the containers' host names are mapped to
// 127.0.0.1 and each volume to a folder, the published ports are kept —
// starting them in depends_on order and waiting on each health check
// command. Then the README's Docker example and a 10 MB write and read
// through granary fs (GRANARY_USE_DATANODE_HOSTNAME=true) must work. A flag
// or variable the compose file names that does not exist, or a cluster
// that does not form from it, fails the test.
func TestComposeClusterAsProcesses(t *testing.T) {
	project, _ := loadCompose(t)
	for _, port := range []string{"9870", "9880", "9864", "9865", "9866"} {
		if conn, err := http.Get("http://127.0.0.1:" + port + "/"); err == nil {
			conn.Body.Close()
			t.Fatalf("port %s is taken (a granary dev running?): the compose cluster publishes it", port)
		}
	}
	bin := proctest.Granary(t)
	dir := t.TempDir()

	// The two images the project does not build.
	ctx := context.Background()
	pg, err := localpg.Start(ctx, filepath.Join(dir, "postgres"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	if out, err := exec.Command(filepath.Join(mustBinDir(t), "psql"), "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-U", "granary", "-d", "postgres",
		"-c", "CREATE DATABASE granary").CombinedOutput(); err != nil {
		t.Fatalf("creating the compose file's database: %v: %s", err, out)
	}
	natsPort := freePortT(t)
	procs := proctest.NewGroup(t)
	procs.Start(t, "nats", proctest.NATSServer(t), "-a", "127.0.0.1", "-p", strconv.Itoa(natsPort))

	// Host names of the compose network → this machine; the ports of the
	// two stand-ins → where they listen here.
	ports := map[string]string{"postgres:5432": "127.0.0.1:" + strconv.Itoa(pg.Port), "nats:4222": "127.0.0.1:" + strconv.Itoa(natsPort)}
	var names []string
	for name := range project.Services {
		names = append(names, name)
	}
	// A host is a whole argument, or follows "//" or "@", and is followed by
	// a port, a path, a query or the end.
	hostRe := regexp.MustCompile(`(^|//|@)(` + strings.Join(names, "|") + `)(:\d+)?([/?]|$)`)
	local := func(s string) string {
		return hostRe.ReplaceAllStringFunc(s, func(m string) string {
			g := hostRe.FindStringSubmatch(m)
			host := "127.0.0.1" + g[3]
			if p, ok := ports[g[2]+g[3]]; ok {
				host = p
			}
			return g[1] + host + g[4]
		})
	}
	started := map[string]bool{"postgres": true, "nats": true}
	for len(started) < len(project.Services) {
		progress := false
		for _, name := range names {
			s := project.Services[name]
			if started[name] || !depsStarted(s, started) {
				continue
			}
			args := slices.Clone(s.Command)
			for i := 1; i < len(args); i++ { // args[0] is the granary command
				args[i] = local(args[i])
			}
			for _, v := range s.Volumes {
				d := filepath.Join(dir, "volumes", v.Source)
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
				for i, a := range args {
					if a == v.Target {
						args[i] = d
					}
				}
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = os.Environ()
			for k, v := range s.Environment {
				if v != nil {
					cmd.Env = append(cmd.Env, k+"="+local(*v))
				}
			}
			p := procs.StartCmd(t, name, cmd)
			waitHealthy(t, name, p, bin, s.HealthCheck)
			started[name] = true
			progress = true
		}
		if !progress {
			t.Fatalf("the compose file's depends_on cannot be satisfied: started %v", started)
		}
	}

	// The README's Docker example, as curl -L sends it.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", "http://localhost:9870/webhdfs/v1/tmp/f?op=CREATE&user.name=me", bytes.NewReader(readme))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("the README's Docker example: %s %s", resp.Status, body)
	}

	// 10 MB through granary fs, as a user on the host types it.
	big := make([]byte, 10<<20)
	rand.New(rand.NewSource(8)).Read(big)
	src := filepath.Join(dir, "big")
	if err := os.WriteFile(src, big, 0o644); err != nil {
		t.Fatal(err)
	}
	fsEnv := append(os.Environ(), "GRANARY_USE_DATANODE_HOSTNAME=true", "HADOOP_USER_NAME=me")
	put := exec.Command(bin, "fs", "-fs", "http://localhost:9870", "-put", src, "/tmp/big")
	put.Env = fsEnv
	if out, err := put.CombinedOutput(); err != nil {
		t.Fatalf("granary fs -put: %v: %s", err, out)
	}
	get := exec.Command(bin, "fs", "-fs", "http://localhost:9870", "-cat", "/tmp/big")
	get.Env = fsEnv
	var out, errb bytes.Buffer
	get.Stdout, get.Stderr = &out, &errb
	if err := get.Run(); err != nil || !bytes.Equal(out.Bytes(), big) {
		t.Fatalf("granary fs -cat read %d bytes (%v): %s", out.Len(), err, errb.String())
	}
}

func depsStarted(s types.ServiceConfig, started map[string]bool) bool {
	for dep := range s.DependsOn {
		if !started[dep] {
			return false
		}
	}
	return true
}

// waitHealthy runs the service's health check command (its granary
// binary: the one built here) until it passes.
func waitHealthy(t *testing.T, name string, p *proctest.Proc, bin string, hc *types.HealthCheckConfig) {
	t.Helper()
	if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" {
		t.Fatalf("%s: no CMD health check", name)
	}
	args := slices.Clone(hc.Test[2:])
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil {
			return
		}
		if !p.Running() {
			code, _ := p.Exit(0)
			t.Fatalf("%s exited (code %d) before it was healthy:\n%s", name, code, p.Tail(30))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy within 60s: %v %s\n%s", name, err, out, p.Tail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePortT(t *testing.T) int {
	t.Helper()
	p, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustBinDir(t *testing.T) string {
	t.Helper()
	d, err := localpg.BinDir()
	if err != nil {
		t.Fatal(fmt.Errorf("PostgreSQL's binaries: %w", err))
	}
	return d
}
