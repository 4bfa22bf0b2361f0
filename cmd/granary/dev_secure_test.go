package main

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/pgtest"
	"github.com/granary-fs/granary/internal/proctest"
)

// freeAddr is a loopback address nothing listens on yet.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDevSecurePrintsWorkingLines starts `granary dev -secure` as a user
// does and runs, with bash and curl, the lines it prints: the token from
// the issuer, a WebHDFS listing over HTTPS, a delegation token, and
// `granary fs` against swebhdfs://.
func TestDevSecurePrintsWorkingLines(t *testing.T) {
	bin := proctest.Granary(t)
	g := proctest.NewGroup(t)
	var script []string
	// The addresses are free when chosen, but another test of the suite
	// running beside this one may take one before dev binds it: dev then
	// exits saying so, and is started again on new ones.
	for attempt := 1; ; attempt++ {
		cmd := exec.Command(bin, "dev", "-secure", "-data-dir", t.TempDir(), "-datanodes", "1",
			"-metadata-addr", freeAddr(t), "-coordinator-addr", freeAddr(t), "-nats-addr", freeAddr(t), "-issuer-addr", freeAddr(t), "-datanode-addrs", freeAddr(t))
		cmd.Env = append(cmd.Environ(), "GRANARY_DATABASE_URL="+pgtest.NewDatabase(t))
		p := g.StartCmd(t, "granary dev -secure", cmd)
		// The instructions end with the granary fs line; wait for it.
		deadline := time.Now().Add(90 * time.Second)
		for {
			script = script[:0]
			for _, l := range strings.Split(p.Tail(1000), "\n") {
				if s := strings.TrimSpace(l); strings.HasPrefix(s, "export ") || strings.HasPrefix(s, "curl ") || strings.HasPrefix(s, "granary fs") {
					script = append(script, s)
				}
			}
			if len(script) > 0 && strings.HasPrefix(script[len(script)-1], "granary fs") {
				break
			}
			if !p.Running() || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(script) > 0 && strings.HasPrefix(script[len(script)-1], "granary fs") {
			break
		}
		if attempt < 3 && !p.Running() && strings.Contains(p.Tail(50), "address already in use") {
			continue
		}
		t.Fatalf("no instructions printed:\n%s", p.Tail(50))
	}
	if len(script) != 5 {
		t.Fatalf("printed %d lines to run: %q", len(script), script)
	}
	script[4] = strings.Replace(script[4], "granary ", bin+" ", 1)
	sh := "set -e\n" + strings.Join(script[:2], "\n") + "\necho LIST; " + script[2] + "\necho; echo TOKEN; " + script[3] + "\necho; echo FS; " + script[4] + "\n"
	res, err := exec.Command("bash", "-c", sh).CombinedOutput()
	got := string(res)
	if err != nil || !strings.Contains(got, `"FileStatuses"`) || !strings.Contains(got, `"urlString"`) || !strings.Contains(got, "/tmp") {
		t.Fatalf("the printed lines did not work (%v):\n%s\n%s", err, sh, got)
	}
}
