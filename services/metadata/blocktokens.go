package metadata

import (
	"context"
	"encoding/json"
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
// datanodes from there. The active also stores them in the database
// (block_keys, under its writer epoch), and a metadata service becoming
// active goes on with them: after a failover or a restart the datanodes
// already hold the keys it signs with, so a token signed at once verifies
// at once. (HDFS reaches the same end differently: both NameNodes make keys
// and the datanodes take them from the standby too.)

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

// resumeBlockKeys goes on with the stored block keys (before the service
// signs or exports any) and stores the set it will sign with.
func (s *Service) resumeBlockKeys(ctx context.Context, epoch int64) {
	if s.blockKeys == nil {
		return
	}
	if data, err := s.store.LoadBlockKeys(ctx); err != nil {
		s.log.Warn("reading the stored block keys failed; making new ones", "err", err)
	} else if data != nil {
		var k blocktoken.Keys
		if err := json.Unmarshal(data, &k); err == nil && s.blockKeys.Resume(k) {
			s.log.Info("block keys resumed from the database", "keys", s.blockKeys.Keys().String())
		}
	}
	s.saveBlockKeys(ctx, epoch)
}

// rollBlockKeys rolls the block keys every update interval until ctx ends,
// storing each new set.
func (s *Service) rollBlockKeys(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(min(time.Minute, s.cfg.BlockKeyUpdateInterval/4)):
		}
		if s.blockKeys.RollIfDue() {
			s.log.Info("block keys rolled", "keys", s.blockKeys.Keys().String())
			s.saveBlockKeys(ctx, s.edits.Load().Epoch())
		}
	}
}

// saveBlockKeys stores the current block keys for the next active.
func (s *Service) saveBlockKeys(ctx context.Context, epoch int64) {
	data, err := json.Marshal(s.blockKeys.Keys())
	if err == nil {
		err = s.store.SaveBlockKeys(ctx, epoch, data)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("storing the block keys failed: a metadata service taking over will make new ones", "err", err)
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
