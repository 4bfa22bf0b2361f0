package metadata

import (
	"net"
	"net/http"
	"strings"

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
	cl, err := s.clientAs(c.user.Name)
	if err != nil {
		return nil, err
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

// clientAs is a client of this service acting as user, with the TLS trust
// of the service's own calls.
func (s *Service) clientAs(user string) (*client.Client, error) {
	cl := client.New(s.cfg.TLS.Scheme()+"://"+s.selfAddr(), user)
	if s.cfg.TLS.Enabled() {
		tc, err := s.cfg.TLS.Client()
		if err != nil {
			return nil, err
		}
		cl.SetTLS(tc)
	}
	return cl, nil
}
