package metadata_test

import (
	"context"
	"encoding/json"
	"github.com/granary-fs/granary/internal/poll"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/contract"
	"github.com/granary-fs/granary/internal/pgtest"
	"github.com/granary-fs/granary/services/metadata"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const superuser = "hdfs"

// node is one running metadata service in a test.
type node struct {
	t    *testing.T
	svc  *metadata.Service
	base string
	stop func() error
	done <-chan error // Run's result, once it returned
}

func testConfig(dbURL string) metadata.Config {
	return metadata.Config{
		DatabaseURL: dbURL, HTTPAddr: "127.0.0.1:0", Superuser: superuser,
		SafeModeExtension: 0, CheckpointCheck: time.Hour, DBMaxConns: 8,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// formatted returns a fresh formatted database.
func formatted(t *testing.T) string {
	t.Helper()
	db := pgtest.NewDatabase(t)
	if _, err := metadata.Format(context.Background(), testConfig(db), metadata.FormatOptions{}); err != nil {
		t.Fatalf("format: %v", err)
	}
	return db
}

// start runs a metadata service on db until the test ends or stop is called.
func start(t *testing.T, cfg metadata.Config) *node {
	t.Helper()
	svc := metadata.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Started():
	case err := <-done:
		cancel()
		t.Fatalf("metadata service failed to start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("metadata service did not start within 60s")
	}
	exited := make(chan error, 1)
	var stopOnce sync.Once
	var stopErr error
	wait := func() error {
		stopOnce.Do(func() { stopErr = <-done; exited <- stopErr })
		return stopErr
	}
	go func() { _ = wait() }()
	stop := func() error { cancel(); return wait() }
	t.Cleanup(func() { _ = stop() })
	checkContract(t, svc.Addr())
	return &node{t: t, svc: svc, base: "http://" + svc.Addr(), stop: stop, done: exited}
}

// exits waits until Run returns by itself (nothing cancels it) and returns
// its error.
func (n *node) exits(within time.Duration) error {
	n.t.Helper()
	select {
	case err := <-n.done:
		return err
	case <-time.After(within):
		n.t.Fatalf("Run did not return within %v", within)
		return nil
	}
}

// checkContract validates the test's exchanges with the service at addr
// against openapi/metadata.openapi.json.
func checkContract(t *testing.T, addr string) {
	t.Helper()
	tr := contract.NewTransport(http.DefaultTransport)
	if err := tr.Serve("metadata", addr); err != nil {
		t.Fatal(err)
	}
	old := http.DefaultClient.Transport
	http.DefaultClient.Transport = tr
	t.Cleanup(func() {
		http.DefaultClient.Transport = old
		failures, _ := tr.Failures()
		for i, f := range failures {
			if i == 10 {
				t.Errorf("... and %d more contract violations", len(failures)-10)
				break
			}
			t.Errorf("contract violation: %s", f)
		}
	})
}

// call sends a request and returns the status and body.
func (n *node) call(method, path string, body io.Reader) (int, []byte) {
	n.t.Helper()
	return n.callWith(method, path, body, nil)
}

// callWith is call with extra request headers.
func (n *node) callWith(method, path string, body io.Reader, header http.Header) (int, []byte) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.base+path, body)
	if err != nil {
		n.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// want sends a request and checks its status, decoding a JSON body into out.
func (n *node) want(code int, method, path string, out any) []byte {
	n.t.Helper()
	got, body := n.call(method, path, nil)
	if got != code {
		n.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, got, code, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			n.t.Fatalf("%s %s: decoding %s: %v", method, path, body, err)
		}
	}
	return body
}

// remote checks an error answer: status and exception name.
func (n *node) remote(code int, exception, method, path string) string {
	n.t.Helper()
	var e struct {
		RemoteException struct{ Exception, JavaClassName, Message string }
	}
	n.want(code, method, path, &e)
	if e.RemoteException.Exception != exception {
		n.t.Fatalf("%s %s: exception %q (%s), want %s", method, path, e.RemoteException.Exception, e.RemoteException.Message, exception)
	}
	if e.RemoteException.JavaClassName == "" || !strings.HasSuffix(e.RemoteException.JavaClassName, exception) {
		n.t.Fatalf("%s %s: javaClassName %q does not name %s", method, path, e.RemoteException.JavaClassName, exception)
	}
	return e.RemoteException.Message
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, within, what, cond)
}
