// Package auth authenticates the callers of every service. Simple mode is
// HDFS's simple authentication (the user.name parameter, internal/simpleauth).
// Token mode needs a credential on every request: a bearer JWT from an
// OpenID Connect issuer (verified with the issuer's published keys), or a
// WebHDFS delegation token (the delegation parameter), which the service
// that owns the secret manager verifies. Impersonation (doas) follows
// hadoop.proxyuser.* rules in token mode.
package auth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/rest"
	"github.com/granary-fs/granary/internal/simpleauth"
	"github.com/granary-fs/granary/internal/tlsconf"
)

// The modes of -auth.
const (
	Simple = "simple"
	Token  = "token"
)

// Identity is an authenticated caller.
type Identity struct {
	User   string
	Groups []string
	// Method is HDFS's AuthenticationMethod as the audit log prints it:
	// SIMPLE, TOKEN, or PROXY for an impersonated user.
	Method string
	// RealUser is the proxy user behind a doas, and RealMethod how it
	// authenticated.
	RealUser, RealMethod string
	// Delegation is the delegation token the request carried, if any;
	// Bearer the bearer token. A datanode forwards them to the metadata
	// service it acts on behalf of the caller with.
	Delegation string
	Bearer     string `json:"-"`
}

// UGI renders the identity as HDFS's audit log does: "alice (auth:TOKEN)",
// or "alice (auth:PROXY) via hue (auth:TOKEN)".
func (id Identity) UGI() string {
	s := id.User + " (auth:" + id.Method + ")"
	if id.RealUser != "" {
		s += " via " + id.RealUser + " (auth:" + id.RealMethod + ")"
	}
	return s
}

// Config is a service's authentication setup.
type Config struct {
	Mode         string // Simple (default) or Token
	OIDCIssuer   string // token mode: the issuer URL (discovery at /.well-known/openid-configuration)
	OIDCAudience string // the audience tokens must name
	UserClaim    string // the claim holding the user name (preferred_username)
	GroupsClaim  string // the claim holding the groups (groups)
	// ProxyUsers are hadoop.proxyuser.<user>.{users,groups,hosts}=<list>
	// entries.
	ProxyUsers []string
	// HTTPClient fetches the issuer's discovery document and keys (a
	// client that trusts the issuer's CA); nil is a client trusting
	// CAFile, or http.DefaultClient.
	HTTPClient *http.Client
	CAFile     string
}

// DelegationFunc verifies a delegation token and returns its owner.
type DelegationFunc func(ctx context.Context, token string) (Identity, error)

// Authenticator identifies callers for one service.
type Authenticator struct {
	cfg        Config
	policy     simpleauth.Policy
	proxy      map[string]proxyRule
	delegation DelegationFunc

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier

	// verified remembers the bearer tokens already checked until they
	// expire, so that a client's every request does not pay a signature
	// check and a JSON decoding (a JWT cannot change; only time can
	// invalidate it).
	cacheMu  sync.RWMutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	id     Identity
	expiry time.Time
}

// maxVerified bounds the cache of verified bearer tokens.
const maxVerified = 10000

type proxyRule struct{ users, groups, hosts []string }

