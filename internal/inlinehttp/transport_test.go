package inlinehttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/poll"
)

// server is a net/http server that counts the connections it accepted and
// closed.
type server struct {
	*httptest.Server
	opened, closed atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc, idle time.Duration) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.IdleTimeout = idle
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// recorder is a fallback transport that counts what it was given.
type recorder struct {
	n  atomic.Int64
	rt http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.n.Add(1)
	return r.rt.RoundTrip(req)
}

// newClient is a client on a new Transport (4 idle connections per host,
// a minute idle) whose fallback is a recorder of net/http's.
func newClient(t *testing.T) (*http.Client, *Transport, *recorder) {
	fb := &recorder{rt: &http.Transport{}}
	tr := &Transport{Fallback: fb, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, tr, fb
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func post(t *testing.T, c *http.Client, u, body string) string {
	t.Helper()
	resp, err := c.Post(u, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), b)
}

// TestReusesOneConnection: requests one after the other share one
// connection, bodies and answers arrive whole, and nothing went to the
// fallback.
func TestReusesOneConnection(t *testing.T) {
	s := newServer(t, echo, 0)
	c, _, fb := newClient(t)
	for i := range 50 {
		if got, want := get(t, c, fmt.Sprintf("%s/a?i=%d", s.URL, i)), fmt.Sprintf("GET /a?i=%d ", i); got != want {
			t.Fatalf("answer %q, want %q", got, want)
		}
		if got := post(t, c, s.URL+"/p", "body"); got != "POST /p body" {
			t.Fatalf("answer %q", got)
		}
	}
	if n := s.opened.Load(); n != 1 {
		t.Errorf("100 requests in a row opened %d connections, want 1", n)
	}
	if n := fb.n.Load(); n != 0 {
		t.Errorf("%d requests went to the fallback", n)
	}
}

// TestServerClosedIdleConnection: a connection the server closed while it
// was idle is noticed before it is used: a POST, which is never sent twice,
// reaches the server once on a new connection.
func TestServerClosedIdleConnection(t *testing.T) {
	var posts atomic.Int64
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		echo(w, r)
	}, 50*time.Millisecond)
	c, tr, _ := newClient(t)
	get(t, c, s.URL)
	poll.Until(t, 10*time.Second, "the server to close the idle connection", func() bool { return s.closed.Load() == 1 })
	// The server's close reaches this side's socket a moment later.
	poll.Until(t, 10*time.Second, "the close to reach the client's socket", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		l := tr.idle[s.Listener.Addr().String()]
		return len(l) == 1 && !l[0].open()
	})
	if got := post(t, c, s.URL, "once"); got != "POST / once" {
		t.Fatalf("answer %q", got)
	}
	if n := posts.Load(); n != 1 {
		t.Errorf("the server saw %d POSTs, want 1", n)
	}
	if n := s.opened.Load(); n != 2 {
		t.Errorf("%d connections opened, want 2", n)
	}
}

// TestStaleConnectionRetriedForGET: a GET whose reused connection turns out
// closed (the server answered nothing) is sent again on a new one.
func TestStaleConnectionRetriedForGET(t *testing.T) {
	var hits atomic.Int64
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 2 {
			// The second request: the connection closes unanswered,
			// as a server closing an idle connection just then does.
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		echo(w, r)
	}, 0)
	c, tr, _ := newClient(t)
	get(t, c, s.URL+"/1")
	if got := get(t, c, s.URL+"/2"); got != "GET /2 " {
		t.Fatalf("answer %q", got)
	}
	// A POST is not sent again: the error is the caller's.
	hits.Store(1)
	if _, err := c.Post(s.URL, "text/plain", strings.NewReader("x")); err == nil {
		t.Fatal("a POST whose connection closed unanswered succeeded")
	}
	// Unless Replayable names it: then its body is sent again whole.
	tr.Replayable = func(r *http.Request) bool { return r.Header.Get("X-Call") != "" }
	get(t, c, s.URL+"/3")
	hits.Store(1)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/call", strings.NewReader("again"))
	req.Header.Set("X-Call", "7")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("a replayable POST whose connection closed unanswered: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "POST /call again" {
		t.Fatalf("answer %q", b)
	}
}

// TestConnectionCloseAndEarlyClose: an answer with Connection: close, and
// a body closed before its end, close their connections; the next request
// opens another.
func TestConnectionCloseAndEarlyClose(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		w.Write(bytes.Repeat([]byte("x"), 100_000))
	}, 0)
	c, _, _ := newClient(t)
	if got := get(t, c, s.URL+"/close"); len(got) != 100_000 {
		t.Fatalf("%d bytes", len(got))
	}
	resp, err := c.Get(s.URL + "/early")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	if got := get(t, c, s.URL+"/x"); len(got) != 100_000 {
		t.Fatalf("%d bytes", len(got))
	}
	if n := s.opened.Load(); n != 3 {
		t.Errorf("%d connections for a closing answer, an early close and one more, want 3", n)
	}
}

