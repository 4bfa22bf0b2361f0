package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// EditLog is the namespace's Journal in PostgreSQL. Appended ops collect in
// an open batch; one writer goroutine commits a whole batch in a single
// statement (group commit) while the next batch fills, then wakes every
// waiter of the committed batch, and lets the next batch grow a moment
// for them (gather). A batch is committed only while this
// process's writer epoch is current, so a fenced process can never commit.
//
// If PostgreSQL refuses a batch, the writer retries that same batch for
// RetryFor while the namespace refuses new mutations (Failing reports it);
// after that the edit log fails for good and Run returns the error, which
// stops the service: memory and log must never diverge.
type EditLog struct {
	store    *Store
	epoch    int64
	retryFor time.Duration
	log      *slog.Logger

	mu   sync.Mutex
	cur  *batch
	kick chan struct{}

	// NoGather commits whatever is queued at once (set before Run), as
	// HDFS's FSEditLog does; benchmarks compare with it.
	NoGather bool
	// target is how many ops the open batch should hold before it is
	// committed: those queued when the last batch committed and as many
	// as that batch held, its waiters answered then and likely to append
	// again; lastCommit bounds how long the writer waits for them. After
	// gatherMisses waits in a row ran out (waiters that do not come back
	// soon: clients busy elsewhere between their calls), gatherOff
	// batches are committed without waiting, then waiting is tried again.
	target       int
	lastCommit   time.Duration
	gatherMisses int
	gatherOff    int

	failing   atomic.Bool
	committed atomic.Int64
	metrics   EditLogMetrics
	// onCommit, when set, is called by the writer goroutine after each
	// committed batch with its last txid and its block changes, in order.
	onCommit func(lastTxID int64, changes []namespace.BlockChange)
}

// Epoch is the writer epoch this log commits under.
func (l *EditLog) Epoch() int64 { return l.epoch }

// OnCommit sets the function told of every committed batch; set it before Run.
func (l *EditLog) OnCommit(fn func(lastTxID int64, changes []namespace.BlockChange)) { l.onCommit = fn }

// EditLogMetrics receives the edit log's figures (Prometheus in the service).
type EditLogMetrics interface {
	BatchCommitted(ops int, d time.Duration)
}

