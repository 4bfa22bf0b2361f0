// Package inlinehttp is an HTTP/1.1 client transport that makes each round
// trip on the caller's goroutine: the request is written to a kept-alive
// connection and the answer read from it by the caller itself.
// net/http's Transport hands every request to a connection's writer
// goroutine and every answer back from its reader goroutine; on two cores
// those hand-offs were a quarter of a small request's CPU (an empty
// handler: 38,000–45,000 round trips per second through net/http's
// Transport against 51,000–58,000 through this one, docs/performance.md).
//
// The wire format is net/http's own: requests are written as
// http.Request.Write writes them (writeRequest) and answers read with
// http.ReadResponse. What this transport does not carry goes to Fallback:
// https, a request body of unknown length or larger than MaxBody (a
// streamed body, whose answer may come while it is sent), an Expect
// header, CONNECT.
//
// A connection is reused once its answer's body was read to its end (as
// net/http's); one closed early is closed. An idle connection is checked
// before reuse — a server that closed it is noticed then, since no
// goroutine watches it — and closed after IdleConnTimeout. A request that
// fails on a reused connection before any answer came is sent again on a
// new one when it is replayable (net/http's rule: GET, HEAD, OPTIONS or
// TRACE without a body, or one Transport.Replayable names); any other
// failure is the caller's, as with net/http.
package inlinehttp

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// MaxBody is the largest request body sent inline: larger ones, and those
// of unknown length, go to the fallback transport.
const MaxBody = 1 << 20

// Transport is an http.RoundTripper. Its zero value is not usable: set
// Fallback.
type Transport struct {
	// Fallback carries the requests this transport does not.
	Fallback http.RoundTripper
	// DialContext opens connections (a net.Dialer's when nil).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdleConnsPerHost bounds the idle connections kept per host (2
	// when 0, as net/http).
	MaxIdleConnsPerHost int
	// IdleConnTimeout closes a connection idle for this long (never when 0).
	IdleConnTimeout time.Duration
	// Replayable, when set, names more requests that may be sent again
	// after their reused connection failed before any answer came: calls
	// the server recognises when they are repeated. A body is taken again
	// from GetBody.
	Replayable func(*http.Request) bool

	mu       sync.Mutex
	idle     map[string][]*conn // most recently used last
	sweeping bool
}

type conn struct {
	t      *Transport
	key    string
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !inline(req) {
		return t.Fallback.RoundTrip(req)
	}
	ctx := req.Context()
	key := hostPort(req)
	for {
		c, reused, err := t.conn(ctx, key)
		if err != nil {
			if req.Body != nil {
				req.Body.Close() // a RoundTripper closes the body, whatever happens
			}
			return nil, err
		}
		resp, answered, err := c.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		if !reused || answered || ctx.Err() != nil {
			return nil, err
		}
		// A connection the server had closed: the request again on a new
		// one, if it may be sent twice.
		switch {
		case replayable(req):
		case t.Replayable != nil && t.Replayable(req) && req.GetBody != nil:
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			req = req.Clone(ctx)
			req.Body = body
		default:
			return nil, err
		}
	}
}

// inline reports whether req is one this transport carries.
func inline(req *http.Request) bool {
	if req.URL.Scheme != "http" || req.Method == http.MethodConnect || req.Header.Get("Expect") != "" {
		return false
	}
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	return req.ContentLength > 0 && req.ContentLength <= MaxBody
}

// replayable is net/http's rule for sending a request again after its
// connection failed.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

func hostPort(req *http.Request) string {
	if req.URL.Port() != "" {
		return req.URL.Host
	}
	return net.JoinHostPort(req.URL.Hostname(), "80")
}

// conn returns an idle connection to key that is still open, or a new one.
func (t *Transport) conn(ctx context.Context, key string) (*conn, bool, error) {
	for {
		t.mu.Lock()
		l := t.idle[key]
		if len(l) == 0 {
			t.mu.Unlock()
			break
		}
		c := l[len(l)-1]
		l[len(l)-1] = nil
		t.idle[key] = l[:len(l)-1]
		t.mu.Unlock()
		if c.open() {
			return c, true, nil
		}
		c.nc.Close()
	}
	dial := t.DialContext
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", key)
	if err != nil {
		return nil, false, err
	}
	return &conn{t: t, key: key, nc: nc, br: bufio.NewReader(nc), bw: bufio.NewWriter(nc)}, false, nil
}

