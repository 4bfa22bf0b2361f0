package metadata_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/granary-fs/granary/internal/pgtest"
	"github.com/granary-fs/granary/services/metadata"
)

// withConn runs fn on a connection to the database at db, closed after.
func withConn(t *testing.T, db, sql string, fn func(ctx context.Context, c *pgx.Conn) error) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := fn(ctx, c); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryInt(t *testing.T, db, sql string, args ...any) int64 {
	t.Helper()
	var v int64
	withConn(t, db, sql, func(ctx context.Context, c *pgx.Conn) error { return c.QueryRow(ctx, sql, args...).Scan(&v) })
	return v
}

// execSQL runs sql on the database at db, as an operator or a fault would.
func execSQL(t *testing.T, db, sql string) {
	t.Helper()
	withConn(t, db, sql, func(ctx context.Context, c *pgx.Conn) error { _, err := c.Exec(ctx, sql); return err })
}

func mkdirs(n *node, prefix string, count int) {
	n.t.Helper()
	for i := 0; i < count; i++ {
		n.boolean("PUT", fmt.Sprintf("/webhdfs/v1%s/d%03d?op=MKDIRS&user.name=hdfs", prefix, i))
	}
}

func checkDirs(n *node, prefix string, count int) {
	n.t.Helper()
	var ls struct {
		FileStatuses struct{ FileStatus []map[string]any }
	}
	n.want(200, "GET", "/webhdfs/v1"+prefix+"?op=LISTSTATUS", &ls)
	if len(ls.FileStatuses.FileStatus) != count {
		n.t.Fatalf("%s holds %d entries, want %d", prefix, len(ls.FileStatuses.FileStatus), count)
	}
}

func TestRestartAcrossCheckpoint(t *testing.T) {
	db := formatted(t)
	n := start(t, testConfig(db))
	mkdirs(n, "/before", 20)
	n.want(200, "POST", "/api/v1/admin/safemode/enter?user.name=hdfs", nil)
	var saved struct{ TxID int64 }
	n.want(200, "POST", "/api/v1/admin/saveNamespace?user.name=hdfs", &saved)
	if saved.TxID != 21 {
		t.Fatalf("saveNamespace at txid %d, want 21", saved.TxID)
	}
	n.want(200, "POST", "/api/v1/admin/safemode/leave?user.name=hdfs", nil)
	mkdirs(n, "/after", 10)
	n.touch("/after/file", "hdfs")
	n.want(200, "PUT", "/webhdfs/v1/after/file?op=SETOWNER&owner=alice&user.name=hdfs", nil)
	if err := n.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := queryInt(t, db, `SELECT count(*) FROM fsimage`); got != 2 {
		t.Fatalf("%d images stored, want 2 (format + saveNamespace)", got)
	}

	n2 := start(t, testConfig(db))
	checkDirs(n2, "/before", 20)
	checkDirs(n2, "/after", 11)
	if st := n2.status("/after/file", "hdfs"); st["owner"] != "alice" {
		t.Fatalf("file status after restart %v", st)
	}
	var prog metadata.StartupProgressView
	n2.want(200, "GET", "/startupProgress", &prog)
	if len(prog.Phases) != 4 || prog.PercentComplete != 1 {
		t.Fatalf("startup progress %+v", prog)
	}
	names := []string{"LoadingFsImage", "LoadingEdits", "SavingCheckpoint", "SafeMode"}
	for i, ph := range prog.Phases {
		if ph.Name != names[i] || ph.Status != "COMPLETE" {
			t.Fatalf("phase %d: %+v", i, ph)
		}
	}
	if img := prog.Phases[0].Steps[0]; img.Count != 22 || img.Total != 22 {
		t.Fatalf("LoadingFsImage step %+v, want 22 inodes (root, /before and its 20)", img)
	}
	if ed := prog.Phases[1].Steps[0]; ed.Count != 14 {
		t.Fatalf("LoadingEdits step %+v, want 14 edits (11 mkdirs, add, close, set owner)", ed)
	}
}

