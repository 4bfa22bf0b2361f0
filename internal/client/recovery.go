package client

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/packet"
)

// Pipeline recovery (HDFS's DataStreamer): a pipeline that broke, or one
// whose datanode further down failed, goes on under a new generation
// stamp on the survivors, with a datanode added when the
// replace-datanode-on-failure policy asks for one.

func (w *Writer) updatePipeline(old, updated *api.ExtendedBlock) error {
	return w.c.do(w.ctx, http.MethodPost, w.c.native("updatePipeline"), api.UpdatePipelineRequest{
		Path: w.path, ClientName: w.c.clientName, OldBlock: *old, NewBlock: *updated,
	}, nil)
}

// recoverStream recovers the pipeline of b after it broke (HDFS's
// pipeline recovery): the first datanode, and any reported failed, are
// left out; the survivors are cut to the acknowledged length under a new
// generation stamp (a datanode added by the replace-datanode-on-failure
// policy is given a copy of those bytes); a new pipeline continues from
// there and the unacknowledged packets are sent again. A first datanode
// that refused the block (no room), or no survivor with nothing
// acknowledged, makes the block abandoned and written to a new pipeline.
func (w *Writer) recoverStream(b *blockWrite, cause error) error {
	if errs.Is(cause, errs.Checksum) {
		return fmt.Errorf("writing block %d of %s: %w", b.lb.Block.BlockID, w.path, cause)
	}
	b.mu.Lock()
	acked, window, reported, refused := b.acked, b.window, b.failed, b.refused
	b.window = nil
	b.mu.Unlock()
	failedFirst := b.lb.Locations[0]
	excluded := append(slices.Clip(b.excluded), failedFirst.UUID)
	var survivors []api.DatanodeInfo
	for _, d := range b.lb.Locations[1:] {
		if slices.Contains(reported, internalAddr(d)) {
			excluded = append(excluded, d.UUID)
		} else {
			survivors = append(survivors, d)
		}
	}
	fresh := acked == 0
	if (refused && fresh && errs.Is(cause, errs.DiskOutOfSpace)) || (len(survivors) == 0 && fresh) {
		// Nothing was stored that must be kept: as HDFS's DataStreamer
		// when createBlockOutputStream fails, the block is abandoned and a
		// new one allocated without the failed datanode.
		if err := w.abandon(b.lb.Block.BlockID); err != nil {
			return err
		}
		if err := w.startBlock(excluded); err != nil {
			return err
		}
		w.resend(window)
		return nil
	}
	if len(survivors) == 0 {
		return fmt.Errorf("writing block %d of %s: all datanodes are bad (%s failed): %w", b.lb.Block.BlockID, w.path, internalAddr(failedFirst), cause)
	}
	lb, survivors, err := w.newStamp(b, survivors, excluded, acked, !fresh)
	if err != nil {
		return err
	}
	old := b.recovered
	if old == nil {
		old = &b.lb.Block
	}
	appendGS := int64(0)
	if !fresh {
		appendGS = lb.Block.GenerationStamp
	}
	w.blk = newBlockWrite(api.LocatedBlock{Block: lb.Block, StartOffset: b.lb.StartOffset, Locations: survivors, BlockToken: lb.BlockToken},
		excluded, old, appendGS, acked)
	w.openPipeline()
	w.resend(window)
	return nil
}

// recoverClose gives the block's replicas on the datanodes that did not
// fail a new generation stamp (HDFS's PIPELINE_CLOSE_RECOVERY; those after
// the failed one, which the stream did not reach, get a copy), adding a
// datanode when the replace-datanode-on-failure policy asks for one, and
// records the block under it.
func (w *Writer) recoverClose(b *blockWrite, failed []string) (*api.ExtendedBlock, error) {
	var survivors []api.DatanodeInfo
	excluded := slices.Clip(b.excluded)
	for _, d := range b.lb.Locations {
		if slices.Contains(failed, internalAddr(d)) {
			excluded = append(excluded, d.UUID)
		} else {
			survivors = append(survivors, d)
		}
	}
	lb, _, err := w.newStamp(b, survivors, excluded, b.sent, true)
	if err != nil {
		return nil, err
	}
	old := b.recovered
	if old == nil {
		old = &b.lb.Block
	}
	done := &api.ExtendedBlock{BlockPoolID: lb.Block.BlockPoolID, BlockID: lb.Block.BlockID, GenerationStamp: lb.Block.GenerationStamp, NumBytes: b.sent}
	return done, w.updatePipeline(old, done)
}

