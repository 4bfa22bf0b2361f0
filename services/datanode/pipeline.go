package datanode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/blocktoken"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hadooptoken"
	"github.com/granary-fs/granary/internal/packet"
	"github.com/granary-fs/granary/internal/rest"
	"github.com/granary-fs/granary/internal/wirejson"
	"github.com/granary-fs/granary/services/datanode/internal/storage"
)

// writeBlock godoc
//
//	@Summary		Write a block and forward it down the pipeline
//	@Description	The body is a packet stream (docs/formats/packets.md): each packet's CRC32C checksums are verified before it is stored and it is forwarded unchanged to the next datanode of targets (with acknowledgements when this PUT has them, else as a plain PUT whose result joins this one's). The replica is written in rbw/ (without acknowledgements, into files that have no name until it is finalized: nothing of it is kept if the stream stops) and finalized when the stream ends; the answer lists the datanodes that stored it and those that failed. With Accept: application/x-granary-acks the answer (200 at once) is a stream of acknowledgements sent while the packets still arrive: each packet once this datanode and those after it stored it, a failed datanode further down as soon as it fails, then the result or the error (docs/formats/packets.md). A stream with acknowledgements that stops before its end marker leaves the replica finalized at the length received, for the writer's pipeline recovery (without them, as a transfer, it leaves nothing). With appendgs and appendlength the stream continues this datanode's finalized replica of that stamp and length under the new stamp gs (HDFS's PIPELINE_SETUP_APPEND; gs may equal appendgs when a pipeline recovery has given the replica its new stamp); the first packet then carries at most the rest of the replica's partial 512-byte chunk. An append refused for a bad CRC or a disk error leaves the replica as it was.
//	@Tags			blocks
//	@Accept			application/x-granary-packets
//	@Produce		json,application/x-granary-acks
//	@Param			id		path		integer	true	"block ID"
//	@Param			bpid	query		string	true	"block pool ID"
//	@Param			gs		query		integer	true	"generation stamp"
//	@Param			targets	query		string	false	"the rest of the pipeline: datanode HTTP addresses, comma separated"
//	@Param			appendgs		query		integer	false	"append: the stamp of the replica to continue"
//	@Param			appendlength	query		integer	false	"append: the length of the replica to continue"
//	@Param			blocksize		query		integer	false	"the file's block size: the block may not grow past it (default dfs.blocksize, 134217728)"
//	@Param			Accept			header		string	false	"application/x-granary-acks for the acknowledgement stream"
//	@Success		200		{object}	api.BlockWriteResult
//	@Failure		400		{object}	errs.RemoteExceptionBody
//	@Failure		403		{object}	errs.RemoteExceptionBody	"ChecksumException, ReplicaAlreadyExistsException (a replica of this or a newer stamp exists), ReplicaNotFoundException (append), IOException"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			writeBlock
//	@Router			/api/v1/blocks/{id} [put]
func (s *Service) writeBlock(w http.ResponseWriter, r *http.Request) {
	s.xceivers.Add(1)
	defer s.xceivers.Add(-1)
	withAcks := strings.Contains(r.Header.Get("Accept"), packet.AcksContentType)
	bw, err := s.openBlockWrite(r, withAcks)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	rc := http.NewResponseController(w)
	received := s.addWriter(bw, rc)
	if !withAcks {
		res, err := bw.receive(r.Context(), r.Body, nil)
		received()
		if err != nil {
			rest.WriteError(w, err)
			return
		}
		_ = rest.WriteJSON(w, http.StatusOK, res)
		return
	}
	// The acknowledgements go out while the packets still arrive.
	_ = rc.EnableFullDuplex()
	w.Header().Set("Content-Type", packet.AcksContentType)
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	acks := &ackSender{w: w, rc: rc}
	res, err := bw.receive(r.Context(), r.Body, acks)
	received()
	// The body is read to its end before the handler returns: net/http
	// reads the next request of the connection only then (a full-duplex
	// handler that leaves body bytes makes it read them concurrently). A
	// writer that stops sending is given a minute.
	_ = rc.SetReadDeadline(time.Now().Add(time.Minute))
	defer func() { _, _ = io.Copy(io.Discard, r.Body) }()
	if err != nil {
		_, body := errs.Remote(err)
		b, _ := json.Marshal(body)
		acks.last(packet.AckError, b)
		return
	}
	if buf, err := wirejson.Marshal(res); err == nil {
		acks.last(packet.AckResult, buf.Bytes()) // copied into the acknowledgements
		buf.Release()
	}
}

