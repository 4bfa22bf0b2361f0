package datanode

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/blocktoken"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hadooptoken"
	"github.com/granary-fs/granary/internal/packet"
	"github.com/granary-fs/granary/internal/rest"
	"github.com/granary-fs/granary/services/datanode/internal/storage"
)

// blockParams reads the block of a block request (its ID from the path,
// its block pool from q, the request's query parsed once) and, in token mode,
// checks its block token for mode: no token is 401 (the request carries no
// credential), a bad one 403 InvalidToken, as HDFS's
// BlockTokenSecretManager.checkAccess.
func (s *Service) blockParams(r *http.Request, q rest.Query, mode hadooptoken.AccessMode) (bpid string, id int64, err error) {
	tok := r.Header.Get(blocktoken.Header)
	if s.authn.TokenMode() && tok == "" {
		return "", 0, errs.E(errs.Security, "Block token is required for %s access to block %s (send it in %s)", mode, chi.URLParam(r, "id"), blocktoken.Header)
	}
	bpid, id, err = s.blockID(r, q)
	if err != nil || !s.authn.TokenMode() {
		return bpid, id, err
	}
	err = s.blockKeys.Check(tok, bpid, id, mode)
	if err != nil && mode == hadooptoken.Read && s.blockKeys.Check(tok, bpid, id, hadooptoken.Copy) == nil {
		err = nil // a copy reads the block too (HDFS's copyBlock)
	}
	if err != nil {
		return "", 0, err
	}
	return bpid, id, nil
}

func (s *Service) blockID(r *http.Request, q rest.Query) (bpid string, id int64, err error) {
	id, err = strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return "", 0, errs.E(errs.IllegalArgument, "invalid block ID %q", chi.URLParam(r, "id"))
	}
	bpid = q.Get("bpid")
	if s.poolFor(bpid) == nil {
		return "", 0, errs.E(errs.IO, "block pool %q is not served by this datanode (it serves %q)", bpid, s.blockPools())
	}
	return bpid, id, nil
}

func queryInt(q rest.Query, name string, def int64) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errs.E(errs.IllegalArgument, "Invalid value for parameter %q: %q", name, v)
	}
	return n, nil
}

// DefaultBlockSize is dfs.blocksize's default: the most a block PUT that
// names no blocksize may store.
const DefaultBlockSize = 128 << 20

// readBlock godoc
//
//	@Summary		Read a block or a byte range of it, checksums verified
//	@Description	Every 512-byte chunk is checked against the replica's meta file before it is sent. A mismatch is reported to the coordinator as a bad replica and answered with ChecksumException (or, once bytes were sent, by cutting the connection) so that the client reads another replica. With Accept: application/x-granary-packets the answer is a packet stream (docs/formats/packets.md) of the whole chunks covering the range with their CRCs, which the reader checks (HDFS's end-to-end checksums: the datanode leaves the check to it, as HDFS's BlockSender); X-Granary-Block-Offset is the block offset of its first byte.
//	@Tags			blocks
//	@Produce		octet-stream,json
//	@Produce		application/x-granary-packets,json
//	@Produce		json
//	@Param			id		path		integer	true	"block ID"
//	@Param			bpid	query		string	true	"block pool ID"
//	@Param			offset	query		integer	false	"first byte"
//	@Param			length	query		integer	false	"bytes to read (default: to the end)"
//	@Param			Range	header		string	false	"bytes=first-last, instead of offset/length"
//	@Param			Accept	header		string	false	"application/x-granary-packets for a packet stream with CRCs"
//	@Success		200		{file}		binary
//	@Success		206		{file}		binary
//	@Failure		400		{object}	errs.RemoteExceptionBody
//	@Failure		403		{object}	errs.RemoteExceptionBody	"ChecksumException (a bad or short replica, reported to the coordinator), ReplicaNotFoundException (a replica whose file is gone is reported deleted), IOException"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			readBlock
//	@Router			/api/v1/blocks/{id} [get]
func (s *Service) readBlock(w http.ResponseWriter, r *http.Request) {
	q := rest.Query(r.URL.RawQuery)
	bpid, id, err := s.blockParams(r, q, hadooptoken.Read)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	rr, err := s.openReplica(bpid, id)
	if err != nil {
		rest.WriteError(w, storageError(err, id))
		return
	}
	defer rr.Close()
	offset, err := queryInt(q, "offset", 0)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	length, err := queryInt(q, "length", rr.NumBytes-min(offset, rr.NumBytes))
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		first, last, ok := parseRange(rg, rr.NumBytes)
		if !ok {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", rr.NumBytes))
			rest.WriteError(w, errs.E(errs.IllegalArgument, "unsatisfiable range %q for %d bytes", rg, rr.NumBytes))
			return
		}
		offset, length, status = first, last-first+1, http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, rr.NumBytes))
	}
	if offset > rr.NumBytes || offset+length > rr.NumBytes {
		rest.WriteError(w, errs.E(errs.IO, "Offset %d and length %d are out of range for block %d of %d bytes", offset, length, id, rr.NumBytes))
		return
	}
	s.xceivers.Add(1)
	defer s.xceivers.Add(-1)
	tw := &trackingWriter{w: w, status: status}
	var err2 error
	if r.Header.Get("Accept") == packet.ContentType && status == http.StatusOK {
		w.Header().Set("Content-Type", packet.ContentType)
		w.Header().Set("X-Granary-Block-Offset", strconv.FormatInt(offset/storage.BytesPerChecksum*storage.BytesPerChecksum, 10))
		_, err2 = rr.ReadPackets(tw, offset, length)
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(length, 10))
		_, err2 = rr.ReadVerified(tw, offset, length)
	}
	if err := err2; err != nil {
		if errors.Is(err, storage.ErrChecksum) {
			s.log.Error("corrupt replica", "block", id, "err", err)
			s.reportBad(bpid, dnproto.BlockRef{ID: id, GenStamp: rr.GenStamp, NumBytes: rr.NumBytes}, rr.Volume.StorageID)
		}
		if !tw.wrote {
			w.Header().Del("Content-Length")
			w.Header().Del("Content-Range")
			rest.WriteError(w, storageError(err, id))
			return
		}
		panic(http.ErrAbortHandler) // cut the connection: the client sees a short read
	}
}

