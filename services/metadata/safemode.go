package metadata

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/granary-fs/granary/internal/errs"
)

// BlockReports is what safe mode needs from the block map (the
// coordinator): how many complete blocks have at least replication.min
// live replicas, and how many datanodes are live. Without a coordinator
// both are 0.
type BlockReports interface {
	SafeBlocks() int64
	LiveDatanodes() int
}

type noReports struct{}

func (noReports) SafeBlocks() int64  { return 0 }
func (noReports) LiveDatanodes() int { return 0 }

type safeModeStatus int

const (
	smOff safeModeStatus = iota
	smPendingThreshold
	smExtension
)

// SafeMode is HDFS's start-up safe mode (BlockManagerSafeMode) plus the
// manual and resource safe modes of FSNamesystem. Mutations are refused
// while it is on; it leaves by itself when the thresholds are met (after
// the extension, when there are blocks) and never leaves a manual safe mode
// by itself.
type SafeMode struct {
	mu          sync.Mutex
	status      safeModeStatus
	manual      bool
	resourceLow bool        // low disk: left only by a manual leave, as HDFS's
	editsFail   atomic.Bool // the edit log cannot commit: ends with the failure
	threshold   float64
	minDN       int
	extension   time.Duration
	reachedAt   time.Time
	blockTotal  func() int64
	reports     BlockReports
	changed     chan struct{} // closed and replaced on every change
	now         func() time.Time
}

func newSafeMode(threshold float64, minDN int, extension time.Duration, total func() int64) *SafeMode {
	return &SafeMode{
		status: smOff, threshold: threshold, minDN: minDN, extension: extension,
		blockTotal: total, reports: noReports{}, changed: make(chan struct{}), now: time.Now,
	}
}

func (s *SafeMode) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// setReports sets where reported-block counts come from.
func (s *SafeMode) setReports(r BlockReports) {
	s.mu.Lock()
	s.reports = r
	s.mu.Unlock()
}

// activate enters start-up safe mode, unless the thresholds already hold
// (no blocks yet, a threshold of 0, reports already in): then safe mode is
// left at once, with no extension, as HDFS's BlockManagerSafeMode.activate.
func (s *SafeMode) activate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = smPendingThreshold
	if s.thresholdsMet() {
		s.status = smOff
	}
	s.notify()
}

func (s *SafeMode) thresholdBlocks() (safe, total, need int64) {
	total = s.blockTotal()
	need = int64(float64(total) * s.threshold)
	return s.reports.SafeBlocks(), total, need
}

// Awaiting is the start-up progress of safe mode (HDFS's
// AwaitingReportedBlocks step): blocks reported safe and blocks needed.
func (s *SafeMode) Awaiting() (safe, need int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	safe, _, need = s.thresholdBlocks()
	return safe, max(need, 0)
}

func (s *SafeMode) thresholdsMet() bool {
	safe, _, need := s.thresholdBlocks()
	return safe >= need && s.reports.LiveDatanodes() >= s.minDN
}

// checkLocked moves the start-up state machine on.
func (s *SafeMode) checkLocked() {
	switch s.status {
	case smPendingThreshold:
		if s.thresholdsMet() {
			if _, total, _ := s.thresholdBlocks(); total > 0 && s.extension > 0 {
				s.status = smExtension
				s.reachedAt = s.now()
			} else {
				s.status = smOff
			}
		}
	case smExtension:
		if !s.thresholdsMet() {
			s.status = smPendingThreshold
		} else if s.now().Sub(s.reachedAt) >= s.extension {
			s.status = smOff
		}
	}
}

// Check re-evaluates the thresholds (called periodically and when reports arrive).
func (s *SafeMode) Check() {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.status
	s.checkLocked()
	if s.status != before {
		s.notify()
	}
}

// On reports whether mutations are refused.
func (s *SafeMode) On() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onLocked()
}

func (s *SafeMode) onLocked() bool {
	return s.status != smOff || s.manual || s.resourceLow || s.editsFail.Load()
}

// Enter turns manual safe mode on.
func (s *SafeMode) Enter() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manual = true
	s.notify()
}

// Leave turns safe mode off, start-up and low-resource safe mode included
// (dfsadmin -safemode leave): with resources still low the resource check
// puts it back at once, as HDFS's tip warns.
func (s *SafeMode) Leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manual, s.resourceLow = false, false
	s.status = smOff
	s.notify()
}

// EnterResourceLow enters safe mode for low resources (HDFS's
// NameNodeResourceChecker): it stays on until a manual leave.
func (s *SafeMode) EnterResourceLow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.resourceLow {
		s.resourceLow = true
		s.notify()
	}
}

// SetEditsFailing turns on (or off) the safe mode of an edit log that
// cannot commit; it ends with the failure. Unchanged, it costs one atomic
// swap: the guard of every mutation calls it.
func (s *SafeMode) SetEditsFailing(failing bool) {
	if s.editsFail.Swap(failing) != failing {
		s.mu.Lock()
		s.notify()
		s.mu.Unlock()
	}
}

// Changed returns a channel closed at the next change.
func (s *SafeMode) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Tip is HDFS's safe-mode status sentence.
func (s *SafeMode) Tip() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tipLocked()
}

func (s *SafeMode) tipLocked() string {
	if !s.onLocked() {
		return "Safe mode is OFF."
	}
	if s.manual {
		return `Safe mode is ON. It was turned on manually. Use "granary admin -safemode leave" to turn safe mode off.`
	}
	if s.resourceLow {
		return "Safe mode is ON. Resources are low on NN. Please add or free up more resources then turn off safe mode manually. NOTE:  If you turn off safe mode before adding resources, the NN will immediately return to safe mode. Use \"granary admin -safemode leave\" to turn safe mode off."
	}
	if s.editsFail.Load() {
		return "Safe mode is ON. The edit log cannot commit to PostgreSQL right now; safe mode will be turned off automatically once it can."
	}
	safe, total, need := s.thresholdBlocks()
	msg := "Safe mode is ON. "
	if safe < need {
		msg += fmt.Sprintf("The reported blocks %d needs additional %d blocks to reach the threshold %.4f of total blocks %d.\n", safe, need-safe, s.threshold, total)
	} else {
		msg += fmt.Sprintf("The reported blocks %d has reached the threshold %.4f of total blocks %d. ", safe, s.threshold, total)
	}
	if s.minDN > 0 {
		live := s.reports.LiveDatanodes()
		if live < s.minDN {
			msg += fmt.Sprintf("The number of live datanodes %d needs an additional %d live datanodes to reach the minimum number %d.\n", live, s.minDN-live, s.minDN)
		} else {
			msg += fmt.Sprintf("The number of live datanodes %d has reached the minimum number %d. ", live, s.minDN)
		}
	} else {
		msg += "The minimum number of live datanodes is not required. "
	}
	if s.status == smExtension {
		left := s.extension - s.now().Sub(s.reachedAt)
		msg += fmt.Sprintf("In safe mode extension. Safe mode will be turned off automatically in %d seconds.", int(left.Seconds()))
	} else {
		msg += "Safe mode will be turned off automatically once the thresholds have been reached."
	}
	return msg
}

// Guard refuses a mutation while safe mode is on.
func (s *SafeMode) Guard(what string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.onLocked() {
		return nil
	}
	return errs.E(errs.SafeMode, "%s. Name node is in safe mode.\n%s", what, s.tipLocked())
}
