package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCallFollowsRedirect: calls make their round trips on the transport
// itself, but an answer that is a redirect (a proxy in front of the
// service) is still followed, a call's body sent again.
func TestCallFollowsRedirect(t *testing.T) {
	status := `{"FileStatus":{"accessTime":0,"blockSize":0,"childrenNum":0,"fileId":16386,"group":"g","length":0,"modificationTime":0,"owner":"o","pathSuffix":"","permission":"755","replication":0,"storagePolicy":0,"type":"DIRECTORY"}}`
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !strings.HasPrefix(r.URL.Path, "/moved") {
			w.Header().Set("Location", "/moved"+r.URL.RequestURI())
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		bodies = append(bodies, string(b))
		if r.Method == http.MethodPost {
			_, _ = w.Write([]byte(`{"boolean":true}`))
			return
		}
		_, _ = w.Write([]byte(status))
	}))
	defer srv.Close()
	c := New(srv.URL, "alice")
	st, err := c.Stat(context.Background(), "/")
	if err != nil || st.FileID != 16386 {
		t.Fatalf("Stat through a redirect: %+v, %v", st, err)
	}
	var out struct{ Boolean bool }
	if err := c.do(context.Background(), http.MethodPost, c.native("create"), map[string]string{"path": "/f"}, &out); err != nil || !out.Boolean {
		t.Fatalf("a POST through a redirect: %+v, %v", out, err)
	}
	if len(bodies) != 2 || bodies[1] != `{"path":"/f"}` {
		t.Fatalf("bodies that reached the redirect's target: %q", bodies)
	}
}
