package coordinator

import (
	"context"
	"sync"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
)

// Each datanode speaks on subjects that carry its NATS identity
// (granary.v1.<ns>.dn.<identity>.*), which a secured NATS server lets only that
// identity publish on. The coordinator binds a datanode UUID to the
// identity that registered it and refuses every later message about that
// UUID from another identity: a datanode's credentials cannot speak for
// another datanode. (HDFS binds a registration to the Kerberos principal
// of the RPC connection the same way.)
type identities struct {
	mu sync.Mutex
	m  map[string]string // datanode UUID → NATS identity
}

// bindIdentity records who registered uuid; a UUID bound to another
// identity is refused.
func (s *Service) bindIdentity(ctx context.Context, uuid string) error {
	id := dnproto.IdentityOf(dnproto.Subject(ctx))
	s.idents.mu.Lock()
	defer s.idents.mu.Unlock()
	if bound, ok := s.idents.m[uuid]; ok && bound != id {
		return errs.E(errs.AccessControl, "Datanode %s is registered by NATS identity %s; %s may not register it", uuid, bound, id)
	}
	if s.idents.m == nil {
		s.idents.m = map[string]string{}
	}
	s.idents.m[uuid] = id
	return nil
}

// checkIdentity refuses a message about uuid from an identity other than
// the one that registered it. The metadata service's reports (on its own
// subject) carry no identity and pass.
func (s *Service) checkIdentity(ctx context.Context, uuid string) error {
	id := dnproto.IdentityOf(dnproto.Subject(ctx))
	if id == "" {
		return nil
	}
	s.idents.mu.Lock()
	defer s.idents.mu.Unlock()
	if bound, ok := s.idents.m[uuid]; ok && bound != id {
		return errs.E(errs.AccessControl, "Datanode %s is registered by NATS identity %s; %s may not speak for it", uuid, bound, id)
	}
	return nil
}

// checkPool refuses a message about another block pool than this
// namespace's: block IDs of different pools may be equal and must never
// meet in this block map. (HDFS's NameNode refuses a datanode whose
// registration ID is not its namespace's with UnregisteredNodeException.)
func (s *Service) checkPool(ctx context.Context, bpid string) error {
	ni, err := s.namespaceInfo(ctx)
	if err != nil {
		return err
	}
	if bpid != ni.BlockPoolID {
		return errs.E(errs.Unregistered, "Unregistered server: block pool %s is not this namespace's (%s)", bpid, ni.BlockPoolID)
	}
	return nil
}

// checkSender is checkIdentity and checkPool.
func (s *Service) checkSender(ctx context.Context, uuid, bpid string) error {
	if err := s.checkIdentity(ctx, uuid); err != nil {
		return err
	}
	return s.checkPool(ctx, bpid)
}
