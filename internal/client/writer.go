package client

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/packet"
)

// CreateOptions are the options of Create; zero values take the server's defaults.
type CreateOptions struct {
	Overwrite   bool
	Replication int
	BlockSize   int64
	Permission  uint16
}

// Writer streams a file's bytes into blocks through the datanode pipeline.
// The bytes of the block in flight are kept until the pipeline stored them,
// so that when a datanode fails the block is written again to the
// survivors under a new generation stamp (HDFS's pipeline recovery, with
// its replace-datanode-on-failure policy); with no survivor a new block is
// written to other datanodes. A writer from Append first continues the
// file's partial last block.
type Writer struct {
	c         *Client
	ctx       context.Context
	path      string
	blockSize int64
	repl      int                // the file's replication
	appending bool               // opened by Append (replace-datanode-on-failure counts it)
	prev      *api.ExtendedBlock // the last finished block
	first     *api.LocatedBlock  // allocated by create, not used yet
	appendTo  *api.LocatedBlock  // the partial last block an append continues
	blk       *blockWrite
	pkt       []byte
	closed    bool
	err       error
	stopRenew chan struct{}
	spare     []byte // the block buffer, reused from block to block
	hdr       []byte // a packet header being sent
}

// renewInterval is how often an open writer renews its lease (half the
// 60 s soft limit, as HDFS's LeaseRenewer).
const renewInterval = 30 * time.Second

// renewer keeps the lease alive while the writer is open and its context lives.
func (w *Writer) renewer() {
	w.stopRenew = make(chan struct{})
	go func() {
		t := time.NewTicker(renewInterval)
		defer t.Stop()
		for {
			select {
			case <-w.stopRenew:
				return
			case <-w.ctx.Done():
				return
			case <-t.C:
				_ = w.c.do(w.ctx, http.MethodPost, w.c.native("renewLease"), api.RenewLeaseRequest{ClientName: w.c.clientName}, nil)
			}
		}
	}()
}

type blockWrite struct {
	lb       api.LocatedBlock
	data     []byte // what was sent so far, for a retry
	pw       *io.PipeWriter
	result   chan blockResult
	excluded []string
	// recovered is the block as the namespace knows it while the pipeline
	// writes it under a new generation stamp (updatePipeline records it).
	recovered *api.ExtendedBlock
	// An append continues the replicas of stamp appendGS, which hold base
	// bytes already; data is what follows them.
	appendGS int64
	base     int64
}

type blockResult struct {
	res api.BlockWriteResult
	err error
}

// Create starts a new file (its parents are created) and returns its writer.
// The file's first block is allocated with it, in the same round trip.
func (c *Client) Create(ctx context.Context, path string, opts CreateOptions) (*Writer, error) {
	req := api.CreateRequest{Path: path, ClientName: c.clientName, Overwrite: opts.Overwrite, CreateParent: true,
		Replication: opts.Replication, BlockSize: opts.BlockSize, FirstBlock: true}
	if opts.Permission != 0 {
		req.Permission = strconv.FormatUint(uint64(opts.Permission), 8)
	}
	var cr api.CreateResponse
	if err := c.do(ctx, http.MethodPost, c.native("create"), req, &cr); err != nil {
		return nil, err
	}
	w := &Writer{c: c, ctx: ctx, path: path, blockSize: cr.FileStatus.BlockSize, repl: cr.FileStatus.Replication, first: cr.Block, pkt: make([]byte, 0, packet.MaxData)}
	w.renewer()
	return w, nil
}

