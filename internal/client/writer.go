package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/packet"
	"github.com/granary-fs/granary/internal/wirejson"
)

// CreateOptions are the options of Create; zero values take the server's defaults.
type CreateOptions struct {
	Overwrite   bool
	Replication int
	BlockSize   int64
	Permission  uint16
}

// Writer streams a file's bytes into blocks through the datanode pipeline,
// as HDFS's DataStreamer and ResponseProcessor: packets go out while the
// datanodes acknowledge the ones before, and the writer keeps only the
// packets not acknowledged yet (at most maxPacketsInFlight). When a
// datanode fails, the survivors are cut to the acknowledged length under
// a new generation stamp and the unacknowledged packets are sent again
// (HDFS's pipeline recovery, with its replace-datanode-on-failure policy);
// with no survivor and nothing acknowledged a new block is written to
// other datanodes. A writer from Append first continues the file's
// partial last block.
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
	// pkt is the packet being filled: packet.HeaderRoom bytes kept free
	// for its header, then its data.
	pkt       []byte
	closed    bool
	err       error
	stopRenew chan struct{}
}

// readTimeoutExtension is HDFS's READ_TIMEOUT_EXTENSION: what a pipeline's
// acknowledgement wait grows by per datanode below.
const readTimeoutExtension = 5 * time.Second

// maxPacketsInFlight is dfs.client.write.max-packets-in-flight: the
// packets a writer sends ahead of the acknowledgements, and keeps.
const maxPacketsInFlight = 80

// packetBufs are the buffers of the packets in flight: room for a header,
// then a packet's data.
var packetBufs = sync.Pool{New: func() any { b := make([]byte, packet.HeaderRoom, packet.HeaderRoom+packet.MaxData); return &b }}

// newPacketBuf takes an empty packet buffer from the pool: a writer of a
// small file allocates none of its own.
func newPacketBuf() []byte { return (*packetBufs.Get().(*[]byte))[:packet.HeaderRoom] }

// releasePacketBuf gives the buffer being filled back to the pool when the
// writer is closed; no packet in flight shares it.
func (w *Writer) releasePacketBuf() {
	if w.pkt != nil {
		b := w.pkt
		w.pkt = nil
		packetBufs.Put(&b)
	}
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

// blockWrite is one block's pipeline: the packets sent and not yet
// acknowledged, and what the datanodes answered.
type blockWrite struct {
	lb       api.LocatedBlock
	pw       *packet.BodyWriter
	excluded []string
	// recovered is the block as the namespace knows it while the pipeline
	// writes it under a new generation stamp (updatePipeline records it).
	recovered *api.ExtendedBlock
	// An append (or a recovered pipeline) continues the replicas of stamp
	// appendGS, which hold base bytes already.
	appendGS int64
	base     int64
	sent     int64 // the block's length once the packets sent are stored

	mu      sync.Mutex
	cond    *sync.Cond
	window  []sentPacket // sent and not acknowledged, in order
	acked   int64        // the length every datanode of the pipeline stored
	failed  []string     // datanodes reported failed (AckFailed)
	done    bool         // the pipeline answered its last
	ending  bool         // the end marker was sent
	res     api.BlockWriteResult
	err     error // why the pipeline ended without a result
	refused bool  // the first datanode refused the block at set-up

	heard   atomic.Int64 // when the pipeline last answered (unix ns)
	stalled atomic.Bool  // the watchdog gave up on it
}

type sentPacket struct {
	off int64   // block offset of data
	buf *[]byte // packet.HeaderRoom bytes, then the data
}

// size is the packet's data length.
func (p sentPacket) size() int64 { return int64(len(*p.buf) - packet.HeaderRoom) }

func newBlockWrite(lb api.LocatedBlock, excluded []string, recovered *api.ExtendedBlock, appendGS, base int64) *blockWrite {
	b := &blockWrite{lb: lb, excluded: excluded, recovered: recovered, appendGS: appendGS, base: base, sent: base, acked: base}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// end records the pipeline's last answer and wakes the writer.
func (b *blockWrite) end(res api.BlockWriteResult, err error, refused bool) {
	b.mu.Lock()
	b.done, b.res, b.err, b.refused = true, res, err, refused
	b.mu.Unlock()
	b.cond.Broadcast()
}

// ack drops the packets the datanodes stored.
func (b *blockWrite) ack(n int64) {
	b.mu.Lock()
	b.acked = n
	k := 0
	for k < len(b.window) && b.window[k].off+b.window[k].size() <= n {
		packetBufs.Put(b.window[k].buf)
		k++
	}
	b.window = b.window[k:]
	b.mu.Unlock()
	b.cond.Broadcast()
}

// wait waits for the pipeline's last answer.
func (b *blockWrite) wait() (api.BlockWriteResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.done {
		b.cond.Wait()
	}
	return b.res, b.err
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
	w := &Writer{c: c, ctx: ctx, path: path, blockSize: cr.FileStatus.BlockSize, repl: cr.FileStatus.Replication, first: cr.Block, pkt: newPacketBuf()}
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
		prev: r.LastBlock, pkt: newPacketBuf()}
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
		filled := len(w.pkt) - packet.HeaderRoom
		inBlock := w.blk.sent + int64(filled)
		room := packet.MaxData - filled
		if partial := int(w.blk.sent % packet.ChunkSize); partial > 0 {
			// An append's first packet completes the partial chunk alone.
			room = packet.ChunkSize - partial - filled
		}
		n := min(len(p), room, int(w.blockSize-inBlock))
		w.pkt = append(w.pkt, p[:n]...)
		p = p[n:]
		written += n
		if n == room || inBlock+int64(n) == w.blockSize {
			if err := w.sendPacket(); err != nil {
				w.err = err
				return written, err
			}
		}
		if w.blk.sent == w.blockSize {
			if err := w.finishBlock(); err != nil {
				w.err = err
				return written, err
			}
		}
	}
	return written, nil
}

