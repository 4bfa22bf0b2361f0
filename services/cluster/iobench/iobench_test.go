package iobench

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"github.com/granary-fs/granary/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestSmallFilesTwiceOnOneServer: with -database-url each run formats a
// namespace in a database of its own and drops it after. The second run
// used to find the first run's namespace, whose blocks had gone with its
// datanodes, and stayed in safe mode.
func TestSmallFilesTwiceOnOneServer(t *testing.T) {
	server := pgtest.NewDatabase(t)
	for run := 1; run <= 2; run++ {
		var out bytes.Buffer
		if err := SmallFilesMain(context.Background(), []string{"-files", "32", "-clients", "2", "-database-url", server}, &out); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out.String())
		}
		if !strings.Contains(out.String(), "write: ") || !strings.Contains(out.String(), "read: ") {
			t.Fatalf("run %d printed no figures:\n%s", run, out.String())
		}
		// Each file written asks the coordinator for its placement at
		// least: a request and its reply.
		m := regexp.MustCompile(`NATS messages per file .*: write ([0-9.]+), read ([0-9.]+)`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("run %d printed no NATS message counts:\n%s", run, out.String())
		}
		if w, _ := strconv.ParseFloat(m[1], 64); w < 2 {
			t.Fatalf("run %d: %s NATS messages per file written, want at least 2 (the placement request and its reply)", run, m[1])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var left int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE 'granary_bench_%'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d benchmark databases left on the server", left)
	}
}

// TestRawDiskFollowsTheSyncPolicy: the raw files get the calls a datanode
// makes for a replica (storage's manageCache) — sync_file_range of every
// 8 MB written with sync-behind, and the page cache dropped 8 MB behind
// the last one with drop-behind — and none without either.
func TestRawDiskFollowsTheSyncPolicy(t *testing.T) {
	type call struct{ off, n int64 }
	var syncs, drops []call
	syncFileRange = func(fd int, off, n int64, flags int) error {
		syncs = append(syncs, call{off, n})
		return nil
	}
	fadvise = func(fd int, off, n int64, advice int) error {
		drops = append(drops, call{off, n})
		return nil
	}
	defer func() { syncFileRange, fadvise = unix.SyncFileRange, unix.Fadvise }()
	buf := make([]byte, 1<<20)
	for _, p := range []rawPolicy{{behindWrites: true, dropBehind: true}, {syncClose: true}} {
		syncs, drops = nil, nil
		if _, _, err := rawDisk(t.TempDir(), 1, 32<<20, buf, p, func() {}); err != nil {
			t.Fatal(err)
		}
		wantSyncs := []call{{0, 8 << 20}, {8 << 20, 8 << 20}, {16 << 20, 8 << 20}, {24 << 20, 8 << 20}}
		wantDrops := []call{{0, 8 << 20}, {0, 16 << 20}}
		if !p.behindWrites {
			wantSyncs, wantDrops = nil, nil
		}
		if !slices.Equal(syncs, wantSyncs) || !slices.Equal(drops, wantDrops) {
			t.Errorf("%+v: sync_file_range %v, fadvise %v; want %v and %v", p, syncs, drops, wantSyncs, wantDrops)
		}
	}
}