// New checks cfg and returns its authenticator; delegation (nil: refused)
// verifies delegation tokens.
func New(cfg Config, policy simpleauth.Policy, delegation DelegationFunc) (*Authenticator, error) {
	switch cfg.Mode {
	case "":
		cfg.Mode = Simple
	case Simple, Token:
	default:
		return nil, fmt.Errorf("-auth must be simple or token, not %q", cfg.Mode)
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = "preferred_username"
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.Mode == Token && cfg.OIDCIssuer != "" && cfg.OIDCAudience == "" {
		return nil, fmt.Errorf("-oidc-audience is needed with -oidc-issuer")
	}
	if cfg.HTTPClient == nil && cfg.CAFile != "" {
		tc, err := tlsconf.Files{CA: cfg.CAFile}.Client()
		if err != nil {
			return nil, fmt.Errorf("the CA of the OIDC issuer: %w", err)
		}
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	a := &Authenticator{cfg: cfg, policy: policy, proxy: map[string]proxyRule{}, delegation: delegation}
	for _, e := range cfg.ProxyUsers {
		if err := a.addProxyRule(e); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// addProxyRule parses hadoop.proxyuser.<user>.<users|groups|hosts>=<list>.
func (a *Authenticator) addProxyRule(entry string) error {
	key, val, ok := strings.Cut(strings.TrimSpace(entry), "=")
	rest, found := strings.CutPrefix(key, "hadoop.proxyuser.")
	i := strings.LastIndexByte(rest, '.')
	if !ok || !found || i <= 0 {
		return fmt.Errorf("proxy user rule %q: want hadoop.proxyuser.<user>.<users|groups|hosts>=<list>", entry)
	}
	user, what := rest[:i], rest[i+1:]
	var list []string
	for _, v := range strings.Split(val, ",") {
		if v = strings.TrimSpace(v); v != "" {
			list = append(list, v)
		}
	}
	r := a.proxy[user]
	switch what {
	case "users":
		r.users = list
	case "groups":
		r.groups = list
	case "hosts":
		for _, h := range list {
			if h != "*" && net.ParseIP(h) == nil {
				if _, _, err := net.ParseCIDR(h); err != nil {
					return fmt.Errorf("proxy user rule %q: %q is not an address, a CIDR or *", entry, h)
				}
			}
		}
		r.hosts = list
	default:
		return fmt.Errorf("proxy user rule %q: %q is not users, groups or hosts", entry, what)
	}
	a.proxy[user] = r
	return nil
}

// TokenMode reports whether every request needs a credential.
func (a *Authenticator) TokenMode() bool { return a.cfg.Mode == Token }

type ctxKey struct{}

// open is what token mode serves without a credential: liveness,
// readiness, the contracts, and CORS preflights (a browser never sends
// credentials with one).
func open(r *http.Request) bool {
	if r.Method == http.MethodOptions {
		return true
	}
	path := r.URL.Path
	switch path {
	case "/healthz", "/readyz", "/openapi.json", "/openapi.yaml", "/docs":
		return true
	}
	return strings.HasPrefix(path, "/docs/")
}

// Middleware authenticates every request in token mode (401
// SecurityException without a valid credential) except those that skip
// says are authenticated otherwise (a datanode's block requests carry
// block tokens) and the open paths. In simple mode it passes everything.
func (a *Authenticator) Middleware(skip func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if !a.TokenMode() {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if open(r) || skip != nil && skip(r) {
				next.ServeHTTP(w, r)
				return
			}
			id, err := a.authenticate(r)
			if errs.Is(err, errs.InvalidToken) || errs.Is(err, errs.Retriable) {
				// A delegation token that is unknown or expired is 403
				// InvalidToken, on which WebHDFS clients fetch a new one.
				rest.WriteError(w, err)
				return
			}
			if err != nil {
				Unauthorized(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
		})
	}
}

// Unauthorized answers 401 with a RemoteException and the challenge.
func Unauthorized(w http.ResponseWriter, err error) {
	if !errs.Is(err, errs.Security) {
		err = errs.Wrap(errs.Security, err, "Authentication failed")
	}
	rest.WriteError(w, err)
}

// authenticate finds and checks the request's credential.
func (a *Authenticator) authenticate(r *http.Request) (Identity, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return Identity{}, errs.E(errs.Security, "Authentication failed: only Bearer credentials are accepted")
		}
		id, err := a.bearer(r.Context(), strings.TrimSpace(tok))
		id.Bearer = strings.TrimSpace(tok)
		return id, err
	}
	if d := rest.Query(r.URL.RawQuery).GetFold("delegation"); d != "" {
		if a.delegation == nil {
			return Identity{}, errs.E(errs.Security, "Authentication failed: this service takes no delegation tokens; send a bearer token")
		}
		id, err := a.delegation(r.Context(), d)
		if err != nil {
			return Identity{}, err
		}
		id.Method, id.Delegation = "TOKEN", d
		return id, nil
	}
	return Identity{}, errs.E(errs.Security, "Authentication required: send Authorization: Bearer <token> or a delegation parameter")
}

// bearer verifies a JWT against the issuer's keys, or finds it verified
// already.
func (a *Authenticator) bearer(ctx context.Context, raw string) (Identity, error) {
	a.cacheMu.RLock()
	hit, ok := a.verified[raw]
	a.cacheMu.RUnlock()
	if ok && time.Now().Before(hit.expiry) {
		return hit.id, nil
	}
	id, expiry, err := a.verifyBearer(ctx, raw)
	if err != nil {
		return id, err
	}
	a.cacheMu.Lock()
	if a.verified == nil || len(a.verified) >= maxVerified {
		a.verified = map[string]verifiedToken{}
	}
	a.verified[raw] = verifiedToken{id: id, expiry: expiry}
	a.cacheMu.Unlock()
	return id, nil
}

// verifyBearer checks a JWT's signature, issuer, audience and expiry and
// reads its user and groups.
func (a *Authenticator) verifyBearer(ctx context.Context, raw string) (Identity, time.Time, error) {
	v, err := a.oidcVerifier(ctx)
	if err != nil {
		return Identity{}, time.Time{}, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return Identity{}, time.Time{}, errs.Wrap(errs.Security, err, "Authentication failed: invalid bearer token")
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, time.Time{}, errs.Wrap(errs.Security, err, "Authentication failed: unreadable claims")
	}
	user, _ := claims[a.cfg.UserClaim].(string)
	if user == "" {
		return Identity{}, time.Time{}, errs.E(errs.Security, "Authentication failed: the token has no %q claim", a.cfg.UserClaim)
	}
	id := Identity{User: user, Method: "TOKEN"}
	switch g := claims[a.cfg.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	case string:
		id.Groups = strings.Fields(strings.ReplaceAll(g, ",", " "))
	}
	id.Groups = a.withOwnGroups(user, id.Groups)
	return id, tok.Expiry, nil
}

// withOwnGroups adds what simple mode's group mapping gives a user (its own
// name; the supergroup for the superuser) to the groups a token names.
func (a *Authenticator) withOwnGroups(user string, groups []string) []string {
	for _, g := range a.policy.Groups(user) {
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	return groups
}

// oidcVerifier discovers the issuer on first use and keeps the verifier;
// go-oidc caches the keys and refetches them when a token names a key it
// does not hold (rotation).
func (a *Authenticator) oidcVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verifier != nil {
		return a.verifier, nil
	}
	if a.cfg.OIDCIssuer == "" {
		return nil, errs.E(errs.Security, "Authentication failed: no -oidc-issuer is configured; use a delegation token")
	}
	hc := a.cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), hc), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, a.cfg.OIDCIssuer)
	if err != nil {
		return nil, errs.Wrap(errs.Retriable, err, "cannot reach the OpenID Connect issuer %s", a.cfg.OIDCIssuer)
	}
	// Keys are fetched later with a context that outlives this request.
	a.verifier = p.VerifierContext(oidc.ClientContext(context.Background(), hc), &oidc.Config{ClientID: a.cfg.OIDCAudience})
	return a.verifier, nil
}

