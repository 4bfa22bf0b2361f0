package inlinehttp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// writeRequest writes req to w, the bytes http.Request.Write writes, and
// flushes them: the head and a body held in memory in one write to the
// socket. Request.Write formats the head with fmt, sorts the headers into
// a fresh slice and, for a body it does not know to be in memory (the Go
// client's packet bodies), flushes the head alone first — a second system
// call on each side for a one-packet block PUT. A request with anything
// out of the ordinary — a Host or URL that needs cleaning or checking, a
// header that Request.Write would drop or rewrite, Close, trailers — is
// written by Request.Write itself.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	ruri := req.URL.RequestURI()
	hasBody := req.Body != nil && req.Body != http.NoBody
	var keys [16]string
	n, ok := plainHeader(req.Header, keys[:])
	if !ok || hasBody != (req.ContentLength > 0) || req.Close || req.Trailer != nil || len(req.TransferEncoding) > 0 || req.URL.Opaque != "" ||
		!plainHost(host) || !plainValue(ruri) || strings.ContainsAny(ruri, " ") {
		if err := req.Write(w); err != nil {
			return err
		}
		return w.Flush()
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(ruri)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	userAgent := "Go-http-client/1.1"
	if ua, set := req.Header["User-Agent"]; set {
		userAgent = ""
		if len(ua) > 0 {
			userAgent = ua[0]
		}
	}
	if userAgent != "" {
		w.WriteString("User-Agent: ")
		w.WriteString(userAgent)
		w.WriteString("\r\n")
	}
	// As transferWriter.shouldSendContentLength: a body's length, and 0 for
	// the methods servers expect one for.
	if hasBody || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		var num [20]byte
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(num[:0], req.ContentLength, 10))
		w.WriteString("\r\n")
	}
	for _, k := range keys[:n] {
		for _, v := range req.Header[k] {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	w.WriteString("\r\n")
	if !hasBody {
		return w.Flush()
	}
	if !inMemory(req.Body) {
		// The head first, as Request.Write: reading the body may block.
		if err := w.Flush(); err != nil {
			req.Body.Close()
			return err
		}
	}
	sent, err := io.Copy(w, io.LimitReader(req.Body, req.ContentLength))
	if err == nil {
		var extra int64
		extra, err = io.Copy(io.Discard, req.Body)
		sent += extra
	}
	if cerr := req.Body.Close(); err == nil {
		err = cerr
	}
	if err == nil && sent != req.ContentLength {
		err = fmt.Errorf("http: ContentLength=%d with Body length %d", req.ContentLength, sent)
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

// plainHeader puts h's keys that go out as they are (all but those
// Request.Write writes itself) into keys, sorted as Request.Write sorts
// them, and reports whether every one is written verbatim: a valid name,
// values with no line break, nothing to trim, at most len(keys) keys.
func plainHeader(h http.Header, keys []string) (int, bool) {
	n := 0
	for k, vs := range h {
		switch k {
		case "User-Agent":
			if len(vs) > 0 && !plainValue(vs[0]) {
				return 0, false
			}
			continue
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		if n == len(keys) || !validName(k) {
			return 0, false
		}
		for _, v := range vs {
			if !plainValue(v) {
				return 0, false
			}
		}
		keys[n] = k
		n++
	}
	slices.Sort(keys[:n])
	return n, true
}

// validName is httpguts.ValidHeaderFieldName: a token.
func validName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 0x80 || !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// plainValue reports whether v goes out unchanged: no control byte, no
// space or tab to trim at either end.
func plainValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	return v == "" || v[0] != ' ' && v[len(v)-1] != ' '
}

// plainHost reports whether host is written as it is: a name or an IPv4
// or bracketed IPv6 address, with a port, nothing to convert or strip.
func plainHost(host string) bool {
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-:[]", c) >= 0) {
			return false
		}
	}
	return true
}

// inMemory reports whether reading body cannot block: the in-memory
// readers Request.Write knows (io.NopCloser's too, as http.NewRequest
// wraps them), and any reader that knows how much it has left (a
// *bytes.Reader inside a type of the caller's).
func inMemory(body io.Reader) bool {
	switch reflect.TypeOf(body) {
	case nopCloser, nopCloserWriterTo:
		// Its one field, Reader, is exported (net/http unwraps it so).
		body = reflect.ValueOf(body).Field(0).Interface().(io.Reader)
	}
	switch body.(type) {
	case *bytes.Reader, *bytes.Buffer, *strings.Reader:
		return true
	case interface{ Len() int }:
		return true
	}
	return false
}

var (
	nopCloser         = reflect.TypeOf(io.NopCloser(nil))
	nopCloserWriterTo = reflect.TypeOf(io.NopCloser(struct {
		io.Reader
		io.WriterTo
	}{}))
)
