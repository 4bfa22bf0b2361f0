package router

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
)

// nameservice is one nameservice's metadata services (several with HA) and
// the one the router is using: the first until a failover.
type nameservice struct {
	bases   []string
	current atomic.Int32
}

func newNameservice(urls string) *nameservice {
	n := &nameservice{}
	for _, u := range strings.Split(urls, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			n.bases = append(n.bases, u)
		}
	}
	return n
}

func (n *nameservice) base() string { return n.bases[int(n.current.Load())%len(n.bases)] }

func (n *nameservice) failoverFrom(base string) {
	for i, b := range n.bases {
		if b == base {
			n.current.CompareAndSwap(int32(i), int32((i+1)%len(n.bases)))
			return
		}
	}
}

// maxFailovers is dfs.client.failover.max.attempts (15), as the Go client.
const maxFailovers = 15

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
func (s *Service) send(n *nameservice, req *http.Request) (*http.Response, error) {
	if req.Header.Get(api.ClientIDHeader) == "" {
		req.Header.Set(api.ClientIDHeader, s.ids.client)
		req.Header.Set(api.CallIDHeader, strconv.FormatInt(s.ids.calls.Add(1), 10))
	}
	rest := strings.TrimPrefix(req.URL.String(), n.base())
	replayable := req.Body == nil || req.Body == http.NoBody
	for attempt := 0; ; attempt++ {
		base := n.base()
		u := base + rest
		try := req.Clone(req.Context())
		var err error
		if try.URL, err = try.URL.Parse(u); err != nil {
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
		if !retry || len(n.bases) == 1 || attempt >= maxFailovers || req.Context().Err() != nil {
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		n.failoverFrom(base)
		if attempt >= len(n.bases)-1 {
			select {
			case <-req.Context().Done():
				return nil, req.Context().Err()
			case <-time.After(min(500*time.Millisecond<<min(attempt/len(n.bases), 5), 15*time.Second)):
			}
		}
	}
}

// errNoNameservice is the answer for a mount of a nameservice the router
// does not know.
func errNoNameservice(ns string) error {
	return errs.E(errs.IO, "No namenode available for nameservice %s", ns)
}