// sendPacket sends the pending bytes as a packet, waiting while
// maxPacketsInFlight are unacknowledged; a pipeline that failed is
// recovered first.
func (w *Writer) sendPacket() error {
	if len(w.pkt) == packet.HeaderRoom {
		return nil
	}
	for {
		b := w.blk
		b.mu.Lock()
		for len(b.window) >= maxPacketsInFlight && !b.done {
			b.cond.Wait()
		}
		failed := b.done
		b.mu.Unlock()
		if !failed {
			break
		}
		// The pipeline ended before its end marker: a datanode failed.
		_, err := b.wait()
		if err := w.recoverStream(b, err); err != nil {
			return err
		}
	}
	w.send(w.takePacket())
	return nil
}

// takePacket takes the filled packet buffer, which goes to the window as
// it is, and puts an empty one from the pool in its place: the data is
// not copied again.
func (w *Writer) takePacket() *[]byte {
	buf := packetBufs.Get().(*[]byte)
	*buf, w.pkt = w.pkt, (*buf)[:packet.HeaderRoom]
	return buf
}

// queue adds a packet to the window of the block in flight.
func (w *Writer) queue(buf *[]byte) {
	b := w.blk
	b.mu.Lock()
	p := sentPacket{off: b.sent, buf: buf}
	b.window = append(b.window, p)
	b.sent += p.size()
	b.mu.Unlock()
}

// send queues a packet and streams it, opening the block's pipeline with
// its first packet; a broken pipeline shows in its answer.
func (w *Writer) send(buf *[]byte) {
	w.queue(buf)
	// The header goes in the room before the data: the packet leaves as
	// one piece, without a copy.
	_, _ = w.pipe().Write(packet.PutHeader(*buf))
}

// pipe is the packet stream of the block in flight, opened if it is not.
func (w *Writer) pipe() *packet.BodyWriter {
	if w.blk.pw == nil {
		w.openPipeline()
	}
	return w.blk.pw
}

// startBlock allocates the next block (or takes the one create allocated);
// its pipeline opens with its first packet (HDFS's DataStreamer sets it
// up for the first packet queued), or not at all for a block that is one
// packet at the writer's close (finishBlock).
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
	w.blk = newBlockWrite(lb, excluded, nil, 0, 0)
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
	w.blk = newBlockWrite(api.LocatedBlock{Block: nb.Block, StartOffset: lb.StartOffset, Locations: lb.Locations, BlockToken: nb.BlockToken},
		nil, &old, old.GenerationStamp, old.NumBytes)
	w.openPipeline()
	return nil
}

