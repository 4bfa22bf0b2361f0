package contract

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A server that breaks the metadata contract is caught; one that keeps it is not.
func TestTransportCatchesViolations(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz":
			w.WriteHeader(http.StatusTeapot) // undocumented status
		case r.URL.Query().Get("op") == "GETFILESTATUS":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"FileStatus":{"length":"not a number"}}`)) // wrong type
		case r.URL.Path == "/undocumented":
			w.WriteHeader(http.StatusOK)
		case r.URL.Query().Get("op") == "GETTRASHROOT":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"Path":"/user/me/.Trash","Extra":1}`)) // undocumented field
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"Path":"/user/me"}`))
		}
	}))
	defer srv.Close()
	tr := NewTransport(http.DefaultTransport)
	if err := tr.Serve("metadata", strings.TrimPrefix(srv.URL, "http://")); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: tr}
	for _, u := range []string{"/healthz", "/webhdfs/v1/a/b?op=GETFILESTATUS", "/undocumented", "/webhdfs/v1/?op=GETTRASHROOT", "/webhdfs/v1/?op=GETHOMEDIRECTORY&user.name=me"} {
		resp, err := c.Get(srv.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	failures, checked := tr.Failures()
	if len(failures) != 4 {
		t.Fatalf("%d violations, want 4 (status, body type, endpoint, extra field): %q", len(failures), failures)
	}
	for i, want := range []string{"/healthz", "GETFILESTATUS", "/undocumented", "GETTRASHROOT"} {
		if !strings.Contains(failures[i], want) {
			t.Fatalf("violation %d is %q, want one about %s", i, failures[i], want)
		}
	}
	if checked < 2 {
		t.Fatalf("%d exchanges checked", checked)
	}
}
