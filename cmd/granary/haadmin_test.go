package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/granary-fs/granary/internal/poll"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/pgtest"
	"github.com/granary-fs/granary/services/metadata"
)

// TestHaadminServiceState: granary admin -getServiceState and
// -getAllServiceState print each metadata service's HA state, as hdfs
// haadmin does.
func TestHaadminServiceState(t *testing.T) {
	db := pgtest.NewDatabase(t)
	cfg := func(id string) metadata.Config {
		return metadata.Config{DatabaseURL: db, HTTPAddr: "127.0.0.1:0", Superuser: "hdfs", NamenodeID: id,
			SafeModeExtension: 0, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	}
	ctx := context.Background()
	if _, err := metadata.Format(ctx, cfg("nn1"), metadata.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	run := func(svc *metadata.Service) <-chan error {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		ended := make(chan error, 1)
		go func() { err := svc.Run(rctx); done <- err; ended <- err }()
		t.Cleanup(func() { cancel(); <-done })
		return ended
	}
	nn1 := metadata.New(cfg("nn1"))
	nn1Ended := run(nn1)
	select {
	case <-nn1.Started():
	case <-time.After(30 * time.Second):
		t.Fatal("nn1 did not start")
	}
	nn2 := metadata.New(cfg("nn2"))
	run(nn2)
	u1, u2 := "http://"+nn1.Addr(), "http://"+nn2.Addr()
	poll.Until(t, 10*time.Second, "nn2 to be standby", func() bool { return nn2.HAState() == "standby" })
	t.Setenv("HADOOP_USER_NAME", "hdfs")
	var out bytes.Buffer
	if err := adminCmd(ctx, []string{"-fs", u1 + "," + u2, "-getAllServiceState"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], " active") || !strings.HasSuffix(lines[1], " standby") ||
		!strings.HasPrefix(lines[0], strings.TrimPrefix(u1, "http://")) {
		t.Fatalf("-getAllServiceState:\n%s", out.String())
	}
	out.Reset()
	if err := adminCmd(ctx, []string{"-getServiceState", u2}, &out); err != nil || out.String() != "standby\n" {
		t.Fatalf("-getServiceState: %q %v", out.String(), err)
	}

	// A graceful failover under load: the old active drains and ends, the
	// standby takes over with every acknowledged operation, and no client
	// operation fails. Calls cut on a kept-alive connection the draining
	// server closed are sent again with their call IDs: non-idempotent ones
	// (create, rename, delete) applied by nn1 are answered from the retry
	// cache nn2 rebuilt from the edit log — applied twice, a rename or a
	// delete would answer false and a create AlreadyBeingCreatedException.
	var mu sync.Mutex
	acked := map[string]bool{}
	var failures []error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := client.New(u1+","+u2, "hdfs")
			fail := func(err error) {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := fmt.Sprintf("/f/c%d/d%d", g, i)
				if err := cl.Mkdirs(ctx, p, 0o755); err != nil {
					fail(err)
					continue
				}
				moved := p + "m"
				if ok, err := cl.Rename(ctx, p, moved); err != nil || !ok {
					fail(fmt.Errorf("rename %s: %v, %v", p, ok, err))
					continue
				}
				w, err := cl.Create(ctx, moved+"/file", client.CreateOptions{})
				if err == nil {
					err = w.Close()
				}
				if err != nil {
					fail(fmt.Errorf("create %s/file: %v", moved, err))
					continue
				}
				if i%2 == 1 {
					if ok, err := cl.Delete(ctx, moved, true); err != nil || !ok {
						fail(fmt.Errorf("delete %s: %v, %v", moved, ok, err))
						continue
					}
					moved = ""
				}
				mu.Lock()
				if moved != "" {
					acked[moved+"/file"] = true
				}
				acked["ops"+p] = true
				mu.Unlock()
			}
		}()
	}
	out.Reset()
	if err := adminCmd(ctx, []string{"-failover", u1, u2}, &out); err != nil || !strings.Contains(out.String(), "Failover to "+u2+" successful") {
		t.Fatalf("-failover: %q %v", out.String(), err)
	}
	select {
	case err := <-nn1Ended:
		if err != nil {
			t.Fatalf("nn1 ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nn1 did not end after transitionToStandby")
	}
	// The clients go on against nn2.
	mu.Lock()
	atFailover := len(acked)
	mu.Unlock()
	poll.Until(t, 30*time.Second, "20 more operations after the failover", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= atFailover+20
	})
	close(stop)
	wg.Wait()
	for _, err := range failures {
		t.Errorf("a client operation failed during a graceful failover: %v", err)
	}
	t.Logf("graceful failover: %d rounds acknowledged", len(acked))
	cl := client.New(u2, "hdfs")
	for p := range acked {
		if strings.HasPrefix(p, "ops") {
			continue
		}
		if st, err := cl.Stat(ctx, p); err != nil || st.Type != "FILE" {
			t.Fatalf("acknowledged %s: %+v %v", p, st, err)
		}
	}

	// HDFS's client configuration of an HA nameservice: -fs hdfs://mycluster
	// with dfs.ha.namenodes and the http-addresses, nn1 (gone now) first;
	// paths typed with the logical URI belong to it.
	ha := []string{"-D", "dfs.nameservices=mycluster", "-D", "dfs.ha.namenodes.mycluster=nn1,nn2",
		"-D", "dfs.namenode.http-address.mycluster.nn1=" + strings.TrimPrefix(u1, "http://"),
		"-D", "dfs.namenode.http-address.mycluster.nn2=" + strings.TrimPrefix(u2, "http://"), "-fs", "hdfs://mycluster"}
	var fout, ferr bytes.Buffer
	if code := fsCmd(ctx, append(ha, "-mkdir", "-p", "hdfs://mycluster/ha/logical"), &fout, &ferr); code != 0 {
		t.Fatalf("fs -mkdir through hdfs://mycluster: %d %s", code, ferr.String())
	}
	if st, err := cl.Stat(ctx, "/ha/logical"); err != nil || st.Type != "DIRECTORY" {
		t.Fatalf("/ha/logical: %+v %v", st, err)
	}
	ferr.Reset()
	if code := fsCmd(ctx, append(ha[:len(ha)-4:len(ha)-4], "-fs", "hdfs://mycluster", "-ls", "/"), &fout, &ferr); code != 2 || !strings.Contains(ferr.String(), "dfs.namenode.http-address.mycluster.nn2 is not set") {
		t.Fatalf("a nameservice missing an address: %d %s", code, ferr.String())
	}
}
