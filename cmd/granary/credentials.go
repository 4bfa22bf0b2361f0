package main

import (
	"crypto/tls"
	"net/http"
	"os"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/tlsconf"
)

// The CLI's credentials and trust, from the environment, as Hadoop's
// tools take a Kerberos ticket cache and a token file from theirs:
// GRANARY_TOKEN is a bearer JWT from the OpenID Connect issuer,
// GRANARY_DELEGATION_TOKEN a WebHDFS delegation token (a URL string), or
// HADOOP_TOKEN_FILE_LOCATION a token storage file holding one, and
// GRANARY_TLS_CA the CA bundle that signed the services' certificates.

// cliTLS is the TLS configuration GRANARY_TLS_CA asks for (nil: system
// roots).
func cliTLS() (*tls.Config, error) {
	ca := os.Getenv("GRANARY_TLS_CA")
	if ca == "" {
		return nil, nil
	}
	return tlsconf.Files{CA: ca}.Client()
}

// withCredentials sets the environment's credential and trust on a client
// of the metadata services at bases (of the HA nameservice logical, when
// named): without GRANARY_DELEGATION_TOKEN, the delegation token for them
// in the token storage file HADOOP_TOKEN_FILE_LOCATION names, as Hadoop's
// UserGroupInformation reads it (YARN containers get one).
func withCredentials(c *client.Client, bases []string, logical string) error {
	delegation := os.Getenv("GRANARY_DELEGATION_TOKEN")
	if file := os.Getenv("HADOOP_TOKEN_FILE_LOCATION"); delegation == "" && file != "" {
		var err error
		if delegation, err = delegationFromFile(file, bases, logical); err != nil {
			return err
		}
	}
	c.SetDelegation(delegation)
	return withBearer(c)
}

// withBearer sets the environment's bearer token (GRANARY_TOKEN) and trust
// (GRANARY_TLS_CA) on a client, and no delegation token: fetching,
// renewing and cancelling one needs another credential, as in HDFS.
func withBearer(c *client.Client) error {
	c.SetBearer(os.Getenv("GRANARY_TOKEN"))
	cfg, err := cliTLS()
	if err != nil {
		return err
	}
	if cfg != nil {
		c.SetTLS(cfg)
	}
	return nil
}

// credentialTransport adds GRANARY_TOKEN to the CLI's plain HTTP requests
// (admin, fsck) and trusts GRANARY_TLS_CA.
type credentialTransport struct{ next http.RoundTripper }

func (t credentialTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if tok := os.Getenv("GRANARY_TOKEN"); tok != "" && r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return t.next.RoundTrip(r)
}

// cliHTTPClient is the client admin and fsck use.
func cliHTTPClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	cfg, err := cliTLS()
	if err != nil {
		return nil, err
	}
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: credentialTransport{tr}}, nil
}