// activeWrite is a block PUT in progress, which a pipeline recovery can
// stop (HDFS's recoverRbw stops the replica's writer first).
type activeWrite struct {
	gs   int64
	stop func()        // makes the body's next read fail: the replica is kept as received
	done chan struct{} // closed when the PUT has finished with its replica
}

// addWriter registers a block PUT; the function returned says it is done
// with its replica.
func (s *Service) addWriter(bw *blockWrite, rc *http.ResponseController) func() {
	aw := &activeWrite{gs: bw.gs, stop: func() { _ = rc.SetReadDeadline(time.Now()) }, done: make(chan struct{})}
	k := writerKey(bw.bpid, bw.id)
	s.writersMu.Lock()
	if s.writers == nil {
		s.writers = map[string][]*activeWrite{}
	}
	s.writers[k] = append(s.writers[k], aw)
	s.writersMu.Unlock()
	return func() {
		close(aw.done)
		s.writersMu.Lock()
		s.writers[k] = slices.DeleteFunc(s.writers[k], func(x *activeWrite) bool { return x == aw })
		if len(s.writers[k]) == 0 {
			delete(s.writers, k)
		}
		s.writersMu.Unlock()
	}
}

func writerKey(bpid string, id int64) string { return bpid + "/" + strconv.FormatInt(id, 10) }

// stopWriters stops the block PUTs receiving block id under a stamp below
// gs and waits (up to a minute) until they have kept what they received.
func (s *Service) stopWriters(bpid string, id, gs int64) {
	s.writersMu.Lock()
	var stopping []*activeWrite
	for _, aw := range s.writers[writerKey(bpid, id)] {
		if aw.gs < gs {
			stopping = append(stopping, aw)
		}
	}
	s.writersMu.Unlock()
	for _, aw := range stopping {
		aw.stop()
		select {
		case <-aw.done:
		case <-time.After(time.Minute):
		}
	}
}

// ackSender writes a block write's acknowledgements, flushed as they go.
type ackSender struct {
	mu   sync.Mutex
	w    io.Writer
	rc   *http.ResponseController
	buf  []byte
	err  error
	done bool // the last record went: the handler may have returned
}

// stored acknowledges the block's first n bytes; flush says whether to
// send it now (no later acknowledgement is waiting to follow).
func (a *ackSender) stored(n int64, flush bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf = packet.AppendAck(a.buf, n)
	if flush {
		a.flushLocked()
	}
}

// record sends an F, E or R record at once.
func (a *ackSender) record(kind byte, body []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf = packet.AppendAckRecord(a.buf, kind, body)
	a.flushLocked()
}

// last sends the record that ends the stream (E or R); nothing is sent
// after it.
func (a *ackSender) last(kind byte, body []byte) {
	a.record(kind, body)
	a.mu.Lock()
	a.done = true
	a.mu.Unlock()
}

func (a *ackSender) flushLocked() {
	if a.err == nil && !a.done && len(a.buf) > 0 {
		if _, a.err = a.w.Write(a.buf); a.err == nil {
			a.err = a.rc.Flush()
		}
	}
	a.buf = a.buf[:0]
}

// blockWrite is a block PUT being received: its replica writer and where
// the packets go next.
type blockWrite struct {
	s                   *Service
	bpid                string
	id, gs              int64
	appendGS, appendLen int64
	maxLen              int64
	targets             []string
	token               string
	rw                  *storage.ReplicaWriter
}