func TestAutomaticCheckpointAndPurge(t *testing.T) {
	db := formatted(t)
	cfg := testConfig(db)
	cfg.CheckpointTxns = 25
	cfg.CheckpointCheck = 20 * time.Millisecond
	cfg.ExtraEditsRetained = 10 // dfs.namenode.num.extra.edits.retained
	n := start(t, cfg)
	mkdirs(n, "/a", 60)
	// 61 edits: a checkpoint is due once 25 have accumulated.
	eventually(t, 30*time.Second, "an automatic checkpoint past txid 25", func() bool {
		return queryInt(t, db, `SELECT coalesce(max(txid), 0) FROM fsimage`) >= 25
	})
	mkdirs(n, "/b", 60)
	// 122 edits in all: the newest image can lag by at most 24.
	eventually(t, 30*time.Second, "a checkpoint within 25 edits of txid 122", func() bool {
		return queryInt(t, db, `SELECT coalesce(max(txid), 0) FROM fsimage`) >= 98
	})
	if got := queryInt(t, db, `SELECT count(*) FROM fsimage`); got > 2 {
		t.Fatalf("%d images kept, want at most 2", got)
	}
	oldest := queryInt(t, db, `SELECT min(txid) FROM fsimage`)
	if got := queryInt(t, db, `SELECT count(*) FROM edit_log WHERE txid <= $1`, oldest-10); got != 0 {
		t.Fatalf("%d edits more than 10 before the oldest retained image were not purged", got)
	}
	// The 10 extra edits before it stay, for a lagging standby.
	if got := queryInt(t, db, `SELECT count(*) FROM edit_log WHERE txid > $1 AND txid <= $2`, oldest-10, oldest); got != 10 {
		t.Fatalf("%d of the 10 extra edits before the oldest retained image kept", got)
	}
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	n2 := start(t, testConfig(db))
	checkDirs(n2, "/a", 60)
	checkDirs(n2, "/b", 60)
}

func TestCorruptImageFallsBack(t *testing.T) {
	db := formatted(t)
	n := start(t, testConfig(db))
	mkdirs(n, "/one", 5)
	n.want(200, "POST", "/api/v1/admin/safemode/enter?user.name=hdfs", nil)
	n.want(200, "POST", "/api/v1/admin/saveNamespace?user.name=hdfs", nil)
	n.want(200, "POST", "/api/v1/admin/safemode/leave?user.name=hdfs", nil)
	mkdirs(n, "/two", 5)
	n.want(200, "POST", "/api/v1/admin/safemode/enter?user.name=hdfs", nil)
	n.want(200, "POST", "/api/v1/admin/saveNamespace?user.name=hdfs", nil)
	n.want(200, "POST", "/api/v1/admin/safemode/leave?user.name=hdfs", nil)
	mkdirs(n, "/three", 5)
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	newest := queryInt(t, db, `SELECT max(txid) FROM fsimage`)
	// Flip one byte in the middle of the newest image.
	pgtest.Exec(t, db, `UPDATE fsimage_chunk SET data = overlay(data placing '\xff'::bytea from (length(data)/2)::int for 1) WHERE txid = $1`, newest)

	n2 := start(t, testConfig(db))
	checkDirs(n2, "/one", 5)
	checkDirs(n2, "/two", 5)
	checkDirs(n2, "/three", 5)
}

func runExpectingFailure(t *testing.T, cfg metadata.Config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := metadata.New(cfg).Run(ctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("start-up did not fail: %v", err)
	}
	return err
}

func TestEditLogGapStopsStartup(t *testing.T) {
	db := formatted(t)
	n := start(t, testConfig(db))
	mkdirs(n, "/x", 10)
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, db, `DELETE FROM edit_log WHERE txid = 5`)
	err := runExpectingFailure(t, testConfig(db))
	if !strings.Contains(err.Error(), "gap after txid 4") || !strings.Contains(err.Error(), "txid 5") {
		t.Fatalf("error does not name the gap: %v", err)
	}
}

func TestCorruptEditStopsStartup(t *testing.T) {
	db := formatted(t)
	n := start(t, testConfig(db))
	mkdirs(n, "/x", 10)
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, db, `UPDATE edit_log SET payload = payload || '\x00'::bytea WHERE txid = 7`)
	err := runExpectingFailure(t, testConfig(db))
	if !strings.Contains(err.Error(), "txid 7") {
		t.Fatalf("error does not name txid 7: %v", err)
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	db := formatted(t)
	n := start(t, testConfig(db))
	mkdirs(n, "/x", 3)
	err := runExpectingFailure(t, testConfig(db))
	if !strings.Contains(err.Error(), "holds the writer lock") {
		t.Fatalf("second writer error: %v", err)
	}
	// The first keeps working.
	mkdirs(n, "/y", 3)
}

func TestFencedWriterStops(t *testing.T) {
	db := formatted(t)
	n := start(t, testConfig(db))
	mkdirs(n, "/x", 3)
	before := n.lastTxID()
	// A newer writer claims the epoch (as a successor would after taking over).
	pgtest.Exec(t, db, `UPDATE namespace_info SET writer_epoch = writer_epoch + 1`)
	// The client is told with HDFS's IOException, not a 500.
	n.remote(403, "IOException", "PUT", "/webhdfs/v1/fenced?op=MKDIRS&user.name=hdfs")
	// Run returns by itself: nothing outside cancels it.
	if err := n.exits(30 * time.Second); err == nil || !strings.Contains(err.Error(), "fenced") {
		t.Fatalf("fenced service stopped with %v, want a fencing error", err)
	}
	if got := queryInt(t, db, `SELECT count(*) FROM edit_log WHERE txid > $1::bigint`, before); got != 0 {
		t.Fatalf("a fenced writer committed %d edits", got)
	}
}

