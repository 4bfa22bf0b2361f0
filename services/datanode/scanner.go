package datanode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/services/datanode/internal/storage"
)

// blockScanner is HDFS's VolumeScanner: per volume, it reads every
// finalized replica, checksums verified, at most ScanBytesPerSecond, once
// per ScanPeriod; a corrupt replica is reported to the coordinator (which
// replaces it, then deletes it). Its cursor (the last block ID verified) is
// saved in the block pool's scanner.cursor file, so a restart resumes.
func (s *Service) blockScanner(ctx context.Context, v *storage.Volume) {
	for ctx.Err() == nil {
		bpid := s.actor.blockPool()
		if bpid == "" || v.Failed() != nil {
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		cursorFile := filepath.Join(v.Dir, "current", bpid, "scanner.cursor")
		cur := readCursor(cursorFile)
		start := time.Now()
		if !cur.Start.IsZero() && cur.Last == 0 && time.Since(cur.Start) < s.cfg.ScanPeriod {
			// A pass finished recently: wait for the next period.
			if !sleepCtx(ctx, min(s.cfg.ScanPeriod-time.Since(cur.Start), time.Minute)) {
				return
			}
			continue
		}
		if cur.Last == 0 {
			cur.Start = start
		}
		for _, r := range s.store.ReplicasOn(bpid, v) {
			if r.ID <= cur.Last {
				continue
			}
			if ctx.Err() != nil || v.Failed() != nil {
				return
			}
			s.scanReplica(ctx, bpid, r)
			cur.Last = r.ID
			writeCursor(cursorFile, cur)
		}
		cur.Last = 0 // the pass is complete
		writeCursor(cursorFile, cur)
		s.log.Info("block scanner pass complete", "volume", v.Dir, "took", time.Since(start))
	}
}

type scanCursor struct {
	Start time.Time `json:"start"`
	Last  int64     `json:"last"`
}

func readCursor(path string) scanCursor {
	var c scanCursor
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &c)
	}
	return c
}

func writeCursor(path string, c scanCursor) {
	b, _ := json.Marshal(c)
	_ = os.WriteFile(path, b, 0o644)
}

// scanReplica verifies one replica at the configured bandwidth.
func (s *Service) scanReplica(ctx context.Context, bpid string, r storage.Replica) {
	rr, err := s.openReplica(bpid, r.ID)
	if err != nil {
		return // deleted meanwhile, or found unreadable and reported
	}
	defer rr.Close()
	_, err = rr.ReadVerified(&throttled{ctx: ctx, rate: s.cfg.ScanBytesPerSecond}, 0, rr.NumBytes)
	if errors.Is(err, storage.ErrChecksum) {
		s.log.Error("block scanner found a corrupt replica", "block", r.ID, "err", err)
		s.metrics.corruptFound.Inc()
		s.actor.reportBad(dnproto.BlockRef{ID: r.ID, GenStamp: r.GenStamp, NumBytes: r.NumBytes}, r.Volume.StorageID)
	}
	s.metrics.scanned.Inc()
}

// throttled discards what it is given at no more than rate bytes a second.
type throttled struct {
	ctx  context.Context
	rate int64
}

func (t *throttled) Write(p []byte) (int, error) {
	if t.rate > 0 {
		if !sleepCtx(t.ctx, time.Duration(int64(len(p))*int64(time.Second)/t.rate)) {
			return 0, t.ctx.Err()
		}
	}
	return len(p), nil
}

var _ io.Writer = (*throttled)(nil)

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// volumeChecker probes the volumes every VolumeCheckInterval. A failed
// volume is taken out: its replicas are reported DELETED so the coordinator
// re-replicates them, heartbeats report it failed, and more failures than
// failed.volumes.tolerated stop the datanode (its error ends Run).
func (s *Service) volumeChecker(ctx context.Context) error {
	for sleepCtx(ctx, s.cfg.VolumeCheckInterval) {
		bpid := s.actor.blockPool()
		failed, lost := s.store.CheckVolumes(bpid)
		s.metrics.volumeChecks.Inc()
		if len(failed) == 0 {
			continue
		}
		for _, v := range failed {
			s.log.Error("volume failed and was taken out", "volume", v.Dir, "err", v.Failed(), "replicas_lost", len(lost))
		}
		var items []dnproto.ReceivedDeleted
		for _, r := range lost {
			items = append(items, dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: r.ID, GenStamp: r.GenStamp, NumBytes: r.NumBytes}, Status: dnproto.Deleted, StorageID: r.Volume.StorageID})
		}
		if len(items) > 0 {
			s.actor.queueIBR(items...)
		}
		if s.store.FailedVolumes() > s.cfg.FailedVolumesTolerated {
			return fmt.Errorf("more failed volumes than tolerated (dfs.datanode.failed.volumes.tolerated = %d): %d failed",
				s.cfg.FailedVolumesTolerated, s.store.FailedVolumes())
		}
	}
	return nil
}

// directoryScanner reconciles the replica map with the disks every
// DirectoryScanInterval (dfs.datanode.directoryscan.interval, 6 h) and
// reports what changed: new replicas as RECEIVED, vanished ones as DELETED.
func (s *Service) directoryScanner(ctx context.Context) {
	for sleepCtx(ctx, s.cfg.DirectoryScanInterval) {
		bpid := s.actor.blockPool()
		if bpid == "" {
			continue
		}
		diff, err := s.store.ReconcileDisk(bpid)
		if err != nil {
			s.log.Warn("directory scan failed", "err", err)
			continue
		}
		var items []dnproto.ReceivedDeleted
		for _, r := range append(diff.Added, diff.Changed...) {
			items = append(items, dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: r.ID, GenStamp: r.GenStamp, NumBytes: r.NumBytes}, Status: dnproto.Received, StorageID: r.Volume.StorageID})
		}
		for _, r := range diff.Removed {
			items = append(items, dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: r.ID, GenStamp: r.GenStamp, NumBytes: r.NumBytes}, Status: dnproto.Deleted, StorageID: r.Volume.StorageID})
		}
		if len(items) > 0 {
			s.log.Info("directory scan found differences", "added", len(diff.Added), "removed", len(diff.Removed), "changed", len(diff.Changed))
			s.actor.queueIBR(items...)
		}
	}
}
