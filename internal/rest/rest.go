// Package rest holds the HTTP plumbing every Granary service shares:
// writing JSON answers and RemoteException error bodies (the status comes
// from the error's kind, internal/errs), and the operations endpoints.
package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	httpSwagger "github.com/swaggo/http-swagger/v2"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/wirejson"
)

// WriteJSON writes v with status code. The answers of the request path's
// hottest routes are written without reflection (internal/wirejson).
func WriteJSON(w http.ResponseWriter, code int, v any) error {
	buf, err := wirejson.Marshal(v)
	if err != nil {
		return err
	}
	defer buf.Release()
	b := buf.Bytes()
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(code)
	_, err = w.Write(b)
	return err
}

// WriteError writes err as a RemoteException and returns the status.
func WriteError(w http.ResponseWriter, err error) int {
	code, body := errs.Remote(err)
	if code == http.StatusUnauthorized {
		// The challenge of token mode (RFC 6750).
		w.Header().Set("WWW-Authenticate", `Bearer realm="granary"`)
	}
	if werr := WriteJSON(w, code, body); werr != nil {
		http.Error(w, werr.Error(), http.StatusInternalServerError)
	}
	return code
}

// Metrics serves reg in Prometheus's text format.
func Metrics(reg *prometheus.Registry) http.HandlerFunc {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP
}

// Operations mounts /debug/pprof behind admin (the superuser's in token
// mode) and RemoteException answers for unknown endpoints and methods on r.
func Operations(r chi.Router, admin func(http.Handler) http.Handler) {
	a := r.With(admin)
	a.HandleFunc("/debug/pprof/", pprof.Index)
	a.HandleFunc("/debug/pprof/cmdline", cmdline)
	a.HandleFunc("/debug/pprof/profile", pprof.Profile)
	a.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	a.HandleFunc("/debug/pprof/trace", pprof.Trace)
	a.HandleFunc("/debug/pprof/{name}", func(w http.ResponseWriter, req *http.Request) {
		pprof.Handler(chi.URLParam(req, "name")).ServeHTTP(w, req)
	})
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		WriteError(w, errs.E(errs.FileNotFound, "No such endpoint: %s %s", req.Method, req.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		WriteError(w, errs.E(errs.UnsupportedOperation, "Method %s is not allowed on %s", req.Method, req.URL.Path))
	})
}

// cmdline is pprof's /debug/pprof/cmdline with secrets taken out: a
// password in a URL argument (a database URL passed as a flag) shows as
// xxxxx.
func cmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	args := make([]string, len(os.Args))
	for i, a := range os.Args {
		args[i] = RedactURLs(a)
	}
	_, _ = io.WriteString(w, strings.Join(args, "\x00"))
}

var (
	urlPassword   = regexp.MustCompile(`(://[^/:@\s]*:)[^@\s]*@`)
	queryPassword = regexp.MustCompile(`([?&]password=)[^&\s]*`)
)

// RedactURLs replaces the password of every URL in s
// (scheme://user:password@host, or a password= query parameter) with xxxxx.
func RedactURLs(s string) string {
	return queryPassword.ReplaceAllString(urlPassword.ReplaceAllString(s, "${1}xxxxx@"), "${1}xxxxx")
}

// SwaggerUI serves Swagger UI for the service's /openapi.json under
// /docs/ (its assets are embedded in the binary: nothing is fetched at run
// time). The service routes GET /docs here.
func SwaggerUI() http.HandlerFunc {
	ui := httpSwagger.Handler(httpSwagger.URL("/openapi.json"))
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/docs" || r.URL.Path == "/docs/" {
			http.Redirect(w, r, "/docs/index.html", http.StatusMovedPermanently)
			return
		}
		ui.ServeHTTP(w, r)
	}
}

// GetJSON fetches url and decodes its JSON answer into out; any status but
// 200 is an error carrying the body.
func GetJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
