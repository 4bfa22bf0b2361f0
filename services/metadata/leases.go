package metadata

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/lifecycle"
)

// leaseManager is HDFS's LeaseManager: the last renewal of each lease
// holder (soft state: after a restart every holder starts afresh). A
// holder past the hard limit loses its files: they are closed at the
// length the datanodes hold. Past the soft limit, another client may take a
// file over (create with overwrite, append).
type leaseManager struct {
	mu      sync.Mutex
	renewed map[string]time.Time
	now     func() time.Time
}

func newLeaseManager() *leaseManager {
	return &leaseManager{renewed: map[string]time.Time{}, now: time.Now}
}

func (l *leaseManager) renew(holder string) {
	l.mu.Lock()
	l.renewed[holder] = l.now()
	l.mu.Unlock()
}

// expired reports whether holder has not renewed for longer than limit; a
// holder never seen starts its lease now.
func (l *leaseManager) expired(holder string, limit time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.renewed[holder]
	if !ok {
		l.renewed[holder] = l.now()
		return false
	}
	return l.now().Sub(t) > limit
}

// prune forgets the holders that hold no file and have not renewed for
// longer than limit: every client name would stay otherwise.
func (l *leaseManager) prune(holding map[string][]string, limit time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for h, t := range l.renewed {
		if _, ok := holding[h]; !ok && l.now().Sub(t) > limit {
			delete(l.renewed, h)
		}
	}
}

// leaseLoop checks leases every LeaseCheck (2 s): it finishes the truncate
// recoveries in progress (HDFS's NameNode resends a block recovery that
// did not finish) and recovers the files of holders past the hard limit.
func (s *Service) leaseLoop(ctx context.Context) error {
	s.whileActive(ctx, s.cfg.LeaseCheck, func(time.Time) {
		for _, tr := range s.namespace().Truncating() {
			if err := s.recoverTruncate(ctx, tr); err != nil {
				s.log.Warn("truncate recovery failed", "path", tr.Path, "err", err)
			}
		}
		holding := s.namespace().UnderConstruction()
		s.leases.prune(holding, s.cfg.LeaseHardLimit)
		for holder, paths := range holding {
			if !s.leases.expired(holder, s.cfg.LeaseHardLimit) {
				continue
			}
			for _, p := range paths {
				if err := s.recoverLease(ctx, p, holder); err != nil {
					s.log.Warn("lease recovery failed", "path", p, "holder", holder, "err", err)
				}
			}
		}
	})
	return nil
}

// whileActive calls fn every period until ctx ends, skipping the ticks
// when the namespace is not loaded yet or in safe mode (when it may not
// change).
func (s *Service) whileActive(ctx context.Context, period time.Duration, fn func(now time.Time)) {
	lifecycle.Every(ctx, period, func() {
		if s.ns.Load() != nil && !s.safe.On() {
			fn(time.Now())
		}
	})
}

// recoverLease closes path, held by holder, at the length the datanodes
// hold of its last block (the shortest replica), dropping a last block no
// datanode holds. Replicas of the last block under a newer generation
// stamp — a pipeline recovery or an append the datanodes finished but the
// writer never recorded with updatePipeline — are adopted, stamp and
// shortest length, as HDFS's block recovery would.
func (s *Service) recoverLease(ctx context.Context, path, holder string) error {
	ns := s.namespace()
	h, blocks, lastOpen, err := ns.LeaseOf(path)
	if err != nil || h != holder {
		return err
	}
	if tr, ok := ns.TruncatingOf(path); ok {
		// A truncate's lease ends with its recovery, at the new length.
		return s.recoverTruncate(ctx, tr)
	}
	adopted := false
	if len(blocks) > 0 {
		last := &blocks[len(blocks)-1]
		newer, err := s.askLocations(ctx, dnproto.LocationsRequest{Blocks: []int64{last.ID}, Newer: true})
		if err != nil {
			return err
		}
		if gs := newer[0].GenStamps; len(gs) > 0 {
			top := slices.Max(gs)
			n := int64(-1)
			for i, g := range gs {
				if g == top && (n < 0 || newer[0].Lengths[i] < n) {
					n = newer[0].Lengths[i]
				}
			}
			last.GenStamp, last.NumBytes, adopted = top, n, true
		}
	}
	if lastOpen && !adopted {
		last := blocks[len(blocks)-1]
		locs, err := s.locations(ctx, []int64{last.ID}, "")
		if err != nil {
			return err
		}
		if lengths := locs[0].Lengths; len(lengths) > 0 {
			n := lengths[0]
			for _, l := range lengths {
				n = min(n, l)
			}
			blocks[len(blocks)-1].NumBytes = n
		} else {
			blocks = blocks[:len(blocks)-1]
		}
	}
	if err := ns.RecoverLease(ctx, path, holder, blocks); err != nil {
		return err
	}
	var size int64
	for _, b := range blocks {
		size += b.NumBytes
	}
	s.log.Info("lease recovered: file closed", "path", path, "holder", holder, "length", size, "newerStampAdopted", adopted)
	return nil
}

// takeOver recovers path first when another client's lease on it is past
// the soft limit, so that create-with-overwrite or append can proceed. It
// says whether it did.
func (s *Service) takeOver(ctx context.Context, path, client string) (recovered bool) {
	holder, _, _, err := s.namespace().LeaseOf(path)
	if err != nil || holder == "" || holder == client {
		return false
	}
	if !s.leases.expired(holder, s.cfg.LeaseSoftLimit) {
		return false
	}
	if err := s.recoverLease(ctx, path, holder); err != nil {
		s.log.Warn("soft-limit lease recovery failed", "path", path, "holder", holder, "err", err)
		return false
	}
	return true
}

// leaseHeld says whether err refuses a change because another client holds
// the file (its writer, or a recovery in progress).
func leaseHeld(err error) bool {
	return errs.Is(err, errs.AlreadyBeingCreated) || errs.Is(err, errs.RecoveryInProgress)
}