// openBlockWrite checks a block PUT and opens its replica: a new one, or
// with appendgs/appendlength the continuation of a finalized one. withAcks
// says whether the writer asked for acknowledgements.
func (s *Service) openBlockWrite(r *http.Request, withAcks bool) (*blockWrite, error) {
	q := rest.Query(r.URL.RawQuery)
	bpid, id, err := s.blockParams(r, q, hadooptoken.Write)
	if err != nil {
		return nil, err
	}
	b := &blockWrite{s: s, bpid: bpid, id: id, token: r.Header.Get(blocktoken.Header)}
	b.gs, err = queryInt(q, "gs", 0)
	if err != nil || b.gs == 0 {
		return nil, errs.E(errs.IllegalArgument, "a generation stamp (gs) is required")
	}
	if t := q.Get("targets"); t != "" {
		b.targets = strings.Split(t, ",")
	}
	if b.appendGS, err = queryInt(q, "appendgs", 0); err != nil {
		return nil, err
	}
	if b.appendLen, err = queryInt(q, "appendlength", 0); err != nil {
		return nil, err
	}
	if b.appendLen > 0 && b.appendGS == 0 {
		return nil, errs.E(errs.IllegalArgument, "appendlength without appendgs")
	}
	// The block never grows past the file's block size (the writer and
	// transfers send it; dfs.blocksize's default when absent).
	if b.maxLen, err = queryInt(q, "blocksize", DefaultBlockSize); err != nil {
		return nil, err
	}
	switch {
	case b.appendGS > 0:
		b.rw, err = s.store.AppendRBW(bpid, id, b.appendGS, b.gs, b.appendLen)
	case withAcks:
		b.rw, err = s.store.CreateRBW(bpid, id, b.gs, b.maxLen)
	default:
		// Nothing is acknowledged before the end (a plain PUT: a small
		// file's only packet, a transfer) and nothing is kept if the
		// stream stops: the replica's files get their names when it is
		// finalized (HDFS's createTemporary).
		b.rw, err = s.store.CreateTemporary(bpid, id, b.gs, b.maxLen)
	}
	if err != nil {
		return nil, storageError(err, id)
	}
	// RECEIVING_BLOCK: the coordinators learn of the replica being written
	// with the next incremental report (not at once, as HDFS).
	s.poolFor(bpid).queueIBR(dnproto.ReceivedDeleted{
		Block: dnproto.BlockRef{ID: id, GenStamp: b.gs, NumBytes: b.appendLen}, Status: dnproto.Receiving, StorageID: b.rw.StorageID(),
	})
	return b, nil
}

// receive stores the packets of body, forwarding each to the rest of the
// pipeline, and finalizes the replica at the end marker. With acks, each
// packet is acknowledged once it is stored here and acknowledged by the
// datanode downstream (HDFS's PacketResponder); a downstream datanode
// that fails is reported at once (AckFailed) and the block goes on
// without it. A pipeline stream that stops before its end marker (the
// writer or the datanode upstream went away) leaves the replica finalized
// at the length stored, for the writer's pipeline recovery (or the lease
// recovery) to cut or take; a stream that is wrong (a bad CRC, a broken
// frame, too long), a disk error, or a stopped transfer drops it.
func (b *blockWrite) receive(ctx context.Context, body io.Reader, acks *ackSender) (*api.BlockWriteResult, error) {
	s := b.s
	var down *downstream
	if len(b.targets) > 0 {
		down = s.startDownstream(ctx, b, acks)
	}
	var stored chan int64
	responded := make(chan struct{})
	if acks != nil {
		// The writer keeps at most 80 packets unacknowledged (HDFS's
		// dfs.client.write.max-packets-in-flight): room for more would
		// only cost every block's stream memory.
		stored = make(chan int64, 128)
		go func() {
			defer close(responded)
			for n := range stored {
				if down != nil {
					down.waitStored(n)
				}
				acks.stored(n, len(stored) == 0)
			}
		}()
	} else {
		close(responded)
	}
	endAcks := func() {
		if stored != nil {
			close(stored)
		}
		<-responded
	}
	fail := func(err error, keep bool) (*api.BlockWriteResult, error) {
		if down != nil {
			down.abort(err)
		}
		endAcks()
		// Only a pipeline write (its writer follows the acknowledgements
		// and recovers) keeps what it received; a transfer or a plain PUT
		// that stops is dropped, so that it can simply be sent again.
		if keep && acks != nil && (b.rw.Len() > 0 || b.appendGS > 0) {
			if rep, ferr := b.rw.Finalize(); ferr == nil {
				s.log.Info("pipeline: the stream stopped; replica kept for recovery", "block", b.id, "genStamp", b.gs, "length", rep.NumBytes, "err", err)
				s.poolFor(b.bpid).queueIBR(dnproto.ReceivedDeleted{
					Block: dnproto.BlockRef{ID: b.id, GenStamp: b.gs, NumBytes: rep.NumBytes}, Status: dnproto.Received, StorageID: rep.Volume.StorageID,
				})
			}
		} else {
			b.rw.Abort()
		}
		return nil, storageError(err, b.id)
	}
	pr := packet.NewReaderAt(body, b.appendLen)
	defer pr.Release()
	for {
		data, crcs, raw, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err, !errors.Is(err, packet.ErrMalformed))
		}
		if b.rw.Len()+int64(len(data)) > b.maxLen {
			return fail(errs.E(errs.IO, "block %d would grow past the block size of %d bytes", b.id, b.maxLen), false)
		}
		if err := b.rw.Write(data, crcs); err != nil {
			return fail(err, false)
		}
		if down != nil {
			down.send(raw, b.rw.Len())
		}
		if stored != nil {
			stored <- b.rw.Len()
		}
	}
	rep, err := b.rw.Finalize()
	if err != nil {
		if down != nil {
			down.abort(err)
		}
		endAcks()
		return nil, storageError(err, b.id)
	}
	res := &api.BlockWriteResult{BlockID: b.id, Length: rep.NumBytes, Stored: []string{s.advertisedAddr()}, Failed: []string{}}
	if down != nil {
		dres := down.finish()
		res.Stored = append(res.Stored, dres.Stored...)
		res.Failed = append(res.Failed, dres.Failed...)
	}
	endAcks()
	// The RECEIVED report goes out before the writer is answered, so that
	// the coordinator knows the replica by the time the client completes
	// the file; if it cannot be sent now it is queued and re-sent.
	s.poolFor(b.bpid).reportReceived(ctx, dnproto.ReceivedDeleted{
		Block: dnproto.BlockRef{ID: b.id, GenStamp: b.gs, NumBytes: rep.NumBytes}, Status: dnproto.Received, StorageID: rep.Volume.StorageID,
	})
	return res, nil
}

