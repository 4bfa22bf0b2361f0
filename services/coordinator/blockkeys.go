package coordinator

import (
	"context"
	"time"

	"github.com/granary-fs/granary/internal/blocktoken"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/hadooptoken"
)

// Block keys: the metadata service makes and rolls them (it signs the
// tokens of the blocks it hands out); the coordinator fetches them every
// second, passes them to the datanodes (in registration replies, and as
// HDFS's KEYUPDATE command in the reply to a heartbeat that reports an
// older generation) and signs the tokens of the transfers it commands.

// blockKeysLoop keeps s.blockKeys equal to the metadata service's.
func (s *Service) blockKeysLoop(ctx context.Context) {
	for {
		s.fetchBlockKeys(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// fetchBlockKeys asks the metadata service for its block keys once.
func (s *Service) fetchBlockKeys(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var k blocktoken.Keys
	if err := dnproto.Call(cctx, s.nc, s.subj(dnproto.SubjBlockKeys), struct{}{}, &k); err == nil && k.Generation != s.blockKeys.Generation() {
		s.blockKeys.Update(k)
		s.log.Info("block keys from the metadata service", "keys", k.String())
	}
}

// keysFor returns the keys to send a datanode holding generation gen, or
// nil when it is up to date or block tokens are off.
func (s *Service) keysFor(gen int64) *blocktoken.Keys {
	k := s.blockKeys.Keys()
	if k.Generation == 0 || k.Generation == gen {
		return nil
	}
	return &k
}

// withKeysAndTokens completes a heartbeat reply: KEYUPDATE when the
// datanode's keys are stale, and a token for each block of a TRANSFER.
func (s *Service) withKeysAndTokens(hb *dnproto.Heartbeat, reply dnproto.HeartbeatReply) dnproto.HeartbeatReply {
	if s.blockKeys.Generation() == 0 {
		return reply
	}
	if k := s.keysFor(hb.KeysGeneration); k != nil {
		reply.Commands = append([]dnproto.Command{{Action: dnproto.ActionKeyUpdate, Keys: k}}, reply.Commands...)
	}
	for i, c := range reply.Commands {
		if c.Action != dnproto.ActionTransfer {
			continue
		}
		c.Tokens = make([]string, len(c.Blocks))
		for j, b := range c.Blocks {
			tok, err := s.blockKeys.Issue("", hb.BlockPoolID, b.ID, hadooptoken.Write, hadooptoken.Copy)
			if err != nil {
				s.log.Warn("cannot sign a transfer's block token", "block", b.ID, "err", err)
				continue
			}
			c.Tokens[j] = tok
		}
		reply.Commands[i] = c
	}
	return reply
}