// openPipeline sends the block PUT of the block in flight, asking for the
// acknowledgements, and follows them in the background.
func (w *Writer) openPipeline() {
	b := w.blk
	pr, pw := packet.NewBody()
	b.pw = pw
	u := w.blockURL(b)
	go func() {
		fail := func(err error, refused bool) {
			pr.CloseWithError(err)
			b.end(api.BlockWriteResult{}, err, refused)
		}
		ctx, cancel := context.WithCancel(w.ctx)
		defer cancel()
		defer w.watch(b, cancel)()
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, pr)
		if err != nil {
			fail(err, false)
			return
		}
		req.Header.Set("Content-Type", packet.ContentType)
		req.Header.Set("Accept", packet.AcksContentType)
		setBlockToken(req, b.lb)
		resp, err := w.c.dataDo(req)
		if err != nil {
			fail(err, false)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fail(remoteError(resp), true)
			return
		}
		ar := packet.NewAckReader(resp.Body)
		for {
			kind, n, body, err := ar.Next()
			if err != nil {
				if b.stalled.Load() {
					err = errs.E(errs.IO, "datanode %s acknowledged nothing in time (dfs.client.socket-timeout %v)", internalAddr(b.lb.Locations[0]), w.c.socketTimeout())
				}
				fail(err, false)
				return
			}
			b.heard.Store(time.Now().UnixNano())
			switch kind {
			case packet.AckStored:
				b.ack(n)
			case packet.AckFailed:
				b.mu.Lock()
				b.failed = append(b.failed, string(body))
				b.mu.Unlock()
			case packet.AckError:
				var re errs.RemoteExceptionBody
				if json.Unmarshal(body, &re) != nil || re.RemoteException.Exception == "" {
					fail(errs.E(errs.IO, "datanode %s failed: %s", internalAddr(b.lb.Locations[0]), body), false)
				} else {
					fail(errs.FromRemote(http.StatusForbidden, re.RemoteException), false)
				}
				return
			case packet.AckResult:
				var res api.BlockWriteResult
				if err := wirejson.Unmarshal(body, &res); err != nil {
					fail(err, false)
					return
				}
				b.ack(res.Length)
				pr.Close()
				b.end(res, nil, false)
				return
			}
		}
	}()
}

// blockURL is the block PUT of b, to its first datanode.
func (w *Writer) blockURL(b *blockWrite) string {
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
	return u
}

// putWhole stores a block that is one packet, b's window, in one request
// without acknowledgements: the packet and the end marker as the body
// (with its length), the pipeline's result as the answer — what the last
// acknowledgement of a stream says. A failure leaves no replica on the
// first datanode (a stream's break would keep what it received), and the
// block is recovered as a stream's would be, with nothing acknowledged.
// The wait is bounded as the stream's watchdog bounds it.
func (w *Writer) putWhole(b *blockWrite) {
	b.mu.Lock()
	buf := b.window[0].buf
	b.mu.Unlock()
	data := packet.AppendEnd(packet.PutHeader(*buf))
	ctx, cancel := context.WithTimeout(w.ctx, w.pipelineTimeout(b))
	defer cancel()
	// The packet is the window's buffer: the transport may read the body
	// until it closes it, even after the answer came (http.RoundTripper),
	// and the buffer is neither reused nor sent again before that.
	body := &closingReader{Reader: bytes.NewReader(data), closed: make(chan struct{})}
	defer body.wait()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, w.blockURL(b), body)
	if err != nil {
		body.Close()
		b.end(api.BlockWriteResult{}, err, false)
		return
	}
	req.ContentLength = int64(len(data))
	req.Header.Set("Content-Type", packet.ContentType)
	setBlockToken(req, b.lb)
	resp, err := w.c.dataDo(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded && w.ctx.Err() == nil {
			err = errs.E(errs.IO, "datanode %s answered nothing in time (dfs.client.socket-timeout %v)", internalAddr(b.lb.Locations[0]), w.c.socketTimeout())
		}
		b.end(api.BlockWriteResult{}, err, false)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.end(api.BlockWriteResult{}, remoteError(resp), true)
		return
	}
	var res api.BlockWriteResult
	readErr, err := wirejson.ReadDecode(resp.Body, &res, decodeAnswer)
	if readErr != nil {
		err = readErr
	}
	if err != nil {
		b.end(api.BlockWriteResult{}, errs.Wrap(errs.IO, err, "datanode %s", internalAddr(b.lb.Locations[0])), false)
		return
	}
	body.wait()
	b.ack(res.Length)
	b.end(res, nil, false)
}

