package datanode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/lifecycle"
	"github.com/granary-fs/granary/services/datanode/internal/storage"
)

// blockScanner is HDFS's VolumeScanner: per volume, it reads every
// finalized replica, checksums verified, at most ScanBytesPerSecond, once
// per ScanPeriod; a corrupt replica is reported to the coordinator (which
// replaces it, then deletes it). Its cursor (the last block ID verified) is
// saved in the block pool's scanner.cursor file, so a restart resumes.
func (s *Service) blockScanner(ctx context.Context, v *storage.Volume) {
	for ctx.Err() == nil {
		pools := s.blockPools()
		if len(pools) == 0 || v.Failed() != nil {
			if !lifecycle.Sleep(ctx, time.Second) {
				return
			}
			continue
		}
		// Every block pool on the volume in turn, as HDFS's VolumeScanner.
		wait := time.Minute
		ran := false
		for _, bpid := range pools {
			did, next := s.scanPool(ctx, v, bpid)
			ran = ran || did
			wait = min(wait, next)
			if ctx.Err() != nil || v.Failed() != nil {
				break
			}
		}
		if !ran && !lifecycle.Sleep(ctx, wait) {
			return // every pool's pass is recent: wait for the next period
		}
	}
}

// scanPool makes one pass over bpid's replicas on v, unless one finished
// within the scan period; it reports whether it scanned, and otherwise how
// long until the next pass is due.
func (s *Service) scanPool(ctx context.Context, v *storage.Volume, bpid string) (bool, time.Duration) {
	cf := openCursor(cursorPath(v, bpid), time.Now())
	cur := &cf.cur
	start := time.Now()
	if !cur.Start.IsZero() && cur.Last == 0 && time.Since(cur.Start) < s.cfg.ScanPeriod {
		return false, s.cfg.ScanPeriod - time.Since(cur.Start)
	}
	if cur.Last == 0 {
		cur.Start = start
	}
	for _, r := range s.store.ReplicasOn(bpid, v) {
		if r.ID <= cur.Last {
			continue
		}
		if ctx.Err() != nil || v.Failed() != nil {
			s.saveCursor(cf)
			return true, 0
		}
		s.scanReplica(ctx, bpid, r)
		if ctx.Err() != nil {
			// Stopped inside the replica: it is scanned again next time.
			continue
		}
		if err := cf.advance(r.ID, time.Now()); err != nil {
			s.log.Warn("block scanner could not save its cursor", "volume", v.Dir, "err", err)
		}
	}
	if ctx.Err() != nil {
		// Stopped inside the last replica: the pass is not complete.
		s.saveCursor(cf)
		return true, 0
	}
	cur.Last = 0 // the pass is complete
	s.saveCursor(cf)
	s.log.Info("block scanner pass complete", "volume", v.Dir, "block_pool", bpid, "took", time.Since(start))
	return true, 0
}

// cursorPath is where the scanner keeps its cursor of bpid on v.
func cursorPath(v *storage.Volume, bpid string) string {
	return filepath.Join(v.Dir, "current", bpid, "scanner.cursor")
}

// beginPasses begins the scanner's pass of block pool bpid, which the
// datanode has just taken up, on every volume where the pool has no cursor
// and no replica: as HDFS's VolumeScanner begins a pool's iteration when
// the pool is enabled, and finds it at its end, that pass over nothing is
// complete at once, and the replicas written from then on wait for the
// next period. Left to the scanner, which looks for new pools every
// second, the pass would take in the replicas written meanwhile.
func (s *Service) beginPasses(bpid string) {
	if s.cfg.ScanPeriod <= 0 {
		return
	}
	now := time.Now()
	for _, v := range s.store.Volumes() {
		path := cursorPath(v, bpid)
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) || len(s.store.ReplicasOn(bpid, v)) > 0 {
			continue
		}
		s.saveCursor(&cursorFile{path: path, cur: scanCursor{Start: now}})
	}
}

// saveCursor saves cf now, logging a failure (the pass goes on; a restart
// rescans from the last cursor saved).
func (s *Service) saveCursor(cf *cursorFile) {
	if err := cf.save(time.Now()); err != nil {
		s.log.Warn("block scanner could not save its cursor", "file", cf.path, "err", err)
	}
}

type scanCursor struct {
	Start time.Time `json:"start"`
	Last  int64     `json:"last"`
}

// cursorSaveInterval is how often a pass saves its cursor (HDFS's
// dfs.block.scanner.cursor.save.interval.ms, 10 minutes): a restart
// resumes from the last cursor saved, rescanning at most that long's
// replicas. The end of a pass and a stop save it too.
const cursorSaveInterval = 10 * time.Minute

// cursorFile is a block pool's scanner.cursor on a volume.
type cursorFile struct {
	path  string
	cur   scanCursor
	saved time.Time // when cur was last saved (or read)
}