// TestChunkedAndInformational: a streamed (chunked) answer arrives whole,
// a 103 before the answer is skipped, and the connection is reused after.
func TestChunkedAndInformational(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hints" {
			w.Header().Set("Link", "</a>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
		}
		for i := range 20 {
			fmt.Fprintf(w, "%04d", i)
			w.(http.Flusher).Flush()
		}
	}, 0)
	c, _, _ := newClient(t)
	var want strings.Builder
	for i := range 20 {
		fmt.Fprintf(&want, "%04d", i)
	}
	for _, p := range []string{"/chunked", "/hints", "/chunked"} {
		resp, err := c.Get(s.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want.String() {
			t.Fatalf("%s: %d %q", p, resp.StatusCode, b)
		}
	}
	if n := s.opened.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestContextEndsTheExchange: a cancelled context ends a wait for the
// answer and a read of the body, with the context's error, and the
// transport goes on with new connections.
func TestContextEndsTheExchange(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/half":
			w.Write([]byte("half"))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}, 0)
	defer close(release)
	c, _, _ := newClient(t)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/slow", nil)
	if err := within(t, func() error { _, err := c.Do(req); return err }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for the answer: %v, want the context's deadline", err)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx2, http.MethodGet, s.URL+"/half", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		t.Fatal(err)
	}
	cancel2()
	if err := within(t, func() error { _, err := resp.Body.Read(b); return err }); !errors.Is(err, context.Canceled) {
		t.Fatalf("reading the body: %v, want context.Canceled", err)
	}
	resp.Body.Close()
	if got := get(t, c, s.URL+"/fast"); got != "" {
		t.Fatalf("answer %q", got)
	}
}

// within runs f and returns its error, failing the test if f outlives the
// context it was meant to end with by far.
func within(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the exchange went on 10 s after its context ended")
		return nil
	}
}

// closeCounter is a request body that counts its closes.
type closeCounter struct {
	io.Reader
	closes atomic.Int64
}

func (c *closeCounter) Close() error { c.closes.Add(1); return nil }

// TestFallbackAndBodies: https, bodies of unknown length or over MaxBody
// go to the fallback; a body is closed even when no connection opens, and
// a refused connection is ECONNREFUSED to errors.Is.
func TestFallbackAndBodies(t *testing.T) {
	s := newServer(t, echo, 0)
	c, _, fb := newClient(t)

	// Unknown length (a streamed body).
	pr, pw := io.Pipe()
	go func() { pw.Write([]byte("streamed")); pw.Close() }()
	req, _ := http.NewRequest(http.MethodPut, s.URL+"/s", pr)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "PUT /s streamed" || fb.n.Load() != 1 {
		t.Fatalf("answer %q, %d to the fallback", b, fb.n.Load())
	}
	// Over MaxBody.
	big := bytes.Repeat([]byte("b"), MaxBody+1)
	resp, err = c.Post(s.URL+"/big", "application/octet-stream", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(b) != len("POST /big ")+len(big) || fb.n.Load() != 2 {
		t.Fatalf("%d bytes back, %d to the fallback", len(b), fb.n.Load())
	}
	// https.
	tls := httptest.NewTLSServer(http.HandlerFunc(echo))
	defer tls.Close()
	fb.rt = tls.Client().Transport
	if got := get(t, c, tls.URL+"/t"); got != "GET /t " || fb.n.Load() != 3 {
		t.Fatalf("answer %q, %d to the fallback", got, fb.n.Load())
	}

	// A refused connection: the body is closed, the error is the dial's.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	body := &closeCounter{Reader: strings.NewReader("x")}
	req, _ = http.NewRequest(http.MethodPost, "http://"+addr+"/", body)
	req.ContentLength = 1
	if _, err := c.Do(req); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("a refused connection: %v", err)
	}
	if body.closes.Load() == 0 {
		t.Fatal("the body of a request that found no connection was not closed")
	}
}

// TestIdleConnectionsBoundedAndSwept: at most MaxIdleConnsPerHost
// connections stay idle, and those idle past IdleConnTimeout are closed
// without a request to notice them.
func TestIdleConnectionsBoundedAndSwept(t *testing.T) {
	gate := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-gate }, 0)
	c, tr, _ := newClient(t)
	tr.IdleConnTimeout = 200 * time.Millisecond
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, err := c.Get(s.URL)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	poll.Until(t, 10*time.Second, "8 connections", func() bool { return s.opened.Load() == 8 })
	close(gate)
	wg.Wait()
	// 8 answered, 4 kept: the other 4 closed at once.
	poll.Until(t, 10*time.Second, "the connections beyond the 4 kept to close", func() bool { return s.closed.Load() == 4 })
	tr.mu.Lock()
	kept := len(tr.idle[s.Listener.Addr().String()])
	tr.mu.Unlock()
	if kept != 4 {
		t.Fatalf("%d idle connections kept, want 4", kept)
	}
	poll.Until(t, 10*time.Second, "the idle connections to be swept", func() bool { return s.closed.Load() == 8 })
}

// TestConcurrentRequests: many goroutines share the transport; every
// answer is its own request's.
func TestConcurrentRequests(t *testing.T) {
	s := newServer(t, echo, 0)
	c, _, _ := newClient(t)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				u := fmt.Sprintf("%s/g%d?i=%d", s.URL, g, i)
				resp, err := c.Get(u)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := fmt.Sprintf("GET /g%d?i=%d ", g, i); string(b) != want {
					t.Errorf("answer %q, want %q", b, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := s.opened.Load(); n > 16 {
		t.Errorf("%d connections for 16 goroutines", n)
	}
}