func TestFormatRules(t *testing.T) {
	db := pgtest.NewDatabase(t)
	err := runExpectingFailure(t, testConfig(db))
	if !strings.Contains(err.Error(), "granary metadata format") {
		t.Fatalf("unformatted start-up error: %v", err)
	}
	ni, err := metadata.Format(context.Background(), testConfig(db), metadata.FormatOptions{ClusterID: "CID-test"})
	if err != nil || ni.ClusterID != "CID-test" || !strings.HasPrefix(ni.BlockPoolID, "BP-") {
		t.Fatalf("format: %+v, %v", ni, err)
	}
	if _, err := metadata.Format(context.Background(), testConfig(db), metadata.FormatOptions{}); err == nil || !strings.Contains(err.Error(), "CID-test") {
		t.Fatalf("second format without -force: %v", err)
	}
	ni2, err := metadata.Format(context.Background(), testConfig(db), metadata.FormatOptions{Force: true})
	if err != nil || ni2.ClusterID == "CID-test" {
		t.Fatalf("forced format: %+v, %v", ni2, err)
	}
}

// TestLostDatabaseStopsTheService: when PostgreSQL cannot be reached past
// the edit log's retry window, writes are answered RetriableException
// meanwhile, then Run returns an error by itself (the process exits and a
// supervisor restarts it) instead of lingering with its HTTP port closed.
func TestLostDatabaseStopsTheService(t *testing.T) {
	db := formatted(t)
	cfg := testConfig(db)
	cfg.EditLogRetry = 2 * time.Second
	n := start(t, cfg)
	mkdirs(n, "/before", 1)
	// The database goes away for this service: no new connection is
	// accepted and every open one is cut.
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin := u.String()
	pgtest.Exec(t, admin, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`)
	pgtest.Exec(t, admin, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name)
	// The edit that cannot be committed is answered RetriableException.
	n.remote(403, "RetriableException", "PUT", "/webhdfs/v1/during?op=MKDIRS&user.name=hdfs")
	if err := n.exits(60 * time.Second); err == nil {
		t.Fatal("Run returned nil after losing its database")
	}
}

// TestStaleImageSavedAtStart: an image older than
// dfs.namenode.checkpoint.period with edits after it is saved again at
// start-up (HDFS's needsResaveBasedOnStaleCheckpoint), even with fewer
// edits than dfs.namenode.checkpoint.txns.
func TestStaleImageSavedAtStart(t *testing.T) {
	db := formatted(t)
	n := start(t, testConfig(db))
	mkdirs(n, "/stale", 3)
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	execSQL(t, db, `UPDATE fsimage SET created_at = now() - interval '2 hours'`)
	n2 := start(t, testConfig(db)) // checkpoint period: the default hour
	checkDirs(n2, "/stale", 3)
	if got := queryInt(t, db, `SELECT max(txid) FROM fsimage`); got != 4 {
		t.Fatalf("the newest image is at txid %d; the stale one was not saved again at start (want 4)", got)
	}
}

// TestLowResourcesSafeMode: a checked volume with less free space than
// dfs.namenode.resource.du.reserved puts the service in safe mode with
// HDFS's tip; a manual leave with the space still short is undone at once.
func TestLowResourcesSafeMode(t *testing.T) {
	cfg := testConfig(formatted(t))
	cfg.ResourceDirs = []string{t.TempDir()}
	cfg.ResourceReserved = 1 << 62 // more than any disk has
	cfg.ResourceCheckInterval = 20 * time.Millisecond
	n := start(t, cfg)
	var sm struct {
		On      bool
		Message string
	}
	eventually(t, 10*time.Second, "safe mode for low resources", func() bool {
		n.want(200, "GET", "/api/v1/admin/safemode?user.name=hdfs", &sm)
		return sm.On && strings.Contains(sm.Message, "Resources are low on NN")
	})
	n.remote(403, "SafeModeException", "PUT", "/webhdfs/v1/x?op=MKDIRS&user.name=hdfs")
	n.want(200, "POST", "/api/v1/admin/safemode/leave?user.name=hdfs", nil)
	eventually(t, 10*time.Second, "safe mode back at once (resources still low)", func() bool {
		n.want(200, "GET", "/api/v1/admin/safemode?user.name=hdfs", &sm)
		return sm.On
	})
}

// TestRecover: a corrupt edit stops start-up (naming its txid); recovery
// (HDFS's -recover) asked to quit changes nothing, and with -force saves
// an image of what was read and drops the bad edit and those after it,
// after which the service starts with the namespace up to the bad edit.
func TestRecover(t *testing.T) {
	db := formatted(t)
	cfg := testConfig(db)
	n := start(t, cfg)
	mkdirs(n, "/r", 9) // txids 1 to 10
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	execSQL(t, db, `UPDATE edit_log SET crc = crc + 1 WHERE txid = 6`)
	bad := metadata.New(cfg)
	if err := bad.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "txid 6") {
		t.Fatalf("start-up past a corrupt edit: %v", err)
	}
	var out strings.Builder
	err := metadata.Recover(context.Background(), cfg, metadata.RecoverOptions{In: strings.NewReader("q\n"), Out: &out})
	if !errors.Is(err, metadata.ErrRecoveryAborted) || queryInt(t, db, `SELECT count(*) FROM edit_log`) != 10 {
		t.Fatalf("recovery quit: %v, %d edits left\n%s", err, queryInt(t, db, `SELECT count(*) FROM edit_log`), out.String())
	}
	out.Reset()
	if err := metadata.Recover(context.Background(), cfg, metadata.RecoverOptions{Force: true, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "abandoning 5 edits (txids 6 to 10)") || !strings.Contains(out.String(), "RECOVERY COMPLETE: saved an fsimage at txid 5; 5 edits dropped.") {
		t.Fatalf("recovery said:\n%s", out.String())
	}
	n2 := start(t, cfg)
	checkDirs(n2, "/r", 4) // /r and /r/d0../r/d3: txids 1 to 5
	n2.remote(404, "FileNotFoundException", "GET", "/webhdfs/v1/r/d4?op=GETFILESTATUS&user.name=hdfs")
}

// TestUpgradeRollbackFinalize (HDFS's -upgrade, -rollback, -finalize): a
// database whose schema is older than the service's refuses to start
// without -upgrade; with it the schema is migrated and the image it started
// from is kept; a rollback returns the namespace to that image; after
// another upgrade, finalizing forgets it and what was written stays.
func TestUpgradeRollbackFinalize(t *testing.T) {
	db := formatted(t)
	cfg := testConfig(db)
	n := start(t, cfg)
	mkdirs(n, "/before", 2)
	n.want(200, "POST", "/api/v1/admin/safemode/enter?user.name=hdfs", nil)
	n.want(200, "POST", "/api/v1/admin/saveNamespace?user.name=hdfs", nil)
	n.want(200, "POST", "/api/v1/admin/safemode/leave?user.name=hdfs", nil)
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	older := func() { // the schema as an older build left it
		execSQL(t, db, `DELETE FROM schema_migrations WHERE name = '0002_block_keys.sql'; DROP TABLE block_keys`)
	}
	older()
	if err := metadata.New(cfg).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "An upgrade is required: restart the metadata service with -upgrade") {
		t.Fatalf("an older schema without -upgrade: %v", err)
	}
	up := cfg
	up.Upgrade = true
	n2 := start(t, up)
	mkdirs(n2, "/during", 2)
	n2.want(200, "POST", "/api/v1/admin/safemode/enter?user.name=hdfs", nil)
	n2.want(200, "POST", "/api/v1/admin/saveNamespace?user.name=hdfs", nil) // a newer image: the kept one stays
	n2.want(200, "POST", "/api/v1/admin/safemode/leave?user.name=hdfs", nil)
	if err := n2.stop(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := metadata.RollbackUpgrade(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "the namespace is back at the image of txid 3") {
		t.Fatalf("rollback said: %s", out.String())
	}
	n3 := start(t, cfg)
	checkDirs(n3, "/before", 2)
	n3.remote(404, "FileNotFoundException", "GET", "/webhdfs/v1/during?op=GETFILESTATUS&user.name=hdfs")
	if err := n3.stop(); err != nil {
		t.Fatal(err)
	}
	// Upgraded again, then finalized: what was written stays.
	older()
	n4 := start(t, up)
	mkdirs(n4, "/after", 2)
	var was struct{ Boolean bool }
	n4.want(200, "POST", "/api/v1/admin/finalizeUpgrade?user.name=hdfs", &was)
	if !was.Boolean || queryInt(t, db, `SELECT count(*) FROM upgrade_state`) != 0 {
		t.Fatalf("finalize: %v", was)
	}
	if err := n4.stop(); err != nil {
		t.Fatal(err)
	}
	if err := metadata.RollbackUpgrade(context.Background(), cfg, &out); err == nil {
		t.Fatal("a rollback after finalizing")
	}
	n5 := start(t, cfg)
	checkDirs(n5, "/after", 2)
}