// closingReader is a request body that tells when the transport closed it.
type closingReader struct {
	*bytes.Reader
	once   sync.Once
	closed chan struct{}
}

func (r *closingReader) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}

func (r *closingReader) wait() { <-r.closed }

// pipelineTimeout is how long a pipeline may leave a packet or the end
// marker unanswered: HDFS's getDatanodeReadTimeout, dfs.client.socket-
// timeout and 5 s more per datanode of the pipeline, so that a datanode
// further down, whose own wait is shorter, reports the one after it first.
func (w *Writer) pipelineTimeout(b *blockWrite) time.Duration {
	return w.c.socketTimeout() + readTimeoutExtension*time.Duration(len(b.lb.Locations))
}

// watch is the pipeline's watchdog (HDFS's dfs.client.socket-timeout on
// the acknowledgements): while packets or the end marker wait for an
// answer and none came for the timeout, it cancels the block PUT, which
// fails the pipeline and has it recovered. The function returned stops it.
func (w *Writer) watch(b *blockWrite, cancel context.CancelFunc) (stop func()) {
	timeout := w.pipelineTimeout(b)
	b.heard.Store(time.Now().UnixNano())
	t := time.NewTicker(timeout / 4)
	quit := make(chan struct{})
	go func() {
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				b.mu.Lock()
				waiting := len(b.window) > 0 || b.ending
				b.mu.Unlock()
				if waiting && now.Sub(time.Unix(0, b.heard.Load())) > timeout {
					b.stalled.Store(true)
					cancel()
					return
				}
			}
		}
	}()
	return func() { close(quit) }
}

// finishBlock ends the block's stream and waits for the pipeline. When a
// datanode failed after storing its part, the survivors take the block
// under a new generation stamp (recoverClose); when the stream broke, the
// pipeline is recovered and the unacknowledged packets sent again
// (recoverStream).
func (w *Writer) finishBlock() error {
	// A block whose pipeline never opened is the packet being filled: it
	// goes in one request (putWhole).
	whole := w.blk.pw == nil && len(w.pkt) > packet.HeaderRoom
	if whole {
		w.queue(w.takePacket())
	} else if err := w.sendPacket(); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		b := w.blk
		b.mu.Lock()
		b.ending = true
		b.mu.Unlock()
		if attempt == 0 && whole {
			w.putWhole(b)
		} else {
			pw := w.pipe()
			_, _ = pw.Write(packet.AppendEnd(nil))
			pw.Close()
		}
		res, err := b.wait()
		if err == nil && res.Length == b.sent && len(res.Stored) > 0 {
			done := &api.ExtendedBlock{BlockPoolID: b.lb.Block.BlockPoolID, BlockID: b.lb.Block.BlockID,
				GenerationStamp: b.lb.Block.GenerationStamp, NumBytes: b.sent}
			if len(res.Failed) > 0 {
				// A datanode further down failed: the block goes on without
				// it, under a new stamp, so that what it kept is stale.
				var rerr error
				if done, rerr = w.recoverClose(b, res.Failed); rerr != nil {
					return rerr
				}
			} else if b.recovered != nil {
				if err := w.updatePipeline(b.recovered, done); err != nil {
					return err
				}
			}
			w.prev = done
			w.blk = nil
			return nil
		}
		if err == nil {
			err = errs.E(errs.IO, "block %d of %s: the pipeline stored %d bytes of %d", b.lb.Block.BlockID, w.path, res.Length, b.sent)
		}
		if attempt >= 3 {
			return fmt.Errorf("writing block %d of %s: %w", b.lb.Block.BlockID, w.path, err)
		}
		if err := w.recoverStream(b, err); err != nil {
			return err
		}
	}
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
	defer w.releasePacketBuf()
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

// Buffered returns the bytes the writer holds: the packets sent and not
// acknowledged yet, and the one being filled (at most
// maxPacketsInFlight+1 packets, whatever the file's size).
func (w *Writer) Buffered() int64 {
	n := int64(max(len(w.pkt)-packet.HeaderRoom, 0))
	if b := w.blk; b != nil {
		b.mu.Lock()
		for _, p := range b.window {
			n += p.size()
		}
		b.mu.Unlock()
	}
	return n
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
