package metadata

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// checkpointLoop checks every checkpoint.check.period whether
// checkpoint.txns edits have accumulated or checkpoint.period has passed,
// and then checkpoints in the background.
func (s *Service) checkpointLoop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.CheckpointCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.checkpointKick:
		}
		if !s.needCheckpoint() {
			continue
		}
		if err := s.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("checkpoint failed", "err", err)
		}
	}
}

func (s *Service) needCheckpoint() bool {
	e := s.edits.Load()
	if e == nil {
		return false
	}
	since := e.Committed() - s.lastImageTxID.Load()
	if since <= 0 {
		return false
	}
	age := time.Since(time.UnixMilli(s.lastImageAt.Load()))
	return since >= s.cfg.CheckpointTxns || age >= s.cfg.CheckpointPeriod
}

// Checkpoint saves a new image without stopping writers, the way HDFS's
// checkpointer does: it loads the newest image into a separate namespace,
// replays the committed edits onto it and saves that. The live namespace's
// lock is never taken.
func (s *Service) Checkpoint(ctx context.Context) error {
	s.checkpointMu.Lock()
	defer s.checkpointMu.Unlock()
	images, err := s.store.Images(ctx)
	if err != nil {
		return err
	}
	var shadow *namespace.Namespace
	for _, img := range images {
		if shadow, err = s.loadImage(ctx, img); err == nil {
			break
		}
		s.log.Error("checkpoint: fsimage unusable, trying an older one", "txid", img.TxID, "err", err)
	}
	if shadow == nil {
		return fmt.Errorf("checkpoint: no usable fsimage: %w", err)
	}
	if _, err := s.store.ReadEdits(ctx, shadow.TxID(), shadow.Replay); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if shadow.TxID() <= s.lastImageTxID.Load() {
		return nil
	}
	return s.saveImage(ctx, shadow)
}

// SaveNamespace saves the live namespace as a new image; as in HDFS it is
// allowed only in safe mode, where nothing changes the namespace.
func (s *Service) SaveNamespace(ctx context.Context) (int64, error) {
	ns, edits := s.ns.Load(), s.edits.Load()
	if ns == nil || edits == nil {
		return 0, errs.E(errs.Retriable, "NameNode still not started")
	}
	if !s.safe.On() {
		return 0, errs.E(errs.IO, "Safe mode should be turned ON in order to create namespace image.")
	}
	s.checkpointMu.Lock()
	defer s.checkpointMu.Unlock()
	// Mutations admitted just before safe mode was entered may still be
	// committing: the image must not hold anything the log does not.
	deadline := time.Now().Add(30 * time.Second)
	for edits.Committed() < ns.TxID() {
		if time.Now().After(deadline) {
			return 0, errors.New("saveNamespace: edits are not committing")
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := s.saveImage(ctx, ns); err != nil {
		return 0, err
	}
	return ns.TxID(), nil
}

// RollEdits is dfsadmin -rollEdits. Granary's edit log is one PostgreSQL
// table, not segment files, so there is nothing to close: rolling waits
// until every edit applied so far is committed and returns the txid the
// next segment would start at, as HDFS reports it.
func (s *Service) RollEdits(ctx context.Context) (int64, error) {
	ns, edits := s.ns.Load(), s.edits.Load()
	if ns == nil || edits == nil {
		return 0, errs.E(errs.Retriable, "NameNode still not started")
	}
	target := ns.TxID()
	deadline := time.Now().Add(30 * time.Second)
	for edits.Committed() < target {
		if time.Now().After(deadline) {
			return 0, errors.New("rollEdits: edits are not committing")
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return edits.Committed() + 1, nil
}
