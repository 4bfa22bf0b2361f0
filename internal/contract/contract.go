// Package contract checks live HTTP traffic against the services' OpenAPI 3
// documents (kin-openapi's openapi3filter): every request must match a
// documented operation and its parameters, every response a documented
// status and schema. Tests install a Transport around their HTTP client;
// an undocumented endpoint, status or body fails them.
package contract

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/granary-fs/granary/openapi"
)

// Transport validates each exchange with the document of the service at
// the request's host (hosts it does not know are passed through).
type Transport struct {
	Base http.RoundTripper

	mu       sync.Mutex
	routers  map[string]routers.Router // by host:port
	failures []string
	checked  int
}

// NewTransport returns a validating transport around base.
func NewTransport(base http.RoundTripper) *Transport {
	return &Transport{Base: base, routers: map[string]routers.Router{}}
}

// Serve declares that the service named service ("metadata",
// "coordinator", "datanode") answers at hostport.
func (t *Transport) Serve(service, hostport string) error {
	doc, err := openapi.Load(service)
	if err != nil {
		return err
	}
	doc.Servers = openapi3.Servers{{URL: "http://" + hostport}}
	// An undocumented field is a violation: objects with declared
	// properties admit no others.
	for _, ref := range doc.Components.Schemas {
		closeObjects(ref.Value, map[*openapi3.Schema]bool{})
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.routers[hostport] = r
	t.mu.Unlock()
	return nil
}

// Failures returns what did not match the contracts, and how many
// exchanges were checked.
func (t *Transport) Failures() ([]string, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.failures...), t.checked
}

func (t *Transport) fail(format string, args ...any) {
	t.mu.Lock()
	t.failures = append(t.failures, fmt.Sprintf(format, args...))
	t.mu.Unlock()
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	router := t.routers[req.URL.Host]
	t.mu.Unlock()
	if router == nil {
		return t.Base.RoundTrip(req)
	}
	// The request as the contract sees it: a WebHDFS path is one {path}.
	view := req.Clone(context.Background())
	view.URL = routable(req.URL)
	view.Body = http.NoBody
	route, params, err := router.FindRoute(view)
	if err != nil {
		// Only a refusal may answer an undocumented endpoint.
		resp, rerr := t.Base.RoundTrip(req)
		if rerr == nil && resp.StatusCode < 400 {
			t.fail("%s %s: undocumented endpoint answered %d: %v", req.Method, req.URL.Path, resp.StatusCode, err)
		}
		return resp, rerr
	}
	in := &openapi3filter.RequestValidationInput{
		Request: view, PathParams: params, Route: route,
		Options: &openapi3filter.Options{ExcludeRequestBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	resp, err := t.Base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	// A request outside the contract must be refused (tests send bad input
	// on purpose); accepting one is a violation.
	if reqErr != nil && resp.StatusCode < 400 {
		t.fail("%s %s?%s: accepted a request outside the contract: %v", req.Method, req.URL.Path, req.URL.RawQuery, reqErr)
	}
	var body []byte
	if isJSON(resp.Header.Get("Content-Type")) {
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{ExcludeResponseBody: !isJSON(resp.Header.Get("Content-Type")), IncludeResponseStatus: true},
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.fail("%s %s?%s: response %d: %v", req.Method, req.URL.Path, req.URL.RawQuery, resp.StatusCode, err)
	}
	t.mu.Lock()
	t.checked++
	t.mu.Unlock()
	return resp, nil
}

func isJSON(ct string) bool { return strings.HasPrefix(ct, "application/json") }

// routable rewrites /webhdfs/v1/a/b to /webhdfs/v1/a%2Fb so that the
// documented /webhdfs/v1/{path} matches nested paths.
func routable(u *url.URL) *url.URL {
	c := *u
	rest, ok := strings.CutPrefix(u.Path, "/webhdfs/v1/")
	if ok && strings.Contains(rest, "/") {
		c.Path = "/webhdfs/v1/" + rest
		c.RawPath = "/webhdfs/v1/" + url.PathEscape(rest)
	}
	if u.Path == "/webhdfs/v1" || u.Path == "/webhdfs/v1/" {
		c.Path, c.RawPath = "/webhdfs/v1/%2F", "/webhdfs/v1/%2F"
	}
	return &c
}

// closeObjects sets additionalProperties: false on every object schema
// that declares properties, recursively.
func closeObjects(s *openapi3.Schema, seen map[*openapi3.Schema]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
		no := false
		s.AdditionalProperties.Has = &no
	}
	for _, p := range s.Properties {
		closeObjects(p.Value, seen)
	}
	if s.Items != nil {
		closeObjects(s.Items.Value, seen)
	}
	for _, list := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, r := range list {
			closeObjects(r.Value, seen)
		}
	}
}