// newStamp asks for a new generation stamp for b's block; with cut, the
// survivors' replicas are cut to length under it (those that cannot are
// left out). A datanode is added when the replace-datanode-on-failure
// policy asks for one, with a copy of the block's first length bytes.
// It returns the block under the new stamp and its datanodes.
func (w *Writer) newStamp(b *blockWrite, survivors []api.DatanodeInfo, excluded []string, length int64, cut bool) (api.LocatedBlock, []api.DatanodeInfo, error) {
	var lb api.LocatedBlock
	if err := w.c.do(w.ctx, http.MethodPost, w.c.native("updateBlockForPipeline"), api.UpdateBlockForPipelineRequest{
		Path: w.path, ClientName: w.c.clientName, Block: b.lb.Block,
	}, &lb); err != nil {
		return lb, nil, err
	}
	if cut {
		var kept, missing []api.DatanodeInfo
		var last error
		for _, d := range survivors {
			err := w.cutReplica(d, lb, b.lb.Block.GenerationStamp, length)
			if errs.Is(err, errs.ReplicaNotFound) && b.appendGS > 0 && b.appendGS != b.lb.Block.GenerationStamp {
				// A datanode the append never reached holds the replica
				// under its stamp from before.
				err = w.cutReplica(d, lb, b.appendGS, length)
			}
			if err != nil {
				last = err
				missing = append(missing, d)
				continue
			}
			kept = append(kept, d)
		}
		if len(kept) == 0 {
			return lb, nil, fmt.Errorf("writing block %d of %s: all datanodes are bad: %w", b.lb.Block.BlockID, w.path, last)
		}
		// A datanode the stream never reached (the one before it failed)
		// is given a copy.
		for _, d := range missing {
			if w.copyReplica(kept[0], d, lb, length) == nil {
				kept = append(kept, d)
			}
		}
		survivors = kept
	}
	if !w.needsReplacement(len(survivors)) {
		return lb, survivors, nil
	}
	var add api.LocatedBlock
	existing := make([]string, len(survivors))
	for i, d := range survivors {
		existing[i] = d.UUID
	}
	err := w.c.do(w.ctx, http.MethodPost, w.c.native("getAdditionalDatanode"), api.GetAdditionalDatanodeRequest{
		Path: w.path, ClientName: w.c.clientName, Block: b.lb.Block, Existing: existing, Exclude: excluded, NumAdditionalNodes: 1,
	}, &add)
	if err == nil && len(add.Locations) > 0 && length > 0 {
		// HDFS's transferBlock: the new datanode gets the bytes so far.
		err = w.copyReplica(survivors[0], add.Locations[0], lb, length)
	}
	switch {
	case err == nil && len(add.Locations) > 0:
		return lb, append(slices.Clip(survivors), add.Locations[0]), nil
	case w.c.ReplaceDatanodeBestEffort:
		return lb, survivors, nil
	}
	var original, current []string
	for _, d := range b.lb.Locations {
		original = append(original, internalAddr(d))
	}
	for _, d := range survivors {
		current = append(current, internalAddr(d))
	}
	return lb, nil, errs.E(errs.IO, "Failed to replace a bad datanode on the existing pipeline due to no more good datanodes being available to try. (Nodes: current=%v, original=%v). The current failed datanode replacement policy is %s, and a client may configure this via 'dfs.client.block.write.replace-datanode-on-failure.policy' in its configuration.",
		current, original, cmp.Or(w.c.ReplaceDatanodeOnFailure, "DEFAULT"))
}

// cutReplica asks datanode d to cut its replica of lb's block, of stamp
// gs, to length bytes under lb's new stamp; a datanode that does not
// answer in time is left out.
func (w *Writer) cutReplica(d api.DatanodeInfo, lb api.LocatedBlock, gs, length int64) error {
	ctx, cancel := context.WithTimeout(w.ctx, w.c.socketTimeout()+readTimeoutExtension)
	defer cancel()
	return w.c.CutReplica(ctx, d, lb, gs, length)
}

// copyReplica streams the first length bytes of lb's block from datanode
// from to datanode to, under lb's stamp.
func (w *Writer) copyReplica(from, to api.DatanodeInfo, lb api.LocatedBlock, length int64) error {
	src, err := w.c.blockCall(w.ctx, http.MethodGet, fmt.Sprintf("%s://%s/api/v1/blocks/%d?bpid=%s&offset=0&length=%d",
		w.c.scheme, w.c.addr(from), lb.Block.BlockID, lb.Block.BlockPoolID, length), "", nil, lb)
	if err != nil {
		return err
	}
	defer src.Body.Close()
	resp, err := w.c.blockCall(w.ctx, http.MethodPut, fmt.Sprintf("%s://%s/api/v1/blocks/%d?bpid=%s&gs=%d&blocksize=%d",
		w.c.scheme, w.c.addr(to), lb.Block.BlockID, lb.Block.BlockPoolID, lb.Block.GenerationStamp, w.blockSize), packet.ContentType, src.Body, lb)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var res api.BlockWriteResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return err
	}
	if res.Length != length {
		return errs.E(errs.IO, "copy of block %d to %s: %d bytes stored of %d", lb.Block.BlockID, internalAddr(to), res.Length, length)
	}
	return nil
}

// resend sends the packets of window, unacknowledged on a pipeline that
// failed, on the block in flight.
func (w *Writer) resend(window []sentPacket) {
	for _, p := range window {
		w.send(p.buf)
	}
}

// needsReplacement applies the replace-datanode-on-failure policy to a
// pipeline left with n datanodes.
func (w *Writer) needsReplacement(n int) bool {
	r := w.repl
	switch w.c.ReplaceDatanodeOnFailure {
	case "NEVER":
		return false
	case "ALWAYS":
		return n < r
	}
	return r >= 3 && (r/2 >= n || (w.appending && r > n))
}