// trackingWriter sends the status with the first bytes and remembers it did.
type trackingWriter struct {
	w      http.ResponseWriter
	status int
	wrote  bool
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	if !t.wrote {
		t.wrote = true
		t.w.WriteHeader(t.status)
	}
	return t.w.Write(p)
}

// parseRange parses a single "bytes=first-last" range (or "bytes=first-"
// or "bytes=-suffix").
func parseRange(h string, size int64) (first, last int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	switch {
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		first, last = max(0, size-n), size-1
	default:
		var err error
		if first, err = strconv.ParseInt(a, 10, 64); err != nil {
			return 0, 0, false
		}
		last = size - 1
		if b != "" {
			if last, err = strconv.ParseInt(b, 10, 64); err != nil {
				return 0, 0, false
			}
			last = min(last, size-1)
		}
	}
	return first, last, first >= 0 && first <= last && first < size
}

// blockChecksum godoc
//
//	@Summary	A replica's checksum: the MD5 of its CRCs (for GETFILECHECKSUM)
//	@Tags		blocks
//	@Produce	json
//	@Param		id		path		integer	true	"block ID"
//	@Param		bpid	query		string	true	"block pool ID"
//	@Success	200		{object}	api.BlockChecksum
//	@Failure	400		{object}	errs.RemoteExceptionBody
//	@Failure	403		{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			getBlockChecksum
//	@Router		/api/v1/blocks/{id}/checksum [get]
func (s *Service) blockChecksum(w http.ResponseWriter, r *http.Request) {
	q := rest.Query(r.URL.RawQuery)
	bpid, id, err := s.blockParams(r, q, hadooptoken.Read)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	sum, crcs, err := s.store.BlockChecksum(bpid, id)
	if err != nil {
		s.reportUnreadable(err)
		rest.WriteError(w, storageError(err, id))
		return
	}
	_ = rest.WriteJSON(w, http.StatusOK, api.BlockChecksum{BlockID: id, MD5: hex.EncodeToString(sum[:]), CRCPerBlock: crcs, BytesPerCRC: storage.BytesPerChecksum, CRCType: "CRC32C"})
}

