package client

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
)

// closedURL is the URL of a port nothing listens on (connection refused).
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// TestFailover: with several metadata URLs a call goes on past a service
// that refuses the connection or answers StandbyException (as HDFS's
// ConfiguredFailoverProxyProvider), sticks to the one that answered,
// resends a call whose answer was lost with the same call ID, and is not
// sent again after any other failure.
func TestFailover(t *testing.T) {
	var active, standby, broken atomic.Int32
	status := `{"FileStatus":{"accessTime":0,"blockSize":0,"childrenNum":0,"fileId":16386,"group":"g","length":0,"modificationTime":0,"owner":"o","pathSuffix":"","permission":"755","replication":0,"storagePolicy":0,"type":"DIRECTORY"}}`
	act := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active.Add(1)
		_, _ = w.Write([]byte(status))
	}))
	defer act.Close()
	sb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		standby.Add(1)
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"RemoteException":{"exception":"StandbyException","javaClassName":"org.apache.hadoop.ipc.StandbyException","message":"Operation category READ is not supported in state standby"}}`))
	}))
	defer sb.Close()
	ctx := context.Background()

	c := New(strings.Join([]string{closedURL(t), sb.URL, act.URL}, ","), "alice")
	if _, err := c.Stat(ctx, "/"); err != nil {
		t.Fatalf("past a dead and a standby service: %v", err)
	}
	if active.Load() != 1 || standby.Load() != 1 {
		t.Fatalf("active asked %d times, standby %d", active.Load(), standby.Load())
	}
	if _, err := c.Stat(ctx, "/"); err != nil || active.Load() != 2 || standby.Load() != 1 {
		t.Fatalf("the client did not stay with the active service: %v, %d, %d", err, active.Load(), standby.Load())
	}

	// A failure after the request was sent (the server broke the
	// connection: the call may have been applied) is sent again to the
	// next service with the same client and call IDs, for its retry cache;
	// every call has a new call number.
	var ids []string
	var mu sync.Mutex
	record := func(r *http.Request) {
		mu.Lock()
		ids = append(ids, r.Header.Get(api.ClientIDHeader)+"/"+r.Header.Get(api.CallIDHeader))
		mu.Unlock()
	}
	brk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		broken.Add(1)
		record(r)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	defer brk.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(r)
		_, _ = w.Write([]byte(`{"boolean":true}`))
	}))
	defer ok.Close()
	c = New(brk.URL+","+ok.URL, "alice")
	if err := c.Mkdirs(ctx, "/x", 0o755); err != nil || broken.Load() != 1 {
		t.Fatalf("a call broken after it was sent: %v, sent %d times to the broken service", err, broken.Load())
	}
	if err := c.Mkdirs(ctx, "/y", 0o755); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || ids[0] != ids[1] || ids[1] == ids[2] || !strings.HasPrefix(ids[0], c.clientID+"/") || c.clientID == "" {
		t.Fatalf("call IDs sent: %v (client %s), want one call twice then a new one", ids, c.clientID)
	}
	// With one service (no HA) such a call is not resent, as HDFS's
	// client without a retry policy.
	c = New(brk.URL, "alice")
	if err := c.Mkdirs(ctx, "/x", 0o755); err == nil || broken.Load() != 2 {
		t.Fatalf("without HA: %v, sent %d times", err, broken.Load()-1)
	}

	// A RetriableException (the service could not apply the call now) is
	// sent again to the same service, HA or not.
	var busy atomic.Int32
	retr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if busy.Add(1) <= 2 {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"RemoteException":{"exception":"RetriableException","javaClassName":"org.apache.hadoop.ipc.RetriableException","message":"the edit log cannot commit right now; retry later"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"boolean":true}`))
	}))
	defer retr.Close()
	if err := New(retr.URL, "alice").Mkdirs(ctx, "/r", 0o755); err != nil || busy.Load() != 3 {
		t.Fatalf("after two RetriableExceptions: %v, %d attempts", err, busy.Load())
	}

	// Every service in standby: the error comes back once the attempts
	// are spent (the context bounds the back-off).
	c = New(sb.URL+","+sb.URL, "alice")
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := c.Stat(tctx, "/"); !errs.Is(err, errs.Standby) {
		t.Fatalf("only standbys: %v", err)
	}
}
