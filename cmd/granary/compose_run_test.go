package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
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
	"github.com/granary-fs/granary/internal/tlsconf"
)

// TestComposeClusterAsProcesses runs every granary service of
// docker-compose.yml as a local process with the compose file's own
// command and environment — a real nats-server (with the compose file's
// arguments: the secured config the secrets service wrote) and a throwaway
// PostgreSQL stand in for the two images, the containers' host names are
// mapped to 127.0.0.1 and each volume to a folder, the published ports are
// kept — starting them in depends_on order, waiting for the one-shot
// secrets service to finish and on each health check command. Then the
// README's Docker example (a token from the issuer, an HTTPS CREATE) and a
// 10 MB write and read through granary fs (swebhdfs://, GRANARY_TOKEN,
// GRANARY_TLS_CA, GRANARY_USE_DATANODE_HOSTNAME=true) must work. A flag or
// variable the compose file names that does not exist, or a cluster that
// does not form from it, fails the test.
func TestComposeClusterAsProcesses(t *testing.T) {
	project, _ := loadCompose(t)
	for _, port := range []string{"9870", "9871", "9880", "9864", "9865", "9866"} {
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
	// A volume is a folder here: an argument or a variable naming its
	// mount point, or a path below it, names the folder.
	volumes := func(s types.ServiceConfig, v string) string {
		for _, m := range s.Volumes {
			d := filepath.Join(dir, "volumes", m.Source)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if v == m.Target || strings.HasPrefix(v, m.Target+"/") {
				return d + strings.TrimPrefix(v, m.Target)
			}
		}
		return v
	}
	started := map[string]bool{"postgres": true}
	for len(started) < len(project.Services) {
		progress := false
		for _, name := range names {
			s := project.Services[name]
			if started[name] || !depsStarted(s, started) {
				continue
			}
			args := slices.Clone(s.Command)
			for i := range args {
				args[i] = volumes(s, args[i])
				if i > 0 { // args[0] is the granary command
					args[i] = local(args[i])
				}
			}
			if name == "nats" {
				// The image's server: the compose file's arguments, on
				// this machine's address and port, without monitoring.
				p := procs.StartCmd(t, name, exec.Command(proctest.NATSServer(t), append(args, "-a", "127.0.0.1", "-p", strconv.Itoa(natsPort), "-m", "0")...))
				waitNATS(t, p, natsPort)
				started[name] = true
				progress = true
				continue
			}
			cmd := exec.Command(bin, args...)
			cmd.Env = os.Environ()
			for k, v := range s.Environment {
				if v != nil {
					cmd.Env = append(cmd.Env, k+"="+local(volumes(s, *v)))
				}
			}
			p := procs.StartCmd(t, name, cmd)
			if s.HealthCheck == nil {
				// A one-shot service (secrets): it must end, successfully.
				if code, ok := p.Exit(60 * time.Second); !ok || code != 0 {
					t.Fatalf("%s: exit %d (ended: %v)\n%s", name, code, ok, p.Tail(20))
				}
			} else {
				waitHealthy(t, name, p, bin, s.HealthCheck, cmd.Env)
			}
			started[name] = true
			progress = true
		}
		if !progress {
			t.Fatalf("the compose file's depends_on cannot be satisfied: started %v", started)
		}
	}

	// The README's Docker example, as curl -L sends it: the CA out of the
	// secrets volume, a token from the issuer, an HTTPS CREATE.
	ca := filepath.Join(dir, "volumes", "secrets", "tls", "ca.pem")
	pool, err := tlsconf.Pool(ca)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.PostForm("https://localhost:9871/token", url.Values{"username": {"me"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("a token from the issuer: %v", err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", "https://localhost:9870/webhdfs/v1/tmp/f?op=CREATE", bytes.NewReader(readme))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = hc.Do(req)
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
	fsEnv := append(os.Environ(), "GRANARY_USE_DATANODE_HOSTNAME=true", "GRANARY_TOKEN="+tok.AccessToken, "GRANARY_TLS_CA="+ca)
	put := exec.Command(bin, "fs", "-fs", "swebhdfs://localhost:9870", "-put", src, "/tmp/big")
	put.Env = fsEnv
	if out, err := put.CombinedOutput(); err != nil {
		t.Fatalf("granary fs -put: %v: %s", err, out)
	}
	get := exec.Command(bin, "fs", "-fs", "swebhdfs://localhost:9870", "-cat", "/tmp/big")
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
// binary: the one built here), in the service's environment as Docker runs
// it inside the container, until it passes.
func waitHealthy(t *testing.T, name string, p *proctest.Proc, bin string, hc *types.HealthCheckConfig, env []string) {
	t.Helper()
	if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" {
		t.Fatalf("%s: no CMD health check", name)
	}
	args := slices.Clone(hc.Test[2:])
	deadline := time.Now().Add(60 * time.Second)
	for {
		check := exec.Command(bin, args...)
		check.Env = env
		out, err := check.CombinedOutput()
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

// waitNATS waits until the NATS server answers on port (refusing a client
// without credentials counts: it is up).
func waitNATS(t *testing.T, p *proctest.Proc, port int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if !p.Running() || time.Now().After(deadline) {
			t.Fatalf("nats-server did not start: %v\n%s", err, p.Tail(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
