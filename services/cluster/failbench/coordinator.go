package failbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/localpg"
)

// CoordinatorConfig is one coordinator failover measurement.
type CoordinatorConfig struct {
	Bin       string        // the granary binary the services run from
	Dir       string        // scratch directory (PostgreSQL's data, volumes, service logs)
	Files     int           // files of replication 3 written before the kill (default 20)
	Watch     time.Duration // how long to count the new active's transfers (default 30 s)
	Heartbeat time.Duration // dfs.heartbeat.interval of every service (default HDFS's 3 s)
}

// CoordinatorReport is one coordinator failover.
type CoordinatorReport struct {
	Active    time.Duration // c1 killed → c2 active
	Followed  time.Duration // c1 killed → every datanode follows c2
	Command   time.Duration // c1 killed → a command of c2 executed (a deleted file's replicas gone)
	Transfers int64         // transfers c2 scheduled in the watch window
	Watch     time.Duration
	Heartbeat time.Duration
}

// MeasureCoordinator runs a nameservice with coordinator HA as separate
// processes — a metadata service, coordinators c1 (active) and c2
// (standby) and 3 datanodes reporting to both, on a PostgreSQL started from
// the machine's binaries and an in-process NATS server — writes files,
// kills c1 with SIGKILL and times c2's takeover: its role, the datanodes
// following its claim, its first command executed. Then it watches c2 and
// counts the transfers it schedules on the healthy cluster (a cold block
// map would schedule a storm).
func MeasureCoordinator(ctx context.Context, cfg CoordinatorConfig) (rep CoordinatorReport, err error) {
	if cfg.Files <= 0 {
		cfg.Files = 20
	}
	if cfg.Watch <= 0 {
		cfg.Watch = 30 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 3 * time.Second
	}
	rep.Heartbeat = cfg.Heartbeat
	ports := make([]int, 7) // PostgreSQL, metadata, c1, c2, 3 datanodes
	for i := range ports {
		if ports[i], err = localpg.FreePort(); err != nil {
			return rep, err
		}
	}
	pg, err := localpg.Start(ctx, filepath.Join(cfg.Dir, "pg"), ports[0])
	if err != nil {
		return rep, err
	}
	defer pg.Stop()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true, MaxPayload: 8 << 20})
	if err != nil {
		return rep, err
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		return rep, fmt.Errorf("the NATS server did not start")
	}
	natsURL, hb := ns.ClientURL(), cfg.Heartbeat.String()
	url := func(port int) string { return fmt.Sprintf("http://127.0.0.1:%d", port) }
	addr := func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
	meta := &service{id: "metadata", url: url(ports[1]), args: []string{"metadata", "-database-url", pg.URL("postgres"), "-nats-url", natsURL,
		"-http-addr", addr(ports[1]), "-superuser", "bench", "-safemode-extension", "0", "-format-if-needed", "-log-level", "warn"}}
	coord := func(id string, port int) *service {
		return &service{id: id, url: url(port), args: []string{"coordinator", "-coordinator-id", id, "-nats-url", natsURL,
			"-http-addr", addr(port), "-superuser", "bench", "-heartbeat-interval", hb, "-log-level", "warn"}}
	}
	c1, c2 := coord("c1", ports[2]), coord("c2", ports[3])
	dns := make([]*service, 3)
	for i := range dns {
		id := fmt.Sprintf("dn%d", i+1)
		dns[i] = &service{id: id, url: url(ports[4+i]), args: []string{"datanode", "-data-dir", filepath.Join(cfg.Dir, id),
			"-nats-url", natsURL, "-http-addr", addr(ports[4+i]), "-ip", "127.0.0.1", "-hostname", "localhost",
			"-superuser", "bench", "-coordinators", "c1,c2", "-heartbeat-interval", hb, "-log-level", "warn"}}
	}
	all := append([]*service{meta, c1, c2}, dns...)
	defer func() {
		for _, s := range all {
			s.kill()
		}
	}()
	// c1 first, so that it is the active and c2 the standby.
	for _, s := range all {
		if err := s.start(cfg.Bin, cfg.Dir); err != nil {
			return rep, err
		}
		want := "ready"
		switch s {
		case c1:
			want = "ready active"
		case c2:
			want = "ready standby"
		}
		if err := waitFor(ctx, 60*time.Second, func() bool { _, got := readyz(ctx, s.url); return got == want }); err != nil {
			return rep, fmt.Errorf("%s %q: %w (log: %s.log)", s.id, want, err, s.id)
		}
	}
	following := func(id string) bool {
		for _, d := range dns {
			var info struct{ ActiveCoordinators map[string]string }
			if getJSON(ctx, d.url+"/api/v1/info", &info) != nil || info.ActiveCoordinators["ns1"] != id {
				return false
			}
		}
		return true
	}
	replicas := func() int {
		n := 0
		for _, d := range dns {
			var info struct{ Replicas int }
			if getJSON(ctx, d.url+"/api/v1/info", &info) != nil {
				return -1
			}
			n += info.Replicas
		}
		return n
	}
	if err := waitFor(ctx, 60*time.Second, func() bool { return following("c1") }); err != nil {
		return rep, fmt.Errorf("c1 followed: %w", err)
	}
	cl := client.New(meta.url, "bench")
	data := bytes.Repeat([]byte("coordinator failover "), 1000)
	for i := 0; i < cfg.Files; i++ {
		w, err := cl.Create(ctx, fmt.Sprintf("/cfailover/f%d", i), client.CreateOptions{Replication: 3})
		if err == nil {
			_, err = w.Write(data)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return rep, err
		}
	}
	if err := waitFor(ctx, 60*time.Second, func() bool { return replicas() == 3*cfg.Files }); err != nil {
		return rep, fmt.Errorf("%d replicas: %w", 3*cfg.Files, err)
	}
	c1.kill()
	killed := time.Now()
	// c2's first command: a file deleted once c1 is gone makes it
	// invalidate 3 replicas.
	if ok, err := cl.Delete(ctx, "/cfailover/f0", false); err != nil || !ok {
		return rep, fmt.Errorf("delete: %v %v", ok, err)
	}
	if err := waitFor(ctx, 60*time.Second, func() bool { _, got := readyz(ctx, c2.url); return got == "ready active" }); err != nil {
		return rep, fmt.Errorf("c2 active: %w", err)
	}
	rep.Active = time.Since(killed)
	if err := waitFor(ctx, 60*time.Second, func() bool { return following("c2") }); err != nil {
		return rep, fmt.Errorf("c2 followed: %w", err)
	}
	rep.Followed = time.Since(killed)
	if err := waitFor(ctx, 60*time.Second, func() bool { return replicas() == 3*(cfg.Files-1) }); err != nil {
		return rep, fmt.Errorf("c2's deletions executed: %w", err)
	}
	rep.Command = time.Since(killed)
	before, err := transfersScheduled(ctx, c2.url)
	if err != nil {
		return rep, err
	}
	if err := sleep(ctx, cfg.Watch); err != nil {
		return rep, err
	}
	after, err := transfersScheduled(ctx, c2.url)
	rep.Transfers, rep.Watch = after-before, cfg.Watch
	return rep, err
}

