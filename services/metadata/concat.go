package metadata

import (
	"net"
	"net/http"
	"strings"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/errs"
)

func (s *Service) concatOp(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	srcs := c.p.str("sources", "")
	if srcs == "" {
		return errs.E(errs.IllegalArgument, "Required param sources for op: CONCAT is null or empty")
	}
	return emptyOK(w, s.namespace().Concat(r.Context(), c.user, c.path, strings.Split(srcs, ",")))
}

// truncateOp truncates a file. On a block boundary it is immediate; inside
// a block the bytes of that block up to the new end are read from a
// datanode first, the file is cut before that block, and they are written
// back as a new last block (copy-on-truncate). The answer is HDFS's: true
// on a block boundary, false when a block was cut (HDFS recovers that
// block in the background and its clients wait for the file to be closed;
// here it is closed by the time the answer goes out).
func (s *Service) truncateOp(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	if !c.p.has("newlength") {
		return errs.E(errs.IllegalArgument, "Required param newlength for op: TRUNCATE is null or empty")
	}
	newLength := c.p.int64("newlength", 0, 0, 1<<62)
	if c.p.err != nil {
		return c.p.err
	}
	ctx := r.Context()
	cl, err := s.selfClient(r, c)
	if err != nil {
		return err
	}
	// Keep the bytes of the block that will hold the new end, while its
	// replicas are still located.
	var keep []byte
	var keptFrom int64
	if lbs, err := s.getBlockLocations(ctx, c.user, c.path, newLength, 1, ""); err == nil && len(lbs.LocatedBlocks) > 0 && newLength < lbs.FileLength {
		b := lbs.LocatedBlocks[0]
		if n := newLength - b.StartOffset; n > 0 {
			if keep, err = cl.ReadBlock(ctx, b, 0, n); err != nil {
				return err
			}
			keptFrom = b.Block.BlockID
		}
	}
	tail, from, err := s.namespace().Truncate(ctx, c.user, c.path, newLength)
	if err != nil {
		return err
	}
	if tail > 0 {
		if from.ID != keptFrom || int64(len(keep)) != tail {
			return errs.E(errs.IO, "truncate of %s: the file changed during the operation", c.path)
		}
		fw, err := cl.Append(ctx, c.path)
		if err != nil {
			return err
		}
		if _, err := fw.Write(keep); err != nil {
			fw.Close()
			return err
		}
		if err := fw.Close(); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: tail == 0})
}

// selfAddr is an address this service can be reached at from itself.
func (s *Service) selfAddr() string {
	host, port, _ := net.SplitHostPort(s.listener.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// selfClient is a client of this service acting as the caller (with a
// delegation token in token mode), for the operations that move data.
func (s *Service) selfClient(r *http.Request, c *webhdfsCall) (*client.Client, error) {
	cl := client.New(s.cfg.TLS.Scheme()+"://"+s.selfAddr(), c.user.Name)
	if s.cfg.TLS.Enabled() {
		tc, err := s.cfg.TLS.Client()
		if err != nil {
			return nil, err
		}
		cl.SetTLS(tc)
	}
	if s.authn.TokenMode() {
		tok, err := s.redirectDelegation(r, c.id)
		if err != nil {
			return nil, err
		}
		cl.SetDelegation(tok)
	}
	return cl, nil
}
