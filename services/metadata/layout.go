package metadata

import (
	"context"
	"errors"
	"time"

	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// CreateInitialLayout makes a freshly formatted namespace look like a new
// HDFS cluster's after its administrator's first steps: /tmp (1777, for
// every user's scratch files) and /user (755, the parent of home
// directories), owned by the superuser. It waits for the service to leave
// safe mode and does nothing that is already done, so running it twice
// is harmless. `granary dev` and `granary metadata -format-if-needed` call
// it after a first format.
func (s *Service) CreateInitialLayout(ctx context.Context) error {
	select {
	case <-s.Started():
	case <-ctx.Done():
		return ctx.Err()
	}
	ns := s.namespace()
	if ns == nil {
		return errors.New("the metadata service did not start")
	}
	for s.safe.On() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.safe.Changed():
		case <-time.After(time.Second):
		}
	}
	su := &namespace.User{Name: s.cfg.Superuser, Groups: s.auth().Groups(s.cfg.Superuser)}
	for _, d := range []struct {
		path string
		mode uint16
	}{{"/tmp", 0o1777}, {"/user", 0o755}} {
		if err := ns.Mkdirs(ctx, su, d.path, int(d.mode)); err != nil {
			return err
		}
		// mkdirs applies no sticky bit: set the mode as HDFS's admin does.
		if err := ns.SetPermission(ctx, su, d.path, d.mode); err != nil {
			return err
		}
	}
	return nil
}
