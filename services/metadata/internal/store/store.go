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
	return &Store{Pool: pool}, nil
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
	var b strings.Builder
	fmt.Fprintf(&b, "postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	return b.String()
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