// open reports whether an idle connection can carry a request: the server
// has not closed it and sent nothing unasked. The check is one
// non-blocking peek at the socket.
func (c *conn) open() bool {
	if c.t.IdleConnTimeout > 0 && time.Since(c.idleAt) > c.t.IdleConnTimeout {
		return false
	}
	if c.br.Buffered() > 0 {
		return false
	}
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		// Nothing to read is an open connection; end of file (n == 0) a
		// closed one; bytes, an answer nobody asked for.
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // never wait
	})
	return err == nil && alive
}

// aLongTimeAgo is a deadline that has passed: it ends the I/O in progress.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip sends req on c and reads the answer's head. answered reports
// whether any of the answer came (a request that failed before may be
// sent again).
func (c *conn) roundTrip(req *http.Request) (resp *http.Response, answered bool, err error) {
	ctx := req.Context()
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	}
	fail := func(err error) (*http.Response, bool, error) {
		stop()
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, answered, ctx.Err()
		}
		return nil, answered, err
	}
	if err := writeRequest(c.bw, req); err != nil {
		return fail(err)
	}
	for {
		if _, err := c.br.Peek(1); err != nil {
			return fail(err)
		}
		answered = true
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			return fail(err)
		}
		// Informational answers (100 Continue, 103 Early Hints) precede
		// the answer, as net/http skips them.
		if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	keep := !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		c.done(stop() && keep)
		return resp, true, nil
	}
	resp.Body = &body{rc: resp.Body, ctx: ctx, c: c, keep: keep, stop: stop}
	return resp, true, nil
}

// done ends an exchange on c: the connection is kept for the next
// request, or closed.
func (c *conn) done(keep bool) {
	if !keep {
		c.nc.Close()
		return
	}
	t := c.t
	max := t.MaxIdleConnsPerHost
	if max <= 0 {
		max = 2
	}
	c.idleAt = time.Now()
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*conn{}
	}
	if len(t.idle[c.key]) >= max {
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	t.idle[c.key] = append(t.idle[c.key], c)
	sweep := !t.sweeping && t.IdleConnTimeout > 0
	t.sweeping = t.sweeping || sweep
	t.mu.Unlock()
	if sweep {
		time.AfterFunc(t.IdleConnTimeout/2, t.sweep)
	}
}

// sweep closes the connections idle for longer than IdleConnTimeout, and
// comes back while any are idle.
func (t *Transport) sweep() {
	var expired []*conn
	t.mu.Lock()
	for key, l := range t.idle {
		kept := l[:0]
		for _, c := range l {
			if time.Since(c.idleAt) > t.IdleConnTimeout {
				expired = append(expired, c)
			} else {
				kept = append(kept, c)
			}
		}
		clear(l[len(kept):])
		if len(kept) == 0 {
			delete(t.idle, key)
		} else {
			t.idle[key] = kept
		}
	}
	again := len(t.idle) > 0
	t.sweeping = again
	t.mu.Unlock()
	for _, c := range expired {
		c.nc.Close()
	}
	if again {
		time.AfterFunc(t.IdleConnTimeout/2, t.sweep)
	}
}

// CloseIdleConnections closes the connections that carry no request
// (http.Client.CloseIdleConnections calls it), and the fallback's.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, l := range idle {
		for _, c := range l {
			c.nc.Close()
		}
	}
	if ci, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// body is an answer's body: read to its end, it gives its connection back;
// closed before, it closes it.
type body struct {
	rc   io.ReadCloser
	ctx  context.Context
	c    *conn
	keep bool
	stop func() bool

	mu    sync.Mutex
	ended bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		if err != io.EOF && b.ctx.Err() != nil {
			err = b.ctx.Err() // the request's context ended the read
		}
		b.end(err == io.EOF)
	}
	return n, err
}

func (b *body) Close() error {
	b.end(false)
	return nil
}

// end gives the connection back (the body was read to its end and both
// sides keep it) or closes it, once.
func (b *body) end(eof bool) {
	b.mu.Lock()
	if b.ended {
		b.mu.Unlock()
		return
	}
	b.ended = true
	b.mu.Unlock()
	notCancelled := b.stop()
	b.c.done(eof && b.keep && notCancelled)
}