// readyz is a service's /readyz status and answer ("ready", "ready
// active", "standby", ...); 0 when it does not answer.
func readyz(ctx context.Context, url string) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func getJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// transfersScheduled reads granary_coordinator_transfers_scheduled_total
// from a coordinator's /metrics.
func transfersScheduled(ctx context.Context, url string) (int64, error) {
	const name = "granary_coordinator_transfers_scheduled_total"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int64(f), err
		}
	}
	return 0, fmt.Errorf("%s/metrics has no %s", url, name)
}

func waitFor(ctx context.Context, within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not after %v", within)
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// coordinatorMain is `granary bench failover -coordinator`.
func coordinatorMain(ctx context.Context, cfg CoordinatorConfig, out io.Writer) error {
	dir, err := os.MkdirTemp("", "granary-bench-cfailover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg.Dir = dir
	fmt.Fprintf(out, "coordinator failover: c1 active, c2 standby, 3 datanodes (heartbeat %v), %d files of replication 3, as separate processes; c1 killed with SIGKILL\n", cfg.Heartbeat, cfg.Files)
	rep, err := MeasureCoordinator(ctx, cfg)
	if err != nil {
		return err
	}
	afterActive := rep.Command - rep.Active
	fmt.Fprintf(out, "c2 active after %v, followed by every datanode after %v, its first command (invalidation) executed after %v: %v after it became active = %.1f heartbeats\n",
		rep.Active.Round(time.Millisecond), rep.Followed.Round(time.Millisecond), rep.Command.Round(time.Millisecond),
		afterActive.Round(time.Millisecond), afterActive.Seconds()/rep.Heartbeat.Seconds())
	fmt.Fprintf(out, "transfers c2 scheduled in the %v after: %d\n", rep.Watch, rep.Transfers)
	if rep.Transfers != 0 {
		return fmt.Errorf("a warm standby scheduled transfers on a healthy cluster")
	}
	if afterActive > 2*rep.Heartbeat {
		return fmt.Errorf("the new active's first command took more than 2 heartbeats")
	}
	return nil
}
