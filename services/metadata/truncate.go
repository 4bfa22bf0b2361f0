package metadata

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"net/http"
	"strconv"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hadooptoken"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// truncateOp truncates a file as HDFS does, in one edit (OP_TRUNCATE). On
// a block boundary it is done: {"boolean": true}. Inside a block, that
// block keeps its ID and its replicas are cut in place under a new
// generation stamp (HDFS's in-place truncate recovery): the file is under
// construction by the call's client name until the datanodes have cut
// them and an OP_CLOSE records the block's new stamp, and the answer is
// {"boolean": false}, HDFS's "wait for the file to be closed". The
// recovery is tried before the answer goes out, so the file is usually
// closed by then; when it cannot finish (no datanode holding the block
// answers, a crash), the lease monitor finishes it.
func (s *Service) truncateOp(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	if !c.p.has("newlength") {
		return errs.E(errs.IllegalArgument, "Required param newlength for op: TRUNCATE is null or empty")
	}
	newLength := c.p.int64("newlength", 0, 0, 1<<62)
	if c.p.err != nil {
		return c.p.err
	}
	// HDFS treats each REST request as a separate client.
	var b [8]byte
	_, _ = rand.Read(b[:])
	clientName := "DFSClient_" + strconv.FormatInt(int64(binary.BigEndian.Uint64(b[:])), 10)
	ns := s.namespace()
	done, err := ns.Truncate(r.Context(), c.user, c.path, newLength, clientName, clientHost(r))
	if err != nil {
		return err
	}
	if !done {
		if tr, ok := ns.TruncatingOf(c.path); ok {
			if err := s.recoverTruncate(r.Context(), tr); err != nil {
				s.log.Warn("truncate recovery not finished; the lease monitor retries it", "path", c.path, "err", err)
			}
		}
	}
	return writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: done})
}

// recoverTruncate finishes truncate recovery tr (HDFS's block recovery of
// a truncate, driven here by the metadata service): every datanode
// holding a replica of the cut block — under its old stamp, or under the
// new one after an interrupted recovery — is asked to cut it to the
// block's new length under the new stamp, and once at least one holds it
// the file is closed with the block's new stamp (commitBlockSynchronization).
// The replicas left under the old stamp are then stale: the coordinator
// deletes them and copies the recovered one.
func (s *Service) recoverTruncate(ctx context.Context, tr namespace.TruncateRecovery) error {
	ids := []int64{tr.Block.ID}
	cur, err := s.locations(ctx, ids, "")
	if err != nil {
		return err
	}
	newer, err := s.askLocations(ctx, dnproto.LocationsRequest{Blocks: ids, Newer: true})
	if err != nil {
		return err
	}
	targets := cur[0].Locations
	for i, d := range newer[0].Locations {
		if newer[0].GenStamps[i] == tr.NewStamp {
			targets = append(targets, d)
		}
	}
	if len(targets) == 0 {
		return errs.E(errs.IO, "truncate recovery of %s: no datanode holds block %d", tr.Path, tr.Block.ID)
	}
	recovered := 0
	var last error
	for _, d := range targets {
		if err := s.truncateReplica(ctx, d, tr); err != nil {
			s.log.Warn("truncate recovery: a datanode did not cut its replica", "path", tr.Path, "block", tr.Block.ID, "datanode", d.IPAddr, "err", err)
			last = err
			continue
		}
		recovered++
	}
	if recovered == 0 {
		return last
	}
	if err := s.namespace().CommitTruncate(ctx, tr); err != nil {
		return err
	}
	s.log.Info("truncate recovered: file closed", "path", tr.Path, "block", tr.Block.ID, "genStamp", tr.NewStamp,
		"length", tr.Block.NumBytes, "replicas", recovered)
	return nil
}

// truncateReplica asks datanode d to cut its replica of tr's block, with
// a WRITE block token for it in token mode.
func (s *Service) truncateReplica(ctx context.Context, d dnproto.DatanodeInfo, tr namespace.TruncateRecovery) error {
	cl, err := s.clientAs(s.cfg.Superuser)
	if err != nil {
		return err
	}
	lb := api.LocatedBlock{Block: api.ExtendedBlock{BlockPoolID: s.info.BlockPoolID, BlockID: tr.Block.ID, GenerationStamp: tr.NewStamp}}
	if s.blockKeys != nil {
		tok, err := s.blockKeys.Issue(s.cfg.Superuser, s.info.BlockPoolID, tr.Block.ID, hadooptoken.Write)
		if err != nil {
			return err
		}
		lb.BlockToken = &api.DelegationToken{URLString: tok}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return cl.CutReplica(ctx, toDatanodes([]dnproto.DatanodeInfo{d})[0], lb, tr.Block.GenStamp, tr.Block.NumBytes)
}