// truncateBlock godoc
//
//	@Summary		Cut a replica in place to a new length under a new generation stamp (truncate recovery)
//	@Description	HDFS's updateReplicaUnderRecovery, sent by the metadata service after a TRUNCATE that cut this block (an in-place truncate) and by a writer recovering its pipeline (cut to the acknowledged length; a PUT still receiving the replica under an older stamp is stopped first): the finalized replica of stamp gs keeps its first newlength bytes (checked against its CRCs; the last partial chunk gets a CRC of its own) and takes stamp newgs; the coordinator is told at once. A replica already at newgs and newlength is answered as it is, so a retried recovery finishes an interrupted one. Token mode: a WRITE block token for the block.
//	@Tags			blocks
//	@Produce		json
//	@Param			id			path		integer	true	"block ID"
//	@Param			bpid		query		string	true	"block pool ID"
//	@Param			gs			query		integer	true	"the replica's generation stamp"
//	@Param			newgs		query		integer	true	"the new generation stamp (above gs)"
//	@Param			newlength	query		integer	true	"the bytes to keep (at most the replica's length)"
//	@Success		200			{object}	api.ReplicaInfo
//	@Failure		400			{object}	errs.RemoteExceptionBody	"IllegalArgumentException"
//	@Failure		403			{object}	errs.RemoteExceptionBody	"ReplicaNotFoundException (no finalized replica of that stamp), ChecksumException (the kept bytes fail their CRC), IOException"
//	@Failure		401			{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID				truncateBlock
//	@Router			/api/v1/blocks/{id}/truncate [post]
func (s *Service) truncateBlock(w http.ResponseWriter, r *http.Request) {
	q := rest.Query(r.URL.RawQuery)
	bpid, id, err := s.blockParams(r, q, hadooptoken.Write)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	var gs, newGS, newLength int64
	for _, p := range []struct {
		name string
		v    *int64
	}{{"gs", &gs}, {"newgs", &newGS}, {"newlength", &newLength}} {
		if q.Get(p.name) == "" {
			rest.WriteError(w, errs.E(errs.IllegalArgument, "Required param %s for a block truncate is null or empty", p.name))
			return
		}
		if *p.v, err = queryInt(q, p.name, 0); err != nil {
			rest.WriteError(w, err)
			return
		}
	}
	// A replica still being received (the stream of a pipeline being
	// recovered has not broken here yet) is stopped first.
	s.stopWriters(bpid, id, newGS)
	rep, err := s.store.TruncateReplica(bpid, id, gs, newGS, newLength)
	if err != nil {
		s.log.Warn("truncate recovery failed", "block", id, "err", err)
		rest.WriteError(w, storageError(err, id))
		return
	}
	s.log.Info("replica truncated", "block", id, "genStamp", rep.GenStamp, "length", rep.NumBytes)
	s.poolFor(bpid).reportReceived(r.Context(), dnproto.ReceivedDeleted{
		Block: dnproto.BlockRef{ID: id, GenStamp: rep.GenStamp, NumBytes: rep.NumBytes}, Status: dnproto.Received, StorageID: rep.Volume.StorageID,
	})
	_ = rest.WriteJSON(w, http.StatusOK, api.ReplicaInfo{BlockID: id, GenStamp: rep.GenStamp, NumBytes: rep.NumBytes, StorageID: rep.Volume.StorageID})
}

// sendBad sends one bad-block report, in the background.
func (a *actor) sendBad(b dnproto.BlockRef, storageID string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.call(ctx, dnproto.SubjBadBlocks, dnproto.BadBlocks{
			DatanodeUUID: a.dn.store.DatanodeUUID(), BlockPoolID: a.blockPool(), StorageID: storageID, Blocks: []dnproto.BlockRef{b},
		}, nil); err != nil {
			a.dn.log.Warn("reporting a bad block failed", "block", b.ID, "err", err)
		}
	}()
}

// reportReceived sends a RECEIVED entry at once (falling back to the
// incremental-report queue when that fails) and returns when the
// coordinator has it, or the entry is queued, or ctx ends. Entries that
// arrive while a report is on its way go together in the next one: it is
// sent, by the first of their writers, when the one before is answered.
func (a *actor) reportReceived(ctx context.Context, e dnproto.ReceivedDeleted) {
	if !a.fbrMu.TryRLock() {
		// A full report is being sent: the entry follows it.
		a.queueIBR(e)
		return
	}
	defer a.fbrMu.RUnlock()
	// The pending RECEIVING of the block is superseded.
	a.ibrMu.Lock()
	a.ibr = slices.DeleteFunc(a.ibr, func(p dnproto.ReceivedDeleted) bool { return p.Block.ID == e.Block.ID })
	a.ibrMu.Unlock()

	// Other writers' entries ride on the report: it does not end with ctx.
	_, _, _ = a.received.Do(ctx, e, func(items []dnproto.ReceivedDeleted) ([]struct{}, error) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		err := a.call(sctx, dnproto.SubjIncrementalReport, dnproto.IncrementalReport{
			DatanodeUUID: a.dn.store.DatanodeUUID(), BlockPoolID: a.blockPool(), Blocks: items,
		}, nil)
		if err != nil {
			a.queueIBR(items...)
			return nil, nil
		}
		a.dn.metrics.ibrSent.Add(float64(len(items)))
		return nil, nil
	})
}
