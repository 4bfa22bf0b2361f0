package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

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
	run := func(svc *metadata.Service) {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- svc.Run(rctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	nn1 := metadata.New(cfg("nn1"))
	run(nn1)
	select {
	case <-nn1.Started():
	case <-time.After(30 * time.Second):
		t.Fatal("nn1 did not start")
	}
	nn2 := metadata.New(cfg("nn2"))
	run(nn2)
	u1, u2 := "http://"+nn1.Addr(), "http://"+nn2.Addr()
	deadline := time.Now().Add(10 * time.Second)
	for nn2.HAState() != "standby" {
		if time.Now().After(deadline) {
			t.Fatal("nn2 is not standby")
		}
		time.Sleep(50 * time.Millisecond)
	}
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
}
