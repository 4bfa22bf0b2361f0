package coordinator

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/dnproto"
)

// Coordinator HA. Several coordinators of one nameservice run with
// distinct -coordinator-id values; every datanode reports to each (a
// standby keeps a warm block map) and follows the commands of the active
// only. The active metadata service decides which coordinator is active
// (dnproto.SubjCoordinatorClaim): this coordinator asks every 500 ms, and
// acts as active from a granted answer until CoordinatorLease after it
// sent that ask — the metadata service hands the role on only after a
// lease without an ask from the holder, so two coordinators never act as
// active at once on one metadata service's word; and each grant carries a
// newer claim (epoch, txid), so datanodes that hear an old active late
// ignore it (seed 004). Without an ID the coordinator is the only one and
// always active.

// haState is this coordinator's role.
type haState struct {
	mu     sync.Mutex
	active bool
	until  time.Time // the role lapses then unless renewed
	epoch  int64     // the claim of the grant
	txid   int64
	holder string // the active coordinator, as last told

	subs []*nats.Subscription // the active's subjects (coord.*)
}

// claimInterval is how often a coordinator with an HA ID asks for the role.
const claimInterval = 500 * time.Millisecond

// IsActive reports whether this coordinator acts as the active one.
func (s *Service) IsActive() bool {
	if s.cfg.CoordinatorID == "" {
		return true
	}
	s.ha.mu.Lock()
	defer s.ha.mu.Unlock()
	return s.ha.active && time.Now().Before(s.ha.until)
}

// HAState is "active" or "standby".
func (s *Service) HAState() string {
	if s.IsActive() {
		return "active"
	}
	return "standby"
}

// haStatus is the NNHAStatusHeartbeat of heartbeat replies.
func (s *Service) haStatus(reply *dnproto.HeartbeatReply) {
	if s.cfg.CoordinatorID == "" {
		return // always active; the reply says so with the block map's txid
	}
	active := s.IsActive()
	s.ha.mu.Lock()
	reply.Epoch, reply.TxID = s.ha.epoch, s.ha.txid
	s.ha.mu.Unlock()
	if active {
		reply.HAState = "active"
	} else {
		reply.HAState = "standby"
	}
}

// claimLoop asks for the active role until ctx ends, and steps down when
// the role lapses.
func (s *Service) claimLoop(ctx context.Context) {
	t := time.NewTicker(claimInterval)
	defer t.Stop()
	for {
		s.claimOnce(ctx)
		select {
		case <-ctx.Done():
			s.setActive(false, "the coordinator stops")
			return
		case <-t.C:
		}
	}
}

func (s *Service) claimOnce(ctx context.Context) {
	sent := time.Now()
	cctx, cancel := context.WithTimeout(ctx, claimInterval)
	defer cancel()
	var c dnproto.CoordinatorClaim
	err := dnproto.Call(cctx, s.nc, s.subj(dnproto.SubjCoordinatorClaim), dnproto.CoordinatorClaimRequest{CoordinatorID: s.cfg.CoordinatorID}, &c)
	s.ha.mu.Lock()
	if err == nil {
		s.ha.holder = c.Holder
		if c.Active {
			s.ha.until = sent.Add(dnproto.CoordinatorLease)
			s.ha.epoch, s.ha.txid = c.Epoch, c.TxID
		}
	}
	lapsed := s.ha.active && !time.Now().Before(s.ha.until)
	s.ha.mu.Unlock()
	switch {
	case err == nil && c.Active:
		s.setActive(true, "")
	case err == nil:
		s.setActive(false, "the metadata service made "+c.Holder+" active")
	case lapsed:
		s.setActive(false, "the role lapsed: the active metadata service did not answer ("+err.Error()+")")
	}
}

// setActive moves between the roles. Becoming active subscribes the
// subjects only the active answers (placement, locations, safe-mode
// counts, the cluster views); becoming standby drops them and every
// command not yet sent.
func (s *Service) setActive(active bool, why string) {
	s.ha.mu.Lock()
	defer s.ha.mu.Unlock()
	if s.ha.active == active {
		return
	}
	s.ha.active = active
	if active {
		s.log.Info("coordinator is active", "coordinator", s.cfg.CoordinatorID, "epoch", s.ha.epoch, "txid", s.ha.txid)
		subs, err := s.serve(s.activeHandlers())
		if err != nil {
			s.log.Error("subscribing the active's subjects failed", "err", err)
		}
		s.ha.subs = subs
		s.mgr.SetActive(true)
		// Locations another coordinator answered are not to be kept.
		s.mgr.AnnounceAll()
		return
	}
	s.log.Warn("coordinator is standby", "coordinator", s.cfg.CoordinatorID, "why", why)
	for _, sub := range s.ha.subs {
		_ = sub.Unsubscribe()
	}
	s.ha.subs = nil
	s.mgr.SetActive(false)
}
