package router

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/failover"
)

// callIDs are the router's own client ID and call numbers, sent with a
// forwarded call that carries none, so that a call the router resends
// after a lost answer is answered from the metadata service's retry cache.
type callIDs struct {
	client string
	calls  atomic.Int64
}

func newCallIDs() *callIDs {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return &callIDs{client: "router-" + hex.EncodeToString(b[:])}
}

// send forwards req (built for the nameservice's current service) and
// fails over as HDFS's router does through its HA client: a service that
// refuses the connection or answers StandbyException, or whose answer is
// lost, is followed by the next, with the same call ID on every attempt
// and HDFS's back-off. A request with a body is resent only when nothing
// of it can have been read (refused connection).
func (s *Service) send(n *failover.Targets, req *http.Request) (*http.Response, error) {
	if req.Header.Get(api.ClientIDHeader) == "" {
		req.Header.Set(api.ClientIDHeader, s.ids.client)
		req.Header.Set(api.CallIDHeader, strconv.FormatInt(s.ids.calls.Add(1), 10))
	}
	rest := strings.TrimPrefix(req.URL.String(), n.Current())
	replayable := req.Body == nil || req.Body == http.NoBody
	for attempt := 0; ; attempt++ {
		base := n.Current()
		u := base + rest
		try := req.Clone(req.Context())
		var err error
		if try.URL, err = url.Parse(u); err != nil {
			return nil, err
		}
		try.Host = ""
		resp, err := s.proxy.Do(try)
		retry := false
		switch {
		case err != nil:
			retry = errors.Is(err, syscall.ECONNREFUSED) || replayable
		case resp.StatusCode == http.StatusForbidden:
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if rerr != nil {
				err, retry = rerr, replayable
				break
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			retry = bytes.Contains(body, []byte(`"StandbyException"`))
		}
		if !retry || n.Len() == 1 || attempt >= failover.MaxAttempts || req.Context().Err() != nil {
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		n.From(base)
		if !n.Untried(attempt) {
			select {
			case <-req.Context().Done():
				return nil, req.Context().Err()
			case <-time.After(n.Pause(attempt)):
			}
		}
	}
}

// errNoNameservice is the answer for a mount of a nameservice the router
// does not know.
func errNoNameservice(ns string) error {
	return errs.E(errs.IO, "No namenode available for nameservice %s", ns)
}