// downstream forwards packets to the next datanode of the pipeline and
// follows its acknowledgements.
type downstream struct {
	target string
	pw     *packet.BodyWriter
	werr   error      // of the writes to pw
	up     *ackSender // the writer's acknowledgements; nil for a plain PUT (only the result)

	mu     sync.Mutex
	cond   *sync.Cond
	sent   int64 // the block length sent down
	heard  time.Time
	ending bool
	acked  int64
	gone   bool     // the next datanode failed: its acknowledgements no longer count
	failed []string // datanodes reported failed from down there
	result *api.BlockWriteResult
	done   chan struct{}
}

// startDownstream starts the PUT to the next datanode of the pipeline.
// It follows the acknowledgements of the datanodes below when up, the
// writer's, is there; for a writer that asked for none (a plain PUT) it
// is a plain PUT too, whose answer is the result.
func (s *Service) startDownstream(ctx context.Context, b *blockWrite, up *ackSender) *downstream {
	pr, pw := packet.NewBody()
	d := &downstream{target: b.targets[0], pw: pw, up: up, done: make(chan struct{}), sent: b.appendLen, acked: b.appendLen, heard: time.Now()}
	d.cond = sync.NewCond(&d.mu)
	reqCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	u := fmt.Sprintf("%s://%s/api/v1/blocks/%d?bpid=%s&gs=%d&blocksize=%d", s.cfg.TLS.Scheme(), b.targets[0], b.id, b.bpid, b.gs, b.maxLen)
	if b.appendGS > 0 {
		u += fmt.Sprintf("&appendgs=%d&appendlength=%d", b.appendGS, b.appendLen)
	}
	if len(b.targets) > 1 {
		u += "&targets=" + strings.Join(b.targets[1:], ",")
	}
	// HDFS's read timeout for the mirror: 5 s more per datanode below.
	go d.watch(s.cfg.SocketTimeout+5*time.Second*time.Duration(len(b.targets)), cancel)
	go func() {
		defer close(d.done)
		defer cancel()
		fail := func(err error) {
			pr.CloseWithError(err)
			s.log.Warn("pipeline: downstream datanode failed", "target", d.target, "err", err)
			d.fail(d.target)
		}
		req, err := http.NewRequestWithContext(reqCtx, http.MethodPut, u, pr)
		if err != nil {
			fail(err)
			return
		}
		req.Header.Set("Content-Type", packet.ContentType)
		if !d.plain() {
			req.Header.Set("Accept", packet.AcksContentType)
		}
		if b.token != "" {
			req.Header.Set(blocktoken.Header, b.token)
		}
		resp, err := s.pipelineClient.Do(req)
		if err != nil {
			fail(err)
			return
		}
		defer resp.Body.Close()
		if d.plain() {
			err = d.readResult(resp)
		} else {
			err = d.followAcks(resp)
		}
		if err != nil {
			fail(err)
			return
		}
		pr.Close()
	}()
	return d
}

