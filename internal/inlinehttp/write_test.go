package inlinehttp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

// writes counts the writes that reach it (a socket's; no ReadFrom).
type writes struct {
	b bytes.Buffer
	n int
}

func (w *writes) Write(p []byte) (int, error) { w.n++; return w.b.Write(p) }

// write runs writeRequest and returns the bytes and the writes they took.
func write(t *testing.T, req *http.Request) ([]byte, int, error) {
	t.Helper()
	var w writes
	err := writeRequest(bufio.NewWriterSize(&w, 4096), req)
	return w.b.Bytes(), w.n, err
}

// netHTTP is what http.Request.Write writes.
func netHTTP(req *http.Request) ([]byte, error) {
	var b bytes.Buffer
	err := req.Write(&b)
	return b.Bytes(), err
}

// TestWriteRequestAsNetHTTP: writeRequest writes the bytes Request.Write
// writes, for requests of every shape the transport carries (drawn at
// random: methods, URLs, hosts, headers with and without values to clean,
// User-Agent set, blank or absent, bodies in memory or not, Close) and for
// requests Request.Write refuses, which it refuses too.
func TestWriteRequestAsNetHTTP(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	for i := range 3000 {
		method := pick("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "")
		target := pick("http://127.0.0.1:9864/api/v1/blocks/1073741825?blockPoolId=BP-1&genStamp=1001",
			"http://dn1.example.com/webhdfs/v1/a%20b/c?op=OPEN&user.name=hdfs", "http://[::1]:9870/", "http://h/p?q=a+b&r=%2F")
		host := pick("", "", "other.example.com:8080", "bad host", "münchen.de", "[fe80::1%25eth0]:80")
		var data []byte
		if method != "GET" && method != "HEAD" && r.IntN(3) > 0 {
			data = bytes.Repeat([]byte("x"), 1+r.IntN(9000))
		}
		headers := map[string][]string{}
		for range r.IntN(6) {
			k := pick("Content-Type", "X-Granary-Block-Token", "Authorization", "X-Client-Id", "Accept", "User-Agent", "Bad Name", "Host", "Content-Length", "x-lower")
			headers[k] = append(headers[k], pick("application/json", "", "a\r\nb", " padded ", "Bearer abc.def", "v1"))
		}
		closeReq := r.IntN(10) == 0
		memory := r.IntN(2) == 0
		build := func() *http.Request {
			var body io.Reader
			if data != nil {
				if memory {
					body = bytes.NewReader(data)
				} else {
					body = iotest.HalfReader(bytes.NewReader(data))
				}
			}
			req, err := http.NewRequestWithContext(context.Background(), method, target, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host
			req.Close = closeReq
			if data != nil {
				req.ContentLength = int64(len(data))
			}
			for k, vs := range headers {
				req.Header[k] = append([]string(nil), vs...)
			}
			return req
		}
		want, werr := netHTTP(build())
		got, _, gerr := write(t, build())
		if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("request %d (%s %s host %q headers %q close %v body %d)\nRequest.Write (%v):\n%q\nwriteRequest (%v):\n%q", i, method, target, host, headers, closeReq, len(data), werr, want, gerr, got)
		}
	}
}

// TestWriteRequestOneWrite: the head and a body held in memory leave in one
// write (Request.Write flushes the head of the Go client's packet bodies
// alone first); a body read from elsewhere follows its head, flushed first
// as Request.Write does; a body shorter than its length is an error.
func TestWriteRequestOneWrite(t *testing.T) {
	data := bytes.Repeat([]byte("p"), 1100)
	type lenReader struct{ *bytes.Reader } // as the Go client's packet bodies
	for _, c := range []struct {
		name   string
		body   io.Reader
		writes int
	}{
		{"bytes.Reader", bytes.NewReader(data), 1},
		{"a reader with Len", lenReader{bytes.NewReader(data)}, 1},
		{"a stream", iotest.HalfReader(bytes.NewReader(data)), 2},
	} {
		req, err := http.NewRequest(http.MethodPut, "http://127.0.0.1:9864/api/v1/blocks/1", c.body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(len(data))
		got, n, err := write(t, req)
		if err != nil || n != c.writes || !bytes.HasSuffix(got, data) {
			t.Fatalf("%s: %d writes (want %d), %d bytes: %v", c.name, n, c.writes, len(got), err)
		}
	}
	req, err := http.NewRequest(http.MethodPut, "http://127.0.0.1:9864/api/v1/blocks/1", strings.NewReader("short"))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 10
	if _, _, err := write(t, req); err == nil || !strings.Contains(err.Error(), "ContentLength=10 with Body length 5") {
		t.Fatalf("a short body: %v", err)
	}
}