// openCursor reads the cursor saved at path; none (or one that does not
// decode) starts a pass from the beginning.
func openCursor(path string, now time.Time) *cursorFile {
	f := &cursorFile{path: path, saved: now}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &f.cur)
	}
	return f
}

// advance records that the replica id is verified, saving the cursor when
// cursorSaveInterval has passed since it was last saved.
func (f *cursorFile) advance(id int64, now time.Time) error {
	f.cur.Last = id
	if now.Sub(f.saved) < cursorSaveInterval {
		return nil
	}
	return f.save(now)
}

// save writes the cursor whole: to a temporary file, then renamed over the
// old one, so a crash leaves the old cursor or the new one.
func (f *cursorFile) save(now time.Time) error {
	b, err := json.Marshal(f.cur)
	if err != nil {
		return err
	}
	// A file of its own: the pass beginning with a new pool
	// (beginPasses) may save at the same time.
	tmp, err := os.CreateTemp(filepath.Dir(f.path), "scanner.cursor.*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	f.saved = now
	return nil
}

// scanReplica verifies one replica at the configured bandwidth.
func (s *Service) scanReplica(ctx context.Context, bpid string, r storage.Replica) {
	// The CRCs on disk, not those kept for readers: the scanner checks
	// the meta file too.
	rr, err := s.store.OpenReplicaOnDisk(bpid, r.ID)
	if err != nil {
		s.reportUnreadable(err)
		return // deleted meanwhile, or found unreadable and reported
	}
	defer rr.Close()
	// As HDFS's VolumeScanner: what the scanner reads leaves the page
	// cache behind it, not to push out what readers use.
	rr.DropBehind()
	_, err = rr.ReadVerified(&throttled{ctx: ctx, rate: s.cfg.ScanBytesPerSecond}, 0, rr.NumBytes)
	if errors.Is(err, storage.ErrChecksum) {
		s.log.Error("block scanner found a corrupt replica", "block", r.ID, "err", err)
		s.metrics.corruptFound.Inc()
		s.reportBad(bpid, dnproto.BlockRef{ID: r.ID, GenStamp: r.GenStamp, NumBytes: r.NumBytes}, r.Volume.StorageID)
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
		if !lifecycle.Sleep(t.ctx, time.Duration(int64(len(p))*int64(time.Second)/t.rate)) {
			return 0, t.ctx.Err()
		}
	}
	return len(p), nil
}

var _ io.Writer = (*throttled)(nil)

// volumeChecker probes the volumes every VolumeCheckInterval. A failed
// volume is taken out: its replicas are reported DELETED so the coordinator
// re-replicates them, heartbeats report it failed, and more failures than
// failed.volumes.tolerated stop the datanode (its error ends Run).
func (s *Service) volumeChecker(ctx context.Context) error {
	for lifecycle.Sleep(ctx, s.cfg.VolumeCheckInterval) {
		failed, lost := s.store.CheckVolumes()
		s.metrics.volumeChecks.Inc()
		if len(failed) == 0 {
			continue
		}
		for _, v := range failed {
			s.log.Error("volume failed and was taken out", "volume", v.Dir, "err", v.Failed())
		}
		// Its replicas of every block pool are reported deleted, each to
		// its own nameservice.
		for bpid, reps := range lost {
			var items []dnproto.ReceivedDeleted
			for _, r := range reps {
				items = append(items, dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: r.ID, GenStamp: r.GenStamp, NumBytes: r.NumBytes}, Status: dnproto.Deleted, StorageID: r.Volume.StorageID})
			}
			s.log.Error("replicas lost with the failed volumes", "block_pool", bpid, "replicas", len(items))
			s.queueIBR(bpid, items...)
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
	for lifecycle.Sleep(ctx, s.cfg.DirectoryScanInterval) {
		for _, bpid := range s.blockPools() {
			s.scanDirectories(bpid)
		}
	}
}

// scanDirectories reconciles one block pool's replica map with the disks.
func (s *Service) scanDirectories(bpid string) {
	diff, err := s.store.ReconcileDisk(bpid)
	if err != nil {
		s.log.Warn("directory scan failed", "block_pool", bpid, "err", err)
		return
	}
	var items []dnproto.ReceivedDeleted
	for _, r := range append(diff.Added, diff.Changed...) {
		items = append(items, dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: r.ID, GenStamp: r.GenStamp, NumBytes: r.NumBytes}, Status: dnproto.Received, StorageID: r.Volume.StorageID})
	}
	for _, r := range diff.Removed {
		items = append(items, dnproto.ReceivedDeleted{Block: dnproto.BlockRef{ID: r.ID, GenStamp: r.GenStamp, NumBytes: r.NumBytes}, Status: dnproto.Deleted, StorageID: r.Volume.StorageID})
	}
	if len(items) > 0 {
		s.log.Info("directory scan found differences", "block_pool", bpid, "added", len(diff.Added), "removed", len(diff.Removed), "changed", len(diff.Changed))
		s.queueIBR(bpid, items...)
	}
}
