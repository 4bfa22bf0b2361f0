// Package devissuer is a small OpenID Connect issuer for `granary dev
// -secure` and the tests: its own RSA key, a discovery document, a JWKS
// and a token endpoint that signs a JWT for whatever user name it is
// given. It authenticates nobody; it stands in for a real identity
// provider (Keycloak, Dex, Okta...) on a developer's machine.
package devissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer signs tokens and serves its keys.
type Issuer struct {
	URL      string // the issuer identifier, where the discovery document is
	Audience string // the aud of the tokens the token endpoint issues
	TTL      time.Duration

	mu   sync.Mutex
	keys []*jose.JSONWebKey // private keys; the last signs
}

// New returns an issuer at url (the base URL its Handler is served at) with
// one key.
func New(url, audience string) (*Issuer, error) {
	i := &Issuer{URL: strings.TrimRight(url, "/"), Audience: audience, TTL: time.Hour}
	return i, i.Rotate()
}

// Rotate adds a new signing key; earlier keys stay published so that the
// tokens they signed still verify.
func (i *Issuer) Rotate() error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append(i.keys, &jose.JSONWebKey{Key: k, KeyID: fmt.Sprintf("dev-%d", len(i.keys)+1), Algorithm: string(jose.RS256), Use: "sig"})
	return nil
}

// Mint signs a token with the given claims on top of iss, aud, iat and exp.
func (i *Issuer) Mint(claims map[string]any) (string, error) {
	i.mu.Lock()
	key := i.keys[len(i.keys)-1]
	i.mu.Unlock()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	now := time.Now()
	std := jwt.Claims{Issuer: i.URL, Audience: jwt.Audience{i.Audience}, IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(i.TTL))}
	b := jwt.Signed(sig).Claims(std)
	if claims != nil {
		b = b.Claims(claims)
	}
	return b.Serialize()
}

// Token signs a token for user in groups.
func (i *Issuer) Token(user string, groups ...string) (string, error) {
	c := map[string]any{"sub": user, "preferred_username": user}
	if len(groups) > 0 {
		c["groups"] = groups
	}
	return i.Mint(c)
}

// Handler serves the discovery document, the JWKS and the token endpoint
// (POST username=...&groups=a,b; answers an OAuth 2 token response).
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer": i.URL, "jwks_uri": i.URL + "/jwks", "token_endpoint": i.URL + "/token",
			"authorization_endpoint": i.URL + "/authorize", "response_types_supported": []string{"token"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		i.mu.Lock()
		var set jose.JSONWebKeySet
		for _, k := range i.keys {
			set.Keys = append(set.Keys, k.Public())
		}
		i.mu.Unlock()
		writeJSON(w, set)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		user := r.FormValue("username")
		if user == "" {
			http.Error(w, `{"error":"invalid_request","error_description":"username is required"}`, http.StatusBadRequest)
			return
		}
		var groups []string
		for _, g := range strings.Split(r.FormValue("groups"), ",") {
			if g = strings.TrimSpace(g); g != "" {
				groups = append(groups, g)
			}
		}
		tok, err := i.Token(user, groups...)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(i.TTL.Seconds())})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Start listens on addr (TLS with tlsCfg when not nil), serves a new
// issuer there and returns it with its server; the issuer's URL names the
// address it listens on ("localhost" for an unspecified host).
func Start(addr string, tlsCfg *tls.Config, audience string) (*Issuer, *http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dev OIDC issuer: %w", err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
		ln = tls.NewListener(ln, tlsCfg)
	}
	iss, err := New(scheme+"://"+net.JoinHostPort(host, port), audience)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	srv := &http.Server{Handler: iss.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return iss, srv, nil
}
