// Package pgtest gives each test a fresh database on a real PostgreSQL:
// the server at GRANARY_DATABASE_URL when set (its user needs CREATEDB), or
// else a throwaway server started from the machine's binaries once per test
// binary (internal/localpg) and stopped by Main.
package pgtest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/granary-fs/granary/internal/localpg"
	"github.com/granary-fs/granary/internal/pgdb"
)

var (
	once    sync.Once
	server  *localpg.Server
	tmpDir  string
	baseURL string
	initErr error
)

// Main runs the tests of a package and stops the throwaway server after.
func Main(m *testing.M) {
	code := m.Run()
	if server != nil {
		_ = server.Stop()
		_ = os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

func setup() {
	if u := os.Getenv("GRANARY_DATABASE_URL"); u != "" {
		baseURL = u
		return
	}
	tmpDir, initErr = os.MkdirTemp("", "granary-pgtest-")
	if initErr != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server, initErr = localpg.Start(ctx, tmpDir+"/data", 0)
	if initErr == nil {
		baseURL = server.URL("postgres")
	}
}

// NewDatabase creates an empty database for t, dropped when t ends, and
// returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if initErr != nil {
		t.Fatalf("PostgreSQL for tests: %v", initErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, drop, err := pgdb.Create(ctx, baseURL, "granary_test_")
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	t.Cleanup(func() { _ = drop() })
	return u
}

// Exec runs one statement on the database at dbURL (for tests that damage
// stored state on purpose).
func Exec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