// Append reopens a file for writing at its end.
func (c *Client) Append(ctx context.Context, path string) (*Writer, error) {
	var r api.AppendResponse
	if err := c.do(ctx, http.MethodPost, c.native("append"), api.AppendRequest{Path: path, ClientName: c.clientName}, &r); err != nil {
		return nil, err
	}
	w := &Writer{c: c, ctx: ctx, path: path, blockSize: r.FileStatus.BlockSize, repl: r.FileStatus.Replication, appending: true,
		prev: r.LastBlock, pkt: make([]byte, 0, packet.MaxData)}
	if last := r.LastBlock; last != nil && last.NumBytes > 0 && last.NumBytes < w.blockSize {
		// The new bytes continue the partial last block (HDFS's append
		// without NEW_BLOCK), on the datanodes that hold it.
		lbs, err := c.blockLocations(ctx, path)
		if err != nil {
			return nil, err
		}
		if n := len(lbs.LocatedBlocks); n > 0 && lbs.LocatedBlocks[n-1].Block.BlockID == last.BlockID && len(lbs.LocatedBlocks[n-1].Locations) > 0 {
			lb := lbs.LocatedBlocks[n-1]
			lb.Block = *last
			w.appendTo = &lb
		}
	}
	w.renewer()
	return w, nil
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errs.E(errs.IO, "write to a closed writer of %s", w.path)
	}
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if w.blk == nil {
			if err := w.startBlock(nil); err != nil {
				w.err = err
				return written, err
			}
		}
		inBlock := w.blk.base + int64(len(w.blk.data)+len(w.pkt))
		room := packet.MaxData - len(w.pkt)
		if partial := int(w.blk.base % packet.ChunkSize); partial > 0 && len(w.blk.data) == 0 {
			// An append's first packet completes the partial chunk alone.
			room = packet.ChunkSize - partial - len(w.pkt)
		}
		n := min(len(p), room, int(w.blockSize-inBlock))
		w.pkt = append(w.pkt, p[:n]...)
		p = p[n:]
		written += n
		if n == room || inBlock+int64(n) == w.blockSize {
			w.sendPacket()
		}
		if w.blk.base+int64(len(w.blk.data)) == w.blockSize {
			if err := w.finishBlock(); err != nil {
				w.err = err
				return written, err
			}
		}
	}
	return written, nil
}

// sendPacket sends the pending bytes; a broken pipeline shows at finishBlock.
func (w *Writer) sendPacket() {
	if len(w.pkt) == 0 {
		return
	}
	w.blk.data = append(w.blk.data, w.pkt...)
	w.hdr = packet.AppendHeader(w.hdr[:0], w.pkt)
	if _, err := w.blk.pw.Write(w.hdr); err == nil {
		_, _ = w.blk.pw.Write(w.pkt)
	}
	w.pkt = w.pkt[:0]
}

