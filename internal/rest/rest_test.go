package rest

import (
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestCmdlineHidesPasswords(t *testing.T) {
	old := os.Args
	os.Args = []string{"granary", "metadata", "-database-url", "postgres://granary:s3cret@db:5432/granary?sslmode=disable", "-nats-url", "nats://u:natspw@nats:4222", "postgres://db/x?user=a&password=qpw"}
	defer func() { os.Args = old }()
	rec := httptest.NewRecorder()
	cmdline(rec, httptest.NewRequest("GET", "/debug/pprof/cmdline", nil))
	body, _ := io.ReadAll(rec.Body)
	if strings.Contains(string(body), "s3cret") || strings.Contains(string(body), "natspw") || strings.Contains(string(body), "qpw") {
		t.Fatalf("cmdline shows a password: %q", body)
	}
	if !strings.Contains(string(body), "postgres://granary:xxxxx@db:5432/granary") {
		t.Fatalf("cmdline lost the rest of the URL: %q", body)
	}
}
