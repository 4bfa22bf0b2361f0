package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/devissuer"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/simpleauth"
)

// issuer starts a real OIDC issuer on a loopback port.
func issuer(t *testing.T) *devissuer.Issuer {
	t.Helper()
	iss, srv, err := devissuer.Start("127.0.0.1:0", nil, "granary")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return iss
}

// whoami is a handler behind the middleware that answers the identity.
func whoami(a *Authenticator) http.Handler {
	return a.Middleware(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := a.Identify(r)
		if err != nil {
			code, _ := errs.Remote(err)
			w.WriteHeader(code)
			return
		}
		_ = json.NewEncoder(w).Encode(id)
	}))
}

func call(t *testing.T, h http.Handler, target, bearer string) (int, Identity) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = "10.1.2.3:5555"
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var id Identity
	if w.Code == http.StatusOK {
		_ = json.Unmarshal(w.Body.Bytes(), &id)
	} else if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("401 without a challenge")
	}
	return w.Code, id
}

func TestBearerTokens(t *testing.T) {
	iss := issuer(t)
	a, err := New(Config{Mode: Token, OIDCIssuer: iss.URL, OIDCAudience: "granary",
		ProxyUsers: []string{"hadoop.proxyuser.hue.users=alice", "hadoop.proxyuser.hue.hosts=10.0.0.0/8", "hadoop.proxyuser.oozie.groups=*", "hadoop.proxyuser.oozie.hosts=127.0.0.1"}},
		simpleauth.Policy{Superuser: "hdfs", Supergroup: "supergroup"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := whoami(a)
	alice, _ := iss.Token("alice", "staff", "eng")
	if code, id := call(t, h, "/x?user.name=hdfs", alice); code != 200 || id.User != "alice" || len(id.Groups) != 3 || id.UGI() != "alice (auth:TOKEN)" {
		t.Fatalf("alice: %d %+v", code, id)
	}
	// No credential, user.name alone, a garbage token, another scheme.
	for _, c := range []struct{ target, bearer string }{{"/x", ""}, {"/x?user.name=hdfs", ""}, {"/x", "not.a.jwt"}} {
		if code, _ := call(t, h, c.target, c.bearer); code != http.StatusUnauthorized {
			t.Errorf("%+v: %d, want 401", c, code)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("Authorization", "Basic YWxpY2U6eA==")
	if w := httptest.NewRecorder(); func() int { h.ServeHTTP(w, r); return w.Code }() != http.StatusUnauthorized {
		t.Error("Basic credentials accepted")
	}
	// Expired, wrong audience, wrong issuer's key, no user claim.
	iss.TTL = -time.Minute
	expired, _ := iss.Token("alice")
	iss.TTL = time.Hour
	other, _ := iss.Mint(map[string]any{"preferred_username": "alice", "aud": "someone-else"})
	noUser, _ := iss.Mint(map[string]any{"sub": "x"})
	stranger := issuer(t)
	forged, _ := stranger.Mint(map[string]any{"preferred_username": "alice", "iss": iss.URL})
	for name, tok := range map[string]string{"expired": expired, "audience": other, "no user": noUser, "foreign key": forged} {
		if code, _ := call(t, h, "/x", tok); code != http.StatusUnauthorized {
			t.Errorf("%s token: %d, want 401", name, code)
		}
	}
	// Key rotation: a token signed by a new key verifies (the key set is
	// refetched), and the old key's tokens still do.
	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	rotated, _ := iss.Token("bob")
	if code, id := call(t, h, "/x", rotated); code != 200 || id.User != "bob" {
		t.Fatalf("after rotation: %d %+v", code, id)
	}
	if code, _ := call(t, h, "/x", alice); code != 200 {
		t.Fatalf("old key's token after rotation: %d", code)
	}
	// A verified token is remembered only until it expires.
	iss.TTL = 2 * time.Second
	brief, _ := iss.Token("dave")
	iss.TTL = time.Hour
	if code, _ := call(t, h, "/x", brief); code != 200 {
		t.Fatalf("brief token: %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for code, _ := call(t, h, "/x", brief); code != http.StatusUnauthorized; code, _ = call(t, h, "/x", brief) {
		if time.Now().After(deadline) {
			t.Fatal("an expired token stayed accepted")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Open paths need nothing.
	if code, _ := call(t, a.Middleware(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})), "/healthz", ""); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	// Proxy users: hue may be alice from 10/8 only; oozie anyone from
	// 127.0.0.1 only; alice nobody.
	hue, _ := iss.Token("hue")
	oozie, _ := iss.Token("oozie")
	for _, c := range []struct {
		bearer, doas string
		code         int
	}{{hue, "alice", 200}, {hue, "bob", 403}, {oozie, "bob", 403}, {alice, "bob", 403}} {
		name := "doas"
		if c.doas == "alice" {
			name = "doAs" // any case, as HDFS's ProxyUserAuthenticationFilter
		}
		code, id := call(t, h, "/x?"+name+"="+c.doas, c.bearer)
		if code != c.code || code == 200 && (id.User != c.doas || id.UGI() != "alice (auth:PROXY) via hue (auth:TOKEN)") {
			t.Errorf("doas %s: %d %+v, want %d", c.doas, code, id, c.code)
		}
	}
}

func TestDelegationCredential(t *testing.T) {
	a, err := New(Config{Mode: Token}, simpleauth.Policy{Superuser: "hdfs"}, func(ctx context.Context, tok string) (Identity, error) {
		if tok != "good" {
			return Identity{}, errs.E(errs.InvalidToken, "token can't be found in cache")
		}
		return Identity{User: "carol", Groups: []string{"carol"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h := whoami(a)
	if code, id := call(t, h, "/x?delegation=good", ""); code != 200 || id.User != "carol" || id.Delegation != "good" || id.Method != "TOKEN" {
		t.Fatalf("%d %+v", code, id)
	}
	if code, id := call(t, h, "/x?Delegation=good", ""); code != 200 || id.User != "carol" {
		t.Fatalf("the delegation parameter spelled Delegation (HDFS's AuthFilter folds names): %d %+v", code, id)
	}
	if code, _ := call(t, h, "/x?delegation=bad", ""); code != http.StatusForbidden {
		t.Fatalf("bad delegation token: %d, want 403 InvalidToken", code)
	}
	// Without an issuer a bearer cannot be checked.
	if code, _ := call(t, h, "/x", "x.y.z"); code != http.StatusUnauthorized {
		t.Fatalf("bearer without issuer: %d", code)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Mode: "kerberos"},
		{Mode: Token, OIDCIssuer: "http://x"},
		{Mode: Token, ProxyUsers: []string{"hadoop.proxyuser.hue=*"}},
		{Mode: Token, ProxyUsers: []string{"hadoop.proxyuser.hue.hosts=not-a-host"}},
		{Mode: Token, ProxyUsers: []string{"hadoop.proxyuser.hue.colour=*"}},
	} {
		if _, err := New(c, simpleauth.Policy{}, nil); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestRequireSuperuser: the superuser by name in simple mode, by name or a
// supergroup membership its token claims in token mode.
func TestRequireSuperuser(t *testing.T) {
	policy := simpleauth.Policy{Superuser: "hdfs", Supergroup: "supergroup"}
	simple, _ := New(Config{}, policy, nil)
	for q, ok := range map[string]bool{"user.name=hdfs": true, "user.name=bob": false, "": false, "user.name=hdfs&doas=bob": false} {
		_, err := simple.RequireSuperuser(httptest.NewRequest("GET", "/x?"+q, nil))
		if ok != (err == nil) || err != nil && !errs.Is(err, errs.AccessControl) {
			t.Errorf("simple %q: %v", q, err)
		}
	}
	iss := issuer(t)
	token, err := New(Config{Mode: Token, OIDCIssuer: iss.URL, OIDCAudience: "granary"}, policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := iss.Token("carol", "supergroup")
	plain, _ := iss.Token("dave", "staff")
	h := token.Middleware(nil)(token.SuperuserOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	for tok, want := range map[string]int{admin: 200, plain: 403} {
		if code, _ := call(t, h, "/x?user.name=hdfs", tok); code != want {
			t.Errorf("token of %s: %d, want %d", map[string]string{admin: "carol", plain: "dave"}[tok], code, want)
		}
	}
}
