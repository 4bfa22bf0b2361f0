package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/devissuer"
	"github.com/granary-fs/granary/internal/tlsconf"
)

// Secure mode (`granary dev -secure`): every service runs in token mode
// against a development OpenID Connect issuer served next to them, with
// HTTPS from a throwaway CA on every listener, block access tokens, and
// the embedded NATS server authorizing each service by its nkey. The CA,
// certificates and seeds stay under the data directory.

// DefaultIssuerAddr is where the development issuer listens.
const DefaultIssuerAddr = "127.0.0.1:9871"

// secureSetup makes the CA, starts the issuer and returns the auth and TLS
// settings every service gets.
func (c *Cluster) secureSetup(ctx context.Context) (auth.Config, tlsconf.Files, error) {
	host, _ := os.Hostname()
	files, err := tlsconf.DevCA(filepath.Join(c.cfg.DataDir, "tls"), "localhost", "127.0.0.1", "::1", host)
	if err != nil {
		return auth.Config{}, files, fmt.Errorf("dev CA: %w", err)
	}
	c.CAFile = files.CA
	srvTLS, err := files.Server()
	if err != nil {
		return auth.Config{}, files, err
	}
	addr := c.cfg.IssuerAddr
	if addr == "" {
		addr = DefaultIssuerAddr
	}
	if c.Issuer, c.issuerSrv, err = devissuer.Start(addr, srvTLS, "granary"); err != nil {
		return auth.Config{}, files, err
	}
	c.IssuerURL = c.Issuer.URL
	cli, err := files.Client()
	if err != nil {
		return auth.Config{}, files, err
	}
	ac := auth.Config{Mode: auth.Token, OIDCIssuer: c.IssuerURL, OIDCAudience: "granary",
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: cli}}}
	return ac, files, nil
}

// HTTPClient is a client that trusts the cluster's CA (secure mode).
func (c *Cluster) HTTPClient() *http.Client {
	if c.CAFile == "" {
		return http.DefaultClient
	}
	cfg, err := tlsconf.Files{CA: c.CAFile}.Client()
	if err != nil {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}
