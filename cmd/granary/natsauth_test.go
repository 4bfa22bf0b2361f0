package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/proctest"
)

// TestNatsauthConfigOnARealServer: `granary natsauth` writes seeds and an
// authorization that a real nats-server loads; with it a connection without
// a seed is refused, the metadata service's seed may publish namespace
// events, and a datanode's may neither take heartbeats nor publish them
// for another datanode.
func TestNatsauthConfigOnARealServer(t *testing.T) {
	bin := proctest.Granary(t)
	dir := t.TempDir()
	if out, err := exec.Command(bin, "natsauth", "-dir", dir, "-datanodes", "dn1,dn2").CombinedOutput(); err != nil {
		t.Fatalf("granary natsauth: %v: %s", err, out)
	}
	port := freePortT(t)
	conf := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(conf, []byte("listen: 127.0.0.1:"+strconv.Itoa(port)+"\ninclude nats-auth.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := proctest.NewGroup(t)
	p := g.Start(t, "nats", proctest.NATSServer(t), "-c", conf)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := nats.Connect(url, nats.Timeout(time.Second))
		if err != nil && strings.Contains(strings.ToLower(err.Error()), "authorization") {
			break // up, and refusing a connection without credentials
		}
		if err == nil {
			c.Close()
			t.Fatal("a connection without credentials was accepted")
		}
		if time.Now().After(deadline) || !p.Running() {
			t.Fatalf("nats-server with the generated config: %v\n%s", err, p.Tail(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	connect := func(identity string) (*nats.Conn, func() string) {
		var mu sync.Mutex
		var denied []string
		o, err := nats.NkeyOptionFromSeed(filepath.Join(dir, identity+".nk"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := nats.Connect(url, o, nats.CustomInboxPrefix("_INBOX."+identity), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			mu.Lock()
			denied = append(denied, err.Error())
			mu.Unlock()
		}))
		if err != nil {
			t.Fatalf("%s: %v", identity, err)
		}
		t.Cleanup(c.Close)
		return c, func() string {
			mu.Lock()
			defer mu.Unlock()
			return strings.Join(denied, "\n")
		}
	}
	coord, _ := connect("coordinator")
	got := make(chan string, 10)
	if _, err := coord.Subscribe("granary.v1.ns1.ns.events", func(m *nats.Msg) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	if _, err := coord.Subscribe("granary.v1.ns1.dn.*.heartbeat", func(m *nats.Msg) { got <- m.Subject }); err != nil {
		t.Fatal(err)
	}
	_ = coord.Flush()
	meta, _ := connect("metadata")
	_ = meta.Publish("granary.v1.ns1.ns.events", []byte("ok"))
	dn2, denied := connect("dn2")
	_ = dn2.Publish("granary.v1.ns1.dn.dn1.heartbeat", []byte("forged"))
	_ = dn2.Publish("granary.v1.ns1.ns.events", []byte("forged"))
	_ = dn2.Publish("granary.v1.ns1.dn.dn2.heartbeat", []byte("own"))
	_, _ = dn2.Subscribe("granary.v1.ns1.dn.*.heartbeat", func(*nats.Msg) {})
	_ = dn2.Flush()
	var seen []string
	for len(seen) < 2 {
		select {
		case s := <-got:
			seen = append(seen, s)
		case <-time.After(10 * time.Second):
			t.Fatalf("the coordinator saw only %v", seen)
		}
	}
	if strings.Join(seen, ",") != "ok,granary.v1.ns1.dn.dn2.heartbeat" && strings.Join(seen, ",") != "granary.v1.ns1.dn.dn2.heartbeat,ok" {
		t.Fatalf("the coordinator saw %v", seen)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		d := denied()
		if strings.Count(d, "Permissions Violation") >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dn2's forgeries were not all refused: %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case s := <-got:
		t.Fatalf("a forgery reached the coordinator: %s", s)
	default:
	}
}
