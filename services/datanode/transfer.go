package datanode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/granary-fs/granary/internal/blocktoken"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/packet"
	"github.com/granary-fs/granary/services/datanode/internal/storage"
)

// transfer copies a replica to targets (the coordinator's TRANSFER command,
// HDFS's DataTransfer): the block is read with its checksums verified and
// written to the first target, which forwards it to the others.
func (s *Service) transfer(ctx context.Context, bpid string, b dnproto.BlockRef, targets []string, token string) error {
	if len(targets) == 0 {
		return nil
	}
	s.xmits.Add(1)
	defer s.xmits.Add(-1)
	rr, err := s.openReplica(bpid, b.ID)
	if err != nil {
		return err
	}
	defer rr.Close()
	if rr.GenStamp != b.GenStamp {
		return fmt.Errorf("replica of block %d has generation stamp %d, the coordinator asked for %d", b.ID, rr.GenStamp, b.GenStamp)
	}
	pr, pw := packet.NewBody()
	go func() {
		pw.CloseWithError(s.streamReplica(bpid, rr, pw))
	}()
	u := fmt.Sprintf("%s://%s/api/v1/blocks/%d?bpid=%s&gs=%d&blocksize=%d", s.cfg.TLS.Scheme(), targets[0], b.ID, bpid, b.GenStamp, rr.NumBytes)
	if len(targets) > 1 {
		u += "&targets=" + strings.Join(targets[1:], ",")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, pr)
	if err != nil {
		pr.CloseWithError(err)
		return err
	}
	req.Header.Set("Content-Type", packet.ContentType)
	if token != "" {
		req.Header.Set(blocktoken.Header, token)
	}
	resp, err := s.pipelineClient.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("transfer of block %d to %s: %s %s", b.ID, targets[0], resp.Status, body)
	}
	return nil
}

// streamReplica writes a replica as a packet stream, verifying it as it
// goes; a corrupt replica is reported and the stream fails.
func (s *Service) streamReplica(bpid string, rr *storage.ReplicaReader, w io.Writer) error {
	if _, err := rr.ReadVerified(&packetWriter{w: w}, 0, rr.NumBytes); err != nil {
		if errors.Is(err, storage.ErrChecksum) {
			s.reportBad(bpid, dnproto.BlockRef{ID: rr.ID, GenStamp: rr.GenStamp, NumBytes: rr.NumBytes}, rr.Volume.StorageID)
		}
		return err
	}
	_, err := w.Write(packet.AppendEnd(nil))
	return err
}

// packetWriter frames what is written into packets of up to 64 KiB, each
// written whole with one Write (a packet.BodyWriter's rule).
type packetWriter struct {
	w   io.Writer
	buf []byte
}

func (p *packetWriter) Write(b []byte) (int, error) {
	if p.buf == nil {
		p.buf = make([]byte, packet.HeaderRoom+packet.MaxData)
	}
	for off := 0; off < len(b); off += packet.MaxData {
		n := copy(p.buf[packet.HeaderRoom:], b[off:])
		if _, err := p.w.Write(packet.PutHeader(p.buf[:packet.HeaderRoom+n])); err != nil {
			return off, err
		}
	}
	return len(b), nil
}
