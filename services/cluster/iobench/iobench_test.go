package iobench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