// startBlock allocates the next block (or takes the one create allocated)
// and opens its pipeline.
func (w *Writer) startBlock(excluded []string) error {
	if w.appendTo != nil {
		return w.startAppend()
	}
	req := api.AddBlockRequest{Path: w.path, ClientName: w.c.clientName, Previous: w.prev, ExcludeNodes: excluded}
	var lb api.LocatedBlock
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if w.first != nil {
			lb, w.first = *w.first, nil
			break
		}
		err := w.c.do(w.ctx, http.MethodPost, w.c.native("addBlock"), req, &lb)
		if err == nil {
			break
		}
		// The previous block is not minimally replicated yet: retry, as
		// HDFS's client does.
		if !errs.Is(err, errs.NotReplicatedYet) || attempt >= 8 {
			return err
		}
		select {
		case <-w.ctx.Done():
			return w.ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	if len(lb.Locations) == 0 {
		return errs.E(errs.IO, "addBlock of %s returned no datanodes", w.path)
	}
	w.blk = &blockWrite{lb: lb, excluded: excluded, result: make(chan blockResult, 1)}
	w.blk.data, w.spare = w.spare[:0], nil
	if w.blk.data == nil {
		w.blk.data = make([]byte, 0, min(w.blockSize, packet.MaxData))
	}
	w.openPipeline()
	return nil
}

// startAppend opens a pipeline continuing the partial last block under a
// new generation stamp; updatePipeline records it when it is done.
func (w *Writer) startAppend() error {
	lb := *w.appendTo
	w.appendTo = nil
	var nb api.LocatedBlock
	if err := w.c.do(w.ctx, http.MethodPost, w.c.native("updateBlockForPipeline"), api.UpdateBlockForPipelineRequest{
		Path: w.path, ClientName: w.c.clientName, Block: lb.Block,
	}, &nb); err != nil {
		return err
	}
	old := lb.Block
	w.blk = &blockWrite{
		lb:       api.LocatedBlock{Block: nb.Block, StartOffset: lb.StartOffset, Locations: lb.Locations, BlockToken: nb.BlockToken},
		result:   make(chan blockResult, 1),
		appendGS: old.GenerationStamp, base: old.NumBytes, recovered: &old,
	}
	w.blk.data, w.spare = w.spare[:0], nil
	w.openPipeline()
	return nil
}

func (w *Writer) openPipeline() {
	b := w.blk
	pr, pw := io.Pipe()
	b.pw = pw
	var rest []string
	for _, d := range b.lb.Locations[1:] {
		rest = append(rest, internalAddr(d))
	}
	u := fmt.Sprintf("%s://%s/api/v1/blocks/%d?bpid=%s&gs=%d&blocksize=%d", w.c.scheme, w.c.addr(b.lb.Locations[0]), b.lb.Block.BlockID, b.lb.Block.BlockPoolID, b.lb.Block.GenerationStamp, w.blockSize)
	if len(rest) > 0 {
		u += "&targets=" + strings.Join(rest, ",")
	}
	if b.appendGS > 0 {
		u += fmt.Sprintf("&appendgs=%d&appendlength=%d", b.appendGS, b.base)
	}
	go func() {
		req, err := http.NewRequestWithContext(w.ctx, http.MethodPut, u, pr)
		if err != nil {
			pr.CloseWithError(err)
			b.result <- blockResult{err: err}
			return
		}
		req.Header.Set("Content-Type", packet.ContentType)
		setBlockToken(req, b.lb)
		resp, err := w.c.data.Do(req)
		if err != nil {
			pr.CloseWithError(err)
			b.result <- blockResult{err: err}
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err := remoteError(resp)
			pr.CloseWithError(err)
			b.result <- blockResult{err: err}
			return
		}
		var res api.BlockWriteResult
		err = json.NewDecoder(resp.Body).Decode(&res)
		pr.Close()
		b.result <- blockResult{res: res, err: err}
	}()
}

// finishBlock ends the block's stream and waits for the pipeline. When a
// datanode failed, the block is written again, whole, to the others under
// a new generation stamp (recoverPipeline); when none is left it is
// abandoned and written to a new pipeline without the failed node.
func (w *Writer) finishBlock() error {
	w.sendPacket()
	for attempt := 0; ; attempt++ {
		b := w.blk
		_, _ = b.pw.Write(packet.AppendEnd(nil))
		b.pw.Close()
		r := <-b.result
		length := b.base + int64(len(b.data))
		stored := r.err == nil && len(r.res.Stored) > 0 && r.res.Length == length
		if stored && len(r.res.Failed) > 0 && attempt < 3 {
			// A datanode further down the pipeline failed: the block goes
			// on without it, under a new stamp, so that what it kept is
			// stale. (Nodes after it were not reached; they stay.)
			if survivors := without(b.lb.Locations, r.res.Failed); len(survivors) > 0 {
				if err := w.withPrefix(b); err != nil {
					return err
				}
				excluded := slices.Clip(b.excluded)
				for _, d := range b.lb.Locations {
					if !slices.Contains(survivors, d) {
						excluded = append(excluded, d.UUID)
					}
				}
				if err := w.recoverPipeline(b, survivors, excluded); err != nil {
					return err
				}
				w.resend(b.data)
				continue
			}
		}
		if stored {
			done := &api.ExtendedBlock{BlockPoolID: b.lb.Block.BlockPoolID, BlockID: b.lb.Block.BlockID,
				GenerationStamp: b.lb.Block.GenerationStamp, NumBytes: length}
			if b.recovered != nil {
				if err := w.c.do(w.ctx, http.MethodPost, w.c.native("updatePipeline"), api.UpdatePipelineRequest{
					Path: w.path, ClientName: w.c.clientName, OldBlock: *b.recovered, NewBlock: *done,
				}, nil); err != nil {
					return err
				}
			}
			w.prev = done
			w.blk, w.spare = nil, b.data
			return nil
		}
		if errs.Is(r.err, errs.Checksum) || attempt >= 3 {
			return fmt.Errorf("writing block %d of %s: %w", b.lb.Block.BlockID, w.path, r.err)
		}
		// The first datanode failed (the pipeline could not be set up, or
		// broke): the rest of the pipeline lost the stream with it.
		excluded := append(b.excluded, b.lb.Locations[0].UUID)
		if b.base > 0 && len(b.lb.Locations) == 1 {
			return fmt.Errorf("appending to block %d of %s: all datanodes are bad: %w", b.lb.Block.BlockID, w.path, r.err)
		}
		// A first datanode that refused the block when the pipeline was set
		// up (no room for it) stored nothing: as HDFS's DataStreamer does
		// when createBlockOutputStream fails, the block is abandoned and a
		// new one allocated without that datanode.
		refused := b.base == 0 && b.recovered == nil && errs.Is(r.err, errs.DiskOutOfSpace)
		if survivors := b.lb.Locations[1:]; len(survivors) > 0 && !refused {
			if err := w.withPrefix(b); err != nil {
				return err
			}
			// HDFS's pipeline recovery: the surviving datanodes take the
			// block again under a new generation stamp, same block ID, so
			// that whatever the failed node kept is stale; the coordinator
			// restores the replication later.
			if err := w.recoverPipeline(b, survivors, excluded); err != nil {
				return err
			}
		} else {
			// Nobody is left, or the block was refused: abandon it and
			// write it to a new pipeline without the failed node.
			if err := w.abandon(b.lb.Block.BlockID); err != nil {
				return err
			}
			if err := w.startBlock(excluded); err != nil {
				return err
			}
		}
		w.resend(b.data)
	}
}

// withPrefix turns a failed append into a whole-block write: the bytes the
// block held before the append are read from its pipeline's datanodes
// (those that took part of the append hold them too, under the new
// stamp) and put before the appended ones.
func (w *Writer) withPrefix(b *blockWrite) error {
	if b.base == 0 {
		return nil
	}
	prefix, err := w.c.ReadBlock(w.ctx, b.lb, 0, b.base)
	if err != nil {
		return fmt.Errorf("appending to block %d of %s: the block's first %d bytes cannot be read again: %w", b.lb.Block.BlockID, w.path, b.base, err)
	}
	b.data = append(prefix, b.data...)
	b.base, b.appendGS = 0, 0
	return nil
}

// resend streams data, a whole block kept by the writer, into the block in
// flight.
func (w *Writer) resend(data []byte) {
	for off := 0; off < len(data); off += packet.MaxData {
		w.pkt = append(w.pkt[:0], data[off:min(len(data), off+packet.MaxData)]...)
		w.sendPacket()
	}
}

// without returns the datanodes of pipeline whose addresses are not in
// failed, in pipeline order.
func without(pipeline []api.DatanodeInfo, failed []string) []api.DatanodeInfo {
	var out []api.DatanodeInfo
	for _, d := range pipeline {
		if !slices.Contains(failed, internalAddr(d)) {
			out = append(out, d)
		}
	}
	return out
}

// recoverPipeline asks for a new generation stamp for the block in flight
// and opens a pipeline of the survivors for it (the caller sends the data
// again); the old block is kept for updatePipeline.
func (w *Writer) recoverPipeline(b *blockWrite, survivors []api.DatanodeInfo, excluded []string) error {
	if w.needsReplacement(len(survivors)) {
		var add api.LocatedBlock
		existing := make([]string, len(survivors))
		for i, d := range survivors {
			existing[i] = d.UUID
		}
		err := w.c.do(w.ctx, http.MethodPost, w.c.native("getAdditionalDatanode"), api.GetAdditionalDatanodeRequest{
			Path: w.path, ClientName: w.c.clientName, Block: b.lb.Block, Existing: existing, Exclude: excluded, NumAdditionalNodes: 1,
		}, &add)
		switch {
		case err == nil && len(add.Locations) > 0:
			survivors = append(slices.Clip(survivors), add.Locations...)
		case !w.c.ReplaceDatanodeBestEffort:
			var original []string
			for _, d := range b.lb.Locations {
				original = append(original, internalAddr(d))
			}
			var current []string
			for _, d := range survivors {
				current = append(current, internalAddr(d))
			}
			return errs.E(errs.IO, "Failed to replace a bad datanode on the existing pipeline due to no more good datanodes being available to try. (Nodes: current=%v, original=%v). The current failed datanode replacement policy is %s, and a client may configure this via 'dfs.client.block.write.replace-datanode-on-failure.policy' in its configuration.",
				current, original, cmp.Or(w.c.ReplaceDatanodeOnFailure, "DEFAULT"))
		}
	}
	var lb api.LocatedBlock
	if err := w.c.do(w.ctx, http.MethodPost, w.c.native("updateBlockForPipeline"), api.UpdateBlockForPipelineRequest{
		Path: w.path, ClientName: w.c.clientName, Block: b.lb.Block,
	}, &lb); err != nil {
		return err
	}
	old := b.recovered
	if old == nil {
		old = &b.lb.Block
	}
	w.blk = &blockWrite{
		lb:       api.LocatedBlock{Block: lb.Block, StartOffset: b.lb.StartOffset, Locations: survivors, BlockToken: lb.BlockToken},
		data:     make([]byte, 0, len(b.data)),
		excluded: excluded, result: make(chan blockResult, 1), recovered: old,
	}
	w.openPipeline()
	return nil
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

// abandon drops the file's last block, which was never stored.
func (w *Writer) abandon(id int64) error {
	return w.c.do(w.ctx, http.MethodPost, w.c.native("abandonBlock"), api.AbandonBlockRequest{
		Path: w.path, ClientName: w.c.clientName, BlockID: id,
	}, nil)
}

// Close finishes the last block and completes the file, retrying while
// its last block is not minimally replicated yet.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	close(w.stopRenew)
	if w.err != nil {
		return w.err
	}
	if w.blk != nil {
		if err := w.finishBlock(); err != nil {
			w.err = err
			return err
		}
	}
	if w.first != nil {
		// Nothing was written: the block create allocated goes.
		if err := w.abandon(w.first.Block.BlockID); err != nil {
			w.err = err
			return err
		}
		w.first = nil
	}
	req := api.CompleteRequest{Path: w.path, ClientName: w.c.clientName, Last: w.prev}
	backoff := 20 * time.Millisecond
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var r api.BooleanResponse
		if err := w.c.do(w.ctx, http.MethodPost, w.c.native("complete"), req, &r); err != nil {
			w.err = err
			return err
		}
		if r.Boolean {
			return nil
		}
		if time.Now().After(deadline) {
			w.err = errs.E(errs.IO, "Unable to close file %s because the last block does not have enough number of replicas", w.path)
			return w.err
		}
		select {
		case <-w.ctx.Done():
			return w.ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// Block returns the block in flight (nil between blocks).
func (w *Writer) Block() *api.ExtendedBlock {
	if w.blk == nil {
		return nil
	}
	b := w.blk.lb.Block
	return &b
}

// Pipeline returns the UUIDs of the datanodes the block in flight is being
// written to, first first (nil between blocks).
func (w *Writer) Pipeline() []string {
	if w.blk == nil {
		return nil
	}
	var out []string
	for _, d := range w.blk.lb.Locations {
		out = append(out, d.UUID)
	}
	return out
}