type batch struct {
	txids   []int64
	ops     []namespace.Op
	changes []namespace.BlockChange
	done    chan struct{}
	err     error
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// Wait waits until the batch is committed (or failed).
func (b *batch) Wait(ctx context.Context) error {
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewEditLog returns an edit log writing with epoch after txid lastTxID.
func (s *Store) NewEditLog(epoch, lastTxID int64, retryFor time.Duration, m EditLogMetrics, log *slog.Logger) *EditLog {
	l := &EditLog{store: s, epoch: epoch, retryFor: retryFor, log: log, cur: newBatch(), kick: make(chan struct{}, 1), metrics: m}
	l.committed.Store(lastTxID)
	return l
}

// Append queues op at txid; it never blocks on I/O.
func (l *EditLog) Append(txid int64, op namespace.Op, changes []namespace.BlockChange) namespace.Commit {
	l.mu.Lock()
	b := l.cur
	b.txids = append(b.txids, txid)
	b.ops = append(b.ops, op)
	b.changes = append(b.changes, changes...)
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return b
}

// Failing reports whether the edit log cannot commit right now.
func (l *EditLog) Failing() bool { return l.failing.Load() }

// Committed returns the last committed txid.
func (l *EditLog) Committed() int64 { return l.committed.Load() }

// Run commits batches until ctx is done, then commits what is queued and
// returns. A batch that cannot be committed within RetryFor, or a fenced
// epoch, ends Run with the error.
func (l *EditLog) Run(ctx context.Context) error {
	for {
		select {
		case <-l.kick:
		case <-ctx.Done():
			// Flush what was appended before the stop.
			return l.flush(context.Background())
		}
		if !l.NoGather {
			l.gather(ctx)
		}
		if err := l.flush(ctx); err != nil {
			return err
		}
	}
}

// gather lets the open batch grow before it is committed: it waits, at
// most half the last commit's time (and maxGather), until the batch
// reaches target. Under load from callers that append again as soon as
// they are answered (HDFS's NNThroughputBenchmark, a busy namespace), the
// waiters of one batch then join the next instead of forming a cohort of
// their own, and each commit carries about twice the edits; callers that
// go elsewhere between calls make the waits run out, and gathering pauses.
func (l *EditLog) gather(ctx context.Context) {
	if l.gatherOff > 0 {
		l.gatherOff--
		return
	}
	l.mu.Lock()
	n := len(l.cur.ops)
	l.mu.Unlock()
	if n >= l.target {
		return
	}
	t := time.NewTimer(min(l.lastCommit/2, maxGather))
	defer t.Stop()
	for {
		select {
		case <-l.kick:
		case <-t.C:
			if l.gatherMisses++; l.gatherMisses >= gatherMissesAllowed {
				l.gatherMisses, l.gatherOff = 0, gatherPause
			}
			return
		case <-ctx.Done():
			return
		}
		l.mu.Lock()
		n := len(l.cur.ops)
		l.mu.Unlock()
		if n >= l.target {
			l.gatherMisses = 0
			return
		}
	}
}

// gatherMissesAllowed waits in a row may run out before gathering pauses
// for gatherPause batches; maxGather bounds a wait whatever the last
// commit took (a retried one).
const (
	gatherMissesAllowed = 3
	gatherPause         = 64
)

var maxGather = 2 * time.Millisecond // a variable for tests

func (l *EditLog) flush(ctx context.Context) error {
	for {
		l.mu.Lock()
		b := l.cur
		if len(b.ops) == 0 {
			l.mu.Unlock()
			return nil
		}
		l.cur = newBatch()
		l.mu.Unlock()
		start := time.Now()
		err := l.commitWithRetry(ctx, b)
		l.lastCommit = time.Since(start)
		b.err = err
		if err != nil {
			close(b.done)
			l.failing.Store(true)
			// Everything queued behind the failed batch fails too.
			l.mu.Lock()
			rest := l.cur
			l.cur = newBatch()
			l.mu.Unlock()
			rest.err = err
			close(rest.done)
			return err
		}
		// Committed() and the block changes are up to date before any
		// waiter of the batch is answered.
		last := b.txids[len(b.txids)-1]
		l.committed.Store(last)
		if l.onCommit != nil {
			l.onCommit(last, b.changes)
		}
		l.mu.Lock()
		l.target = len(l.cur.ops) + len(b.ops)
		l.mu.Unlock()
		close(b.done)
		if ctx.Err() == nil {
			return nil
		}
	}
}

func (l *EditLog) commitWithRetry(ctx context.Context, b *batch) error {
	deadline := time.Now().Add(l.retryFor)
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := l.commit(ctx, b)
		if err == nil {
			l.recovered(attempt)
			if l.metrics != nil {
				l.metrics.BatchCommitted(len(b.ops), time.Since(start))
			}
			return nil
		}
		if errors.Is(err, ErrFenced) {
			return err
		}
		// The commit may have happened even though we saw an error.
		if ok, cerr := l.isCommitted(b); cerr == nil && ok {
			l.recovered(attempt + 1)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: txids %d-%d after %d attempts: %w",
				ErrCommitFailed, b.txids[0], b.txids[len(b.txids)-1], attempt, err)
		}
		l.failing.Store(true)
		l.log.Error("edit log commit failed; retrying", "err", err, "attempt", attempt)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// recovered ends a failure after a batch committed at the given attempt:
// the namespace takes mutations again.
func (l *EditLog) recovered(attempt int) {
	if attempt > 1 && l.failing.Swap(false) {
		l.log.Info("edit log is committing again", "attempts", attempt)
	}
}

func (l *EditLog) isCommitted(b *batch) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int64
	err := l.store.Pool.QueryRow(ctx, `SELECT count(*) FROM edit_log WHERE txid = $1 AND epoch = $2`,
		b.txids[len(b.txids)-1], l.epoch).Scan(&n)
	return n == 1, err
}

// commitSQL inserts a whole batch in one statement, but only while epoch is
// the current writer epoch: FOR SHARE makes a concurrent epoch claim wait
// for this statement and then see its edits.
const commitSQL = `INSERT INTO edit_log (txid, epoch, op, payload, crc)
SELECT u.t, $2, u.o, u.p, u.c FROM unnest($1::bigint[], $3::smallint[], $4::bytea[], $5::integer[]) AS u(t, o, p, c)
WHERE EXISTS (SELECT 1 FROM namespace_info WHERE writer_epoch = $2 FOR SHARE)`

func (l *EditLog) commit(ctx context.Context, b *batch) error {
	n := len(b.ops)
	codes := make([]int16, n)
	payloads := make([][]byte, n)
	crcs := make([]int32, n)
	for i, op := range b.ops {
		codes[i] = int16(op.Code())
		payloads[i] = namespace.EncodeOp(op)
		crcs[i] = RecordCRC(b.txids[i], op.Code(), payloads[i])
	}
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tag, err := l.store.Pool.Exec(cctx, commitSQL, b.txids, l.epoch, codes, payloads, crcs)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != int64(n) {
		return ErrFenced
	}
	return nil
}

// RecordCRC is the CRC32C of one edit record: txid (8 bytes big-endian),
// op code (1 byte), payload.
func RecordCRC(txid int64, code namespace.OpCode, payload []byte) int32 {
	var hdr [9]byte
	binary.BigEndian.PutUint64(hdr[:8], uint64(txid))
	hdr[8] = byte(code)
	c := crc32.Update(0, castagnoli, hdr[:])
	return int32(crc32.Update(c, castagnoli, payload))
}

// ErrEditLog is returned (wrapped) for a gap or a corrupt record.
var ErrEditLog = errors.New("edit log is inconsistent")

// ReadEdits streams the edits after txid in order to fn, verifying that
// txids are dense and every record's CRC. It returns the last txid read.
func (s *Store) ReadEdits(ctx context.Context, after int64, fn func(txid int64, op namespace.Op) error) (int64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT txid, op, payload, crc FROM edit_log WHERE txid > $1 ORDER BY txid`, after)
	if err != nil {
		return after, err
	}
	defer rows.Close()
	last := after
	var txid int64
	var code int16
	var payload []byte
	var crc int32
	for rows.Next() {
		if err := rows.Scan(&txid, &code, &payload, &crc); err != nil {
			return last, err
		}
		if txid != last+1 {
			return last, fmt.Errorf("%w: gap after txid %d: next record is txid %d", ErrEditLog, last, txid)
		}
		if RecordCRC(txid, namespace.OpCode(code), payload) != crc {
			return last, fmt.Errorf("%w: txid %d fails its checksum", ErrEditLog, txid)
		}
		op, err := namespace.DecodeOp(namespace.OpCode(code), payload)
		if err != nil {
			return last, fmt.Errorf("%w: txid %d: %v", ErrEditLog, txid, err)
		}
		if err := fn(txid, op); err != nil {
			return last, fmt.Errorf("%w: %v", ErrEditLog, err)
		}
		last = txid
	}
	return last, rows.Err()
}

// CountEdits returns how many edits follow txid.
func (s *Store) CountEdits(ctx context.Context, after int64) (int64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM edit_log WHERE txid > $1`, after).Scan(&n)
	return n, err
}

// MaxTxID returns the newest committed txid (0 when the log is empty and no
// image is newer).
func (s *Store) MaxTxID(ctx context.Context) (int64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `SELECT greatest((SELECT coalesce(max(txid), 0) FROM edit_log), (SELECT coalesce(max(txid), 0) FROM fsimage))`).Scan(&n)
	return n, err
}

// DeleteEditsAfter removes every edit after txid (metadata recovery drops
// the unreadable tail) and returns how many went.
func (s *Store) DeleteEditsAfter(ctx context.Context, txid int64) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM edit_log WHERE txid > $1`, txid)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
