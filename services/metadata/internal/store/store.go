// Package store keeps the metadata service's durable state in PostgreSQL:
// the namespace identity, the edit log (with group commit and writer-epoch
// fencing) and the chunked, checksummed fsimages. It is the only package of
// the metadata service that imports pgx; it knows ops only as encoded bytes.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/granary-fs/granary/migrations"
)

// LayoutVersion is the metadata layout version Granary writes (HDFS writes
// negative layout versions; so do we, starting where we began).
const LayoutVersion = -1

// Store is a connection pool to the metadata database.
type Store struct {
	Pool *pgxpool.Pool
	// ExtraEditsRetained is dfs.namenode.num.extra.edits.retained (Open
	// sets DefaultExtraEditsRetained).
	ExtraEditsRetained int64
}

// Open connects to url with a pool of at least minConns connections.
func Open(ctx context.Context, url string, maxConns int32) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	return &Store{Pool: pool, ExtraEditsRetained: DefaultExtraEditsRetained}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.Pool.Close() }

// migrationLock is the advisory lock key that serialises migrations.
const migrationLock = 0x6772616e_61727931 // "granary1"

// Migrate applies every migration not applied yet, each in its own
// transaction, under an advisory lock.
func (s *Store) Migrate(ctx context.Context) error {
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, name).Scan(&done); err != nil {
			return err
		}
		if done {
			continue
		}
		sql, err := migrations.FS.ReadFile(name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// NamespaceInfo is the identity of a formatted namespace.
type NamespaceInfo struct {
	ClusterID     string
	NamespaceID   int64
	BlockPoolID   string
	LayoutVersion int
	CTime         int64
}

// ErrNotFormatted is returned by LoadInfo when the namespace was never formatted.
var ErrNotFormatted = errors.New("the namespace is not formatted: run `granary metadata format` first")

// ErrAlreadyFormatted is returned by Format without force on a formatted namespace.
var ErrAlreadyFormatted = errors.New("the namespace is already formatted")

// LoadInfo reads the namespace identity.
func (s *Store) LoadInfo(ctx context.Context) (NamespaceInfo, error) {
	var ni NamespaceInfo
	err := s.Pool.QueryRow(ctx, `SELECT cluster_id, namespace_id, block_pool_id, layout_version, ctime FROM namespace_info`).
		Scan(&ni.ClusterID, &ni.NamespaceID, &ni.BlockPoolID, &ni.LayoutVersion, &ni.CTime)
	if errors.Is(err, pgx.ErrNoRows) || isUndefinedTable(err) {
		return ni, ErrNotFormatted
	}
	return ni, err
}

func isUndefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}

// Format writes a new namespace identity and its first image (at txid 0),
// erasing everything when force is set; without force a formatted namespace
// is refused.
func (s *Store) Format(ctx context.Context, ni NamespaceInfo, image []byte, inodes int64, force bool) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM namespace_info)`).Scan(&exists); err != nil {
			return err
		}
		if exists && !force {
			var cid string
			if err := tx.QueryRow(ctx, `SELECT cluster_id FROM namespace_info`).Scan(&cid); err != nil {
				return err
			}
			return fmt.Errorf("%w (cluster ID %s): use -force to erase it", ErrAlreadyFormatted, cid)
		}
		if _, err := tx.Exec(ctx, `TRUNCATE namespace_info, edit_log, fsimage, fsimage_chunk`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO namespace_info (cluster_id, namespace_id, block_pool_id, layout_version, ctime)
			VALUES ($1, $2, $3, $4, $5)`, ni.ClusterID, ni.NamespaceID, ni.BlockPoolID, ni.LayoutVersion, ni.CTime); err != nil {
			return err
		}
		return insertImage(ctx, tx, 0, image, inodes)
	})
}

// Fenced is returned when another metadata process has claimed a newer
// writer epoch: this process must stop writing.
var ErrFenced = errors.New("fenced: another metadata service has become the writer of this namespace")

// ErrCommitFailed is returned (wrapped) for edits the edit log could not
// commit within its retry window; the service stops after it.
var ErrCommitFailed = errors.New("the edit log cannot commit")

// writerLock is the advisory lock a running writer holds on its own
// connection for its whole life.
const writerLock = 0x6772616e_61727932 // "granary2"

// WriterLock is the session that holds the writer advisory lock.
type WriterLock struct {
	conn *pgxpool.Conn
}

// ErrWriterLocked is returned when another metadata process is the writer.
var ErrWriterLocked = errors.New("another metadata service is running against this database and holds the writer lock")

// LockWriter takes the writer advisory lock without waiting.
func (s *Store) LockWriter(ctx context.Context) (*WriterLock, error) {
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(writerLock)).Scan(&ok); err != nil {
		conn.Release()
		return nil, err
	}
	if !ok {
		conn.Release()
		var holder string
		_ = s.Pool.QueryRow(ctx, `SELECT coalesce(string_agg(a.client_addr::text || ' pid ' || a.pid, ', '), 'unknown')
			FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = $1`, int64(writerLock)).Scan(&holder)
		return nil, fmt.Errorf("%w (held by backend %s)", ErrWriterLocked, holder)
	}
	return &WriterLock{conn: conn}, nil
}