// Identify returns the effective caller of r: in token mode the
// authenticated identity (with doas allowed by the proxy-user rules), in
// simple mode user.name and doas as simpleauth rules them.
func (a *Authenticator) Identify(r *http.Request) (Identity, error) {
	q := rest.Query(r.URL.RawQuery)
	if !a.TokenMode() {
		name, err := a.policy.Caller(q)
		if err != nil {
			return Identity{}, err
		}
		id := Identity{User: name, Groups: a.policy.Groups(name), Method: "SIMPLE"}
		if real := q.Get("user.name"); real != "" && real != name {
			id.Method, id.RealUser, id.RealMethod = "PROXY", real, "SIMPLE"
		}
		return id, nil
	}
	id, ok := r.Context().Value(ctxKey{}).(Identity)
	if !ok {
		return Identity{}, errs.E(errs.Security, "Authentication required")
	}
	doas := q.GetFold("doas")
	if doas == "" || doas == id.User {
		return id, nil
	}
	if err := a.authorizeProxy(id, doas, clientIP(r)); err != nil {
		return Identity{}, err
	}
	return Identity{User: doas, Groups: a.policy.Groups(doas), Method: "PROXY", RealUser: id.User, RealMethod: id.Method, Delegation: id.Delegation, Bearer: id.Bearer}, nil
}

// authorizeProxy is HDFS's DefaultImpersonationProvider.authorize: the
// real user needs a rule whose users or groups admit doas and whose hosts
// admit the client address.
func (a *Authenticator) authorizeProxy(real Identity, doas, ip string) error {
	r, ok := a.proxy[real.User]
	denied := func(why string) error {
		return errs.E(errs.AccessControl, "User: %s is not allowed to impersonate %s%s", real.User, doas, why)
	}
	if !ok {
		return denied("")
	}
	users := slices.Contains(r.users, "*") || slices.Contains(r.users, doas)
	groups := slices.Contains(r.groups, "*")
	for _, g := range a.policy.Groups(doas) {
		groups = groups || slices.Contains(r.groups, g)
	}
	if !users && !groups {
		return denied("")
	}
	if !hostAllowed(r.hosts, ip) {
		return errs.E(errs.AccessControl, "Unauthorized connection for super-user: %s from IP %s", real.User, ip)
	}
	return nil
}

func hostAllowed(hosts []string, ip string) bool {
	addr := net.ParseIP(ip)
	for _, h := range hosts {
		if h == "*" || h == ip {
			return true
		}
		if _, n, err := net.ParseCIDR(h); err == nil && addr != nil && n.Contains(addr) {
			return true
		}
	}
	return false
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// RequireSuperuser returns the caller when it is the superuser or in the
// supergroup, and AccessControlException otherwise.
func (a *Authenticator) RequireSuperuser(r *http.Request) (Identity, error) {
	id, err := a.Identify(r)
	if err != nil {
		return Identity{}, err
	}
	if id.User != a.policy.Superuser && !slices.Contains(id.Groups, a.policy.Supergroup) {
		return Identity{}, errs.E(errs.AccessControl, "Access denied for user %s. Superuser privilege is required", id.User)
	}
	return id, nil
}

// SuperuserOnly lets only the superuser's requests through.
func (a *Authenticator) SuperuserOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.RequireSuperuser(r); err != nil {
			rest.WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// AdminOnly guards the operations endpoints (/debug/pprof, /metrics,
// /jmx, /conf, /logs): the superuser's in token mode, open in simple mode
// as HDFS's servlets are without security.
func (a *Authenticator) AdminOnly(next http.Handler) http.Handler {
	if !a.TokenMode() {
		return next
	}
	return a.SuperuserOnly(next)
}
