package metadata

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"net/http"
	"sync"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hadooptoken"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// Delegation tokens, as HDFS's DelegationTokenSecretManager.
//
// With simple authentication HDFS issues none: GETDELEGATIONTOKEN gives
// {"Token":null} (FSNamesystem has no running secret manager), so clients
// that always ask for one go on; renewing or cancelling one is
// SecretManager$InvalidToken.
//
// In token mode the metadata service issues real ones: the identifier is
// HDFS's AbstractDelegationTokenIdentifier, the password its HmacSHA1 under
// the current master key, the string Token.encodeToUrlString's. Keys and
// tokens live in the namespace (the edit log and the image), so they
// survive restarts; the keys roll every dfs.namenode.delegation.key.
// update-interval while the service is out of safe mode, as HDFS starts its
// secret manager only then.

// tokenKind is the delegation identifier's kind, which HDFS's messages name.
const tokenKind = "HDFS_DELEGATION_TOKEN"

// keyLength is SecretManager's key size.
const keyLength = 64

// runSecretManager rolls master keys and purges expired tokens until ctx
// ends. It only runs in token mode.
func (s *Service) runSecretManager(ctx context.Context) error {
	purge := time.Now()
	for {
		ns := s.namespace()
		if ns != nil && !s.safe.On() {
			if err := s.rollKeyIfDue(ctx, ns); err != nil && ctx.Err() == nil {
				s.log.Warn("delegation token master key update failed; retrying", "err", err)
			}
			if time.Since(purge) >= time.Hour {
				purge = time.Now()
				if t, k := ns.PurgeSecrets(time.Now().UnixMilli()); t+k > 0 {
					s.log.Info("expired delegation tokens and keys removed", "tokens", t, "keys", k)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(min(time.Second, s.cfg.DelegationKeyUpdateInterval)):
		}
	}
}

// rollKeyIfDue adds a master key when there is none or the current one is
// older than the update interval. A key expires update-interval +
// max-lifetime after its creation, as HDFS's.
func (s *Service) rollKeyIfDue(ctx context.Context, ns *namespace.Namespace) error {
	life := s.cfg.DelegationKeyUpdateInterval + s.cfg.DelegationTokenMaxLifetime
	now := time.Now()
	if k, ok := ns.CurrentDelegationKey(); ok && now.Before(time.UnixMilli(k.Expiry).Add(-life).Add(s.cfg.DelegationKeyUpdateInterval)) {
		return nil
	}
	key := make([]byte, keyLength)
	_, _ = rand.Read(key)
	k, err := ns.AddDelegationKey(ctx, now.Add(life).UnixMilli(), key)
	if err == nil {
		s.log.Info("delegation token master key updated", "keyId", k.ID)
	}
	return err
}

// issueToken issues a delegation token to id with renewer (the user when
// empty) for the service address given.
func (s *Service) issueToken(ctx context.Context, id auth.Identity, renewer, kind, service string) (string, error) {
	if renewer == "" {
		renewer = id.User
	}
	var tok hadooptoken.Token
	err := s.namespace().IssueDelegationToken(ctx, id.Groups, func(seq int32, key namespace.DelegationKey) ([]byte, int64, error) {
		now := time.Now()
		ident := hadooptoken.Delegation{
			Owner: id.User, Renewer: renewer, RealUser: id.RealUser,
			IssueDate: now.UnixMilli(), MaxDate: now.Add(s.cfg.DelegationTokenMaxLifetime).UnixMilli(),
			SequenceNumber: seq, MasterKeyID: key.ID,
		}
		b := ident.Marshal()
		tok = hadooptoken.Token{Identifier: b, Password: hadooptoken.Password(b, key.Key), Kind: kind, Service: service}
		return b, min(ident.MaxDate, now.Add(s.cfg.DelegationTokenRenewInterval).UnixMilli()), nil
	})
	if err != nil {
		return "", err
	}
	return tok.Encode(), nil
}

// parseToken decodes a token string and its delegation identifier.
func parseToken(encoded string) (hadooptoken.Token, hadooptoken.Delegation, error) {
	tok, err := hadooptoken.Decode(encoded)
	if err != nil {
		return tok, hadooptoken.Delegation{}, errs.Wrap(errs.InvalidToken, err, "Invalid delegation token")
	}
	id, err := hadooptoken.UnmarshalDelegation(tok.Identifier)
	if err != nil {
		return tok, id, errs.Wrap(errs.InvalidToken, err, "Invalid delegation token identifier")
	}
	return tok, id, nil
}

func formatTokenID(id hadooptoken.Delegation) string {
	return "(" + tokenKind + " " + id.String() + ")"
}

// verifyDelegation is the authenticator's check of a delegation parameter:
// HDFS's retrievePassword and checkToken.
func (s *Service) verifyDelegation(_ context.Context, encoded string) (auth.Identity, error) {
	ns := s.namespace()
	if ns == nil {
		return auth.Identity{}, errs.E(errs.Retriable, "NameNode still not started")
	}
	tok, id, err := parseToken(encoded)
	if err != nil {
		return auth.Identity{}, err
	}
	rec, key, ok := ns.LookupDelegationToken(tok.Identifier, id.MasterKeyID)
	if !ok {
		return auth.Identity{}, errs.E(errs.InvalidToken, "token %s can't be found in cache", formatTokenID(id))
	}
	if now := time.Now().UnixMilli(); rec.Renewal < now {
		return auth.Identity{}, errs.E(errs.InvalidToken, "token %s is expired, current time: %s expected renewal time: %s",
			formatTokenID(id), fmtMillis(now), fmtMillis(rec.Renewal))
	}
	if !hmac.Equal(tok.Password, hadooptoken.Password(tok.Identifier, key.Key)) {
		return auth.Identity{}, errs.E(errs.InvalidToken, "token %s is invalid, password doesn't match", formatTokenID(id))
	}
	out := auth.Identity{User: id.Owner, Groups: rec.Groups}
	if id.RealUser != "" && id.RealUser != id.Owner {
		out.RealUser, out.RealMethod = id.RealUser, "TOKEN"
	}
	return out, nil
}

func fmtMillis(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05,000+0000")
}

// redirectTokens keeps the delegation token most recently issued to each
// user for WebHDFS redirects (a bearer cannot follow a 307 to a
// datanode): HDFS issues one per redirect; reusing one for half its renew
// interval spares an edit-log write per OPEN and keeps OPEN working in safe
// mode once a user holds one.
type redirectTokens struct {
	mu sync.Mutex
	m  map[string]redirectToken
}

type redirectToken struct {
	token string
	until time.Time
}

// redirectDelegation returns the token a datanode redirect carries: the
// caller's own, else one issued for it.
func (s *Service) redirectDelegation(r *http.Request, id auth.Identity) (string, error) {
	if id.Delegation != "" {
		return id.Delegation, nil
	}
	key := id.UGI()
	s.redirects.mu.Lock()
	t, ok := s.redirects.m[key]
	s.redirects.mu.Unlock()
	if ok && time.Now().Before(t.until) {
		return t.token, nil
	}
	tok, err := s.issueToken(r.Context(), id, "", tokenKindFor(r), s.advertisedAddr(r))
	if err != nil {
		return "", err
	}
	s.redirects.mu.Lock()
	if s.redirects.m == nil || len(s.redirects.m) > 10000 {
		s.redirects.m = map[string]redirectToken{}
	}
	s.redirects.m[key] = redirectToken{token: tok, until: time.Now().Add(s.cfg.DelegationTokenRenewInterval / 2)}
	s.redirects.mu.Unlock()
	return tok, nil
}

func tokenKindFor(r *http.Request) string {
	if r.TLS != nil {
		return hadooptoken.KindSWebHDFS
	}
	return hadooptoken.KindWebHDFS
}

func (s *Service) getDelegationToken(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	if c.p.has("delegation") {
		return errs.E(errs.IllegalArgument, "delegation parameter is not null.")
	}
	if !s.authn.TokenMode() {
		return writeJSON(w, http.StatusOK, api.TokenResponse{})
	}
	if c.id.Delegation != "" {
		return errs.E(errs.IO, "Delegation Token can be issued only with kerberos or web authentication")
	}
	kind := c.p.str("kind", "")
	if kind == "" {
		kind = tokenKindFor(r)
	}
	service := c.p.str("service", "")
	if service == "" {
		service = s.advertisedAddr(r)
	}
	tok, err := s.issueToken(r.Context(), c.id, c.p.str("renewer", ""), kind, service)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.TokenResponse{Token: &api.DelegationToken{URLString: tok}})
}

// tokenParam decodes the token parameter of RENEW/CANCELDELEGATIONTOKEN,
// refusing callers that authenticated with a delegation token, as HDFS.
// With simple authentication no token exists: InvalidToken with unknown,
// HDFS's message for that case.
func (s *Service) tokenParam(c *webhdfsCall, verb, unknown string) (hadooptoken.Token, hadooptoken.Delegation, error) {
	if !c.p.has("token") {
		return hadooptoken.Token{}, hadooptoken.Delegation{}, errs.E(errs.IllegalArgument, "Required param token for op: %sDELEGATIONTOKEN is null", verb)
	}
	if !s.authn.TokenMode() {
		return hadooptoken.Token{}, hadooptoken.Delegation{}, errs.E(errs.InvalidToken, "%s", unknown)
	}
	if c.id.Delegation != "" {
		return hadooptoken.Token{}, hadooptoken.Delegation{}, errs.E(errs.IO, "Delegation Token can be %s only with kerberos or web authentication", map[string]string{"RENEW": "renewed", "CANCEL": "cancelled"}[verb])
	}
	return parseToken(c.p.str("token", ""))
}

func (s *Service) renewDelegationToken(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	tok, id, err := s.tokenParam(c, "RENEW", "Renewal request for unknown token")
	if err != nil {
		return err
	}
	// The password is checked against the key it names before the renewal
	// (which holds the namespace lock).
	_, key, _ := s.namespace().LookupDelegationToken(tok.Identifier, id.MasterKeyID)
	renewal, err := s.namespace().RenewDelegationToken(r.Context(), tok.Identifier, func(rec namespace.DelegationToken, ok bool) (int64, error) {
		now := time.Now().UnixMilli()
		if id.MaxDate < now {
			return 0, errs.E(errs.InvalidToken, "User %s tried to renew an expired token %s with max expiration date %s", c.id.User, formatTokenID(id), fmtMillis(id.MaxDate))
		}
		if id.Renewer == "" {
			return 0, errs.E(errs.AccessControl, "%s tried to renew a token %s without a renewer", c.id.User, formatTokenID(id))
		}
		if id.Renewer != c.id.User {
			return 0, errs.E(errs.AccessControl, "%s tries to renew a token %s with non-matching renewer %s", c.id.User, formatTokenID(id), id.Renewer)
		}
		if !ok {
			return 0, errs.E(errs.InvalidToken, "Renewal request for unknown token %s", formatTokenID(id))
		}
		if key.Key == nil || !hmac.Equal(tok.Password, hadooptoken.Password(tok.Identifier, key.Key)) {
			return 0, errs.E(errs.InvalidToken, "Unable to find master key for keyId=%d from cache. Failed to renew an unexpired token %s with sequenceNumber=%d", id.MasterKeyID, formatTokenID(id), id.SequenceNumber)
		}
		return min(id.MaxDate, now+s.cfg.DelegationTokenRenewInterval.Milliseconds()), nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.LongResponse{Long: renewal})
}

func (s *Service) cancelDelegationToken(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	tok, id, err := s.tokenParam(c, "CANCEL", "Token not found")
	if err != nil {
		return err
	}
	err = s.namespace().CancelDelegationToken(r.Context(), tok.Identifier, func(_ namespace.DelegationToken, ok bool) error {
		if !ok {
			return errs.E(errs.InvalidToken, "Token not found %s", formatTokenID(id))
		}
		if c.id.User != id.Owner && (id.Renewer == "" || c.id.User != id.Renewer) {
			return errs.E(errs.AccessControl, "%s is not authorized to cancel the token %s", c.id.User, formatTokenID(id))
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}