// Alive checks that the session holding the lock is still there (the lock
// goes with it).
func (w *WriterLock) Alive(ctx context.Context) error {
	_, err := w.conn.Exec(ctx, `SELECT 1`)
	return err
}

// Release drops the writer lock.
func (w *WriterLock) Release() {
	_, _ = w.conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(writerLock))
	w.conn.Release()
}

// ClaimEpoch increments the writer epoch and returns it: from now on only
// edits carrying this epoch can be committed.
func (s *Store) ClaimEpoch(ctx context.Context) (int64, error) {
	var epoch int64
	err := s.Pool.QueryRow(ctx, `UPDATE namespace_info SET writer_epoch = writer_epoch + 1 RETURNING writer_epoch`).Scan(&epoch)
	return epoch, err
}

// Redacted returns url without its password, for logs.
func Redacted(url string) string {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "(unparsable database URL)"
	}
	if strings.HasPrefix(cfg.Host, "/") { // a Unix-domain socket's directory
		return fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d", cfg.User, cfg.Database, cfg.Host, cfg.Port)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// SaveBlockKeys stores the block keys (JSON) while epoch is the writer
// epoch; a fenced writer's keys are not stored.
func (s *Store) SaveBlockKeys(ctx context.Context, epoch int64, keys []byte) error {
	tag, err := s.Pool.Exec(ctx, `INSERT INTO block_keys (id, epoch, keys)
		SELECT 1, $1, $2 WHERE EXISTS (SELECT 1 FROM namespace_info WHERE writer_epoch = $1 FOR SHARE)
		ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, keys = excluded.keys`, epoch, keys)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return ErrFenced
	}
	return nil
}

// LoadBlockKeys returns the stored block keys (JSON), or nil.
func (s *Store) LoadBlockKeys(ctx context.Context) ([]byte, error) {
	var keys []byte
	err := s.Pool.QueryRow(ctx, `SELECT keys FROM block_keys WHERE id = 1`).Scan(&keys)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return keys, err
}

// Upgrades of the schema (HDFS's -upgrade/-rollback/-finalize): a metadata
// service started with -upgrade on a database whose schema has migrations
// to apply first records the newest image in upgrade_state, which image
// purging keeps; a rollback goes back to that image (the edits and images
// after it are dropped; migrations only add, so the older service runs on
// the newer schema); finalizing forgets it.

// ensureUpgradeState creates the upgrade bookkeeping when missing.
func (s *Store) ensureUpgradeState(ctx context.Context) error {
	_, err := s.Pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS upgrade_state (
		id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
		image_txid bigint NOT NULL,
		migrations text NOT NULL,
		started_at timestamptz NOT NULL DEFAULT now())`)
	return err
}

// PendingMigrations lists the migrations not applied yet; nil when the
// database was never migrated (not formatted: format applies them all).
func (s *Store) PendingMigrations(ctx context.Context) ([]string, error) {
	var exists bool
	if err := s.Pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return nil, err
	}
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var pending []string
	for _, name := range names {
		var done bool
		if err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, name).Scan(&done); err != nil {
			return nil, err
		}
		if !done {
			pending = append(pending, name)
		}
	}
	return pending, nil
}

// BeginUpgrade records an upgrade (unless one is in progress) and returns
// the txid of the image it keeps.
func (s *Store) BeginUpgrade(ctx context.Context, pending []string) (int64, error) {
	if err := s.ensureUpgradeState(ctx); err != nil {
		return 0, err
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO upgrade_state (id, image_txid, migrations)
		SELECT 1, max(txid), $1 FROM fsimage ON CONFLICT (id) DO NOTHING`, strings.Join(pending, ","))
	if err != nil {
		return 0, err
	}
	txid, _, err := s.UpgradeState(ctx)
	return txid, err
}

// UpgradeState returns the image an upgrade in progress keeps.
func (s *Store) UpgradeState(ctx context.Context) (imageTxID int64, inProgress bool, err error) {
	if err := s.ensureUpgradeState(ctx); err != nil {
		return 0, false, err
	}
	err = s.Pool.QueryRow(ctx, `SELECT image_txid FROM upgrade_state WHERE id = 1`).Scan(&imageTxID)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return imageTxID, err == nil, err
}

// FinalizeUpgrade forgets the upgrade in progress; it reports whether there
// was one.
func (s *Store) FinalizeUpgrade(ctx context.Context) (bool, error) {
	if err := s.ensureUpgradeState(ctx); err != nil {
		return false, err
	}
	tag, err := s.Pool.Exec(ctx, `DELETE FROM upgrade_state`)
	return tag.RowsAffected() > 0, err
}

// RollbackUpgrade returns the namespace to the image the upgrade kept: the
// images and edits after it are deleted, in one transaction, and the
// upgrade is over. It returns the image's txid and the edits dropped.
func (s *Store) RollbackUpgrade(ctx context.Context) (txid, dropped int64, err error) {
	txid, ok, err := s.UpgradeState(ctx)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, errors.New("no upgrade is in progress: there is nothing to roll back to")
	}
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM fsimage WHERE txid > $1`, txid); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM edit_log WHERE txid > $1`, txid)
		if err != nil {
			return err
		}
		dropped = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM upgrade_state`)
		return err
	})
	return txid, dropped, err
}
