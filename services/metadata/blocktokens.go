package metadata

import (
	"context"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/blocktoken"
	"github.com/granary-fs/granary/internal/hadooptoken"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// Block access tokens (dfs.block.access.token.enable, on in token mode):
// this service holds the key master (HDFS's BlockTokenSecretManager lives
// in the NameNode too), signs a token for every located or allocated block
// after the permission check that allowed it, and answers the
// coordinator's requests for the keys (SubjBlockKeys), which reach the
// datanodes from there. Keys live in memory only, as HDFS's: a restart
// makes new ones and the datanodes get them at their next heartbeat.

// signBlocks gives each block a token for u with mode (no-op in simple
// mode).
func (s *Service) signBlocks(u *namespace.User, mode hadooptoken.AccessMode, lbs ...*api.LocatedBlock) error {
	if s.blockKeys == nil {
		return nil
	}
	modes := []hadooptoken.AccessMode{mode}
	if mode == hadooptoken.Write {
		// A writer may have a replica copied to a node added to its
		// pipeline (HDFS gives getAdditionalDatanode's blocks COPY).
		modes = append(modes, hadooptoken.Copy)
	}
	for _, lb := range lbs {
		tok, err := s.blockKeys.Issue(u.Name, lb.Block.BlockPoolID, lb.Block.BlockID, modes...)
		if err != nil {
			return err
		}
		lb.BlockToken = &api.DelegationToken{URLString: tok}
	}
	return nil
}

// rollBlockKeys rolls the block keys every update interval until ctx ends.
func (s *Service) rollBlockKeys(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(min(time.Minute, s.cfg.BlockKeyUpdateInterval/4)):
		}
		if s.blockKeys.RollIfDue() {
			s.log.Info("block keys rolled", "keys", s.blockKeys.Keys().String())
		}
	}
}

// exportBlockKeys answers SubjBlockKeys: the keys, or an empty set (block
// tokens off) in simple mode.
func (s *Service) exportBlockKeys(context.Context, []byte) (any, error) {
	if s.blockKeys == nil {
		return blocktoken.Keys{}, nil
	}
	return s.blockKeys.Keys(), nil
}