// readResult reads the answer of a plain PUT: the datanodes' result, or
// the error of the next one.
func (d *downstream) readResult(resp *http.Response) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downstream %s answered %s: %s", d.target, resp.Status, body)
	}
	var res api.BlockWriteResult
	if err := wirejson.Unmarshal(body, &res); err != nil {
		return err
	}
	d.setResult(&res)
	return nil
}

// followAcks follows the acknowledgements of the datanodes downstream to
// the result.
func (d *downstream) followAcks(resp *http.Response) error {
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), packet.AcksContentType) {
		return fmt.Errorf("downstream %s answered %s", d.target, resp.Status)
	}
	ar := packet.NewAckReader(resp.Body)
	for {
		kind, n, body, err := ar.Next()
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.heard = time.Now()
		d.mu.Unlock()
		switch kind {
		case packet.AckStored:
			d.mu.Lock()
			d.acked = n
			d.mu.Unlock()
			d.cond.Broadcast()
		case packet.AckFailed:
			d.mu.Lock()
			d.failed = append(d.failed, string(body))
			d.mu.Unlock()
			d.up.record(packet.AckFailed, body)
		case packet.AckError:
			return fmt.Errorf("downstream %s failed: %s", d.target, body)
		case packet.AckResult:
			var res api.BlockWriteResult
			if err := wirejson.Unmarshal(body, &res); err != nil {
				return err
			}
			d.setResult(&res)
			return nil
		}
	}
}

// plain reports a plain PUT: no acknowledgements, only the result.
func (d *downstream) plain() bool { return d.up == nil }

func (d *downstream) setResult(res *api.BlockWriteResult) {
	d.mu.Lock()
	d.result = res
	d.mu.Unlock()
	d.cond.Broadcast()
}

// fail records that datanode addr, the next one, failed and tells the
// datanode upstream.
func (d *downstream) fail(addr string) {
	d.mu.Lock()
	d.gone = true
	d.failed = append(d.failed, addr)
	d.mu.Unlock()
	d.cond.Broadcast()
	if d.up != nil {
		d.up.record(packet.AckFailed, []byte(addr))
	}
}

// waitStored waits until the datanodes downstream stored the block's
// first n bytes, or failed.
func (d *downstream) waitStored(n int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.acked < n && !d.gone && d.result == nil {
		d.cond.Wait()
	}
}

// send forwards a packet; through is the block's length with it.
func (d *downstream) send(raw []byte, through int64) {
	d.mu.Lock()
	d.sent = through
	if d.plain() {
		// No acknowledgements come: the next datanode has the timeout
		// from the last packet it was sent (one it does not take blocks
		// the send and counts as its silence).
		d.heard = time.Now()
	}
	d.mu.Unlock()
	if d.werr == nil {
		_, d.werr = d.pw.Write(raw)
	}
}

// watch cancels the PUT to the next datanode when it acknowledges nothing
// for timeout while packets or the end marker wait (dfs.client.socket-timeout):
// the next datanode is then reported failed.
func (d *downstream) watch(timeout time.Duration, cancel context.CancelFunc) {
	t := time.NewTicker(timeout / 4)
	defer t.Stop()
	for {
		select {
		case <-d.done:
			return
		case now := <-t.C:
			d.mu.Lock()
			stalled := !d.gone && d.result == nil && (d.sent > d.acked || d.ending) && now.Sub(d.heard) > timeout
			d.mu.Unlock()
			if stalled {
				cancel()
				return
			}
		}
	}
}

// abort ends the stream to the next datanode (which keeps what it
// stored) without waiting for it.
func (d *downstream) abort(err error) {
	d.pw.CloseWithError(err)
	d.mu.Lock()
	d.gone = true
	d.mu.Unlock()
	d.cond.Broadcast()
}

// finish sends the end marker and returns what the datanodes downstream
// stored and which failed.
func (d *downstream) finish() api.BlockWriteResult {
	d.mu.Lock()
	d.ending = true
	d.mu.Unlock()
	if d.werr == nil {
		_, d.werr = d.pw.Write(packet.AppendEnd(nil))
	}
	d.pw.Close()
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	res := api.BlockWriteResult{Stored: []string{}, Failed: d.failed}
	if d.result != nil && !d.gone {
		res.Stored = d.result.Stored
		res.Failed = d.result.Failed
	}
	return res
}
