package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/granary-fs/granary/internal/devissuer"
	"github.com/granary-fs/granary/internal/natsauth"
	"github.com/granary-fs/granary/internal/tlsconf"
)

// secureInitCmd is `granary secure-init`: everything a secured cluster
// of separate processes (the compose file) needs, made once into one
// folder and kept on later runs: the nkey seeds and a nats-server.conf
// (TLS, JetStream, the per-identity authorization), and a throwaway CA with
// one certificate for the named hosts (tls/ca.pem, tls/cert.pem,
// tls/key.pem). A real deployment brings its own CA and identity provider.
func secureInitCmd(args []string, out io.Writer, run bool) error {
	fs := flag.NewFlagSet("granary secure-init", flag.ContinueOnError)
	if !run {
		fs.SetOutput(io.Discard)
	}
	dir := fs.String("dir", env("GRANARY_SECURE_DIR", ""), "the folder to fill (GRANARY_SECURE_DIR)")
	dns := fs.String("datanodes", env("GRANARY_SECURE_DATANODES", "dn1,dn2,dn3"), "the datanodes' NATS identities (GRANARY_SECURE_DATANODES)")
	hosts := fs.String("hosts", env("GRANARY_SECURE_HOSTS", "localhost,127.0.0.1"), "the host names and addresses the certificate is for (GRANARY_SECURE_HOSTS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		return usageError{"usage: granary secure-init -dir DIR [-datanodes dn1,dn2,dn3] [-hosts h1,h2]"}
	}
	if !run {
		return nil
	}
	ids, err := natsauth.Generate(*dir, splitList(*dns))
	if err != nil {
		return err
	}
	files, err := tlsconf.DevCA(filepath.Join(*dir, "tls"), splitList(*hosts)...)
	if err != nil {
		return err
	}
	conf := fmt.Sprintf("# nats-server for a secured Granary (granary secure-init)\nport: 4222\ntls {\n  cert_file: %q\n  key_file: %q\n}\n%s",
		files.Cert, files.Key, natsauth.Config(ids))
	if err := os.WriteFile(filepath.Join(*dir, "nats-server.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "secured cluster material in %s: nats-server.conf, <identity>.nk for %d identities, tls/ca.pem, tls/cert.pem, tls/key.pem\n", *dir, len(ids))
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// devIssuerCmd is `granary dev-issuer`: the development OpenID Connect
// issuer of `granary dev -secure` as its own process (the compose file).
// It signs a token for any user name it is asked for: never expose it.
func devIssuerCmd(ctx context.Context, args []string, run bool) error {
	fs := flag.NewFlagSet("granary dev-issuer", flag.ContinueOnError)
	if !run {
		fs.SetOutput(io.Discard)
	}
	addr := fs.String("addr", env("GRANARY_ISSUER_ADDR", ":9871"), "listen address (GRANARY_ISSUER_ADDR)")
	issuerURL := fs.String("url", env("GRANARY_ISSUER_URL", ""), "the issuer identifier, the URL the services reach it at (GRANARY_ISSUER_URL)")
	audience := fs.String("audience", env("GRANARY_OIDC_AUDIENCE", "granary"), "the aud of the tokens (GRANARY_OIDC_AUDIENCE)")
	var files tlsconf.Files
	fs.StringVar(&files.Cert, "tls-cert", env("GRANARY_TLS_CERT", ""), "serve HTTPS with this certificate (GRANARY_TLS_CERT)")
	fs.StringVar(&files.Key, "tls-key", env("GRANARY_TLS_KEY", ""), "the key of -tls-cert (GRANARY_TLS_KEY)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *issuerURL == "" {
		return usageError{"granary dev-issuer: -url is required (e.g. https://issuer:9871)"}
	}
	if !run {
		return nil
	}
	iss, err := devissuer.New(*issuerURL, *audience)
	if err != nil {
		return err
	}
	ln, err := tlsconf.Listen(*addr, files)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", iss.Handler())
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ready\n")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "development OIDC issuer %s listening on %s (it signs a token for any user: development only)\n", *issuerURL, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
