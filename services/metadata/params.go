package metadata

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/simpleauth"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// knownParams is every WebHDFS query parameter name (lower case as HDFS
// matches them). A name outside it is ignored, as HDFS ignores it (clients
// such as fsspec send their own, tempdir=...), and logged at debug level.
var knownParams = map[string]bool{
	"op": true, "user.name": true, "doas": true, "delegation": true, "token": true, "service": true,
	"renewer": true, "kind": true, "namenoderpcaddress": true, "noredirect": true,
	"overwrite": true, "blocksize": true, "replication": true, "permission": true, "unmaskedpermission": true,
	"buffersize": true, "createparent": true, "createflag": true, "offset": true, "length": true,
	"recursive": true, "destination": true, "owner": true, "group": true, "modificationtime": true,
	"accesstime": true, "sources": true, "newlength": true, "startafter": true,
	"namespacequota": true, "storagespacequota": true, "storagetype": true,
	"xattr.name": true, "xattr.value": true, "encoding": true, "flag": true, "aclspec": true,
	"snapshotname": true, "oldsnapshotname": true, "storagepolicy": true, "fsaction": true,
	"excludedatanodes": true, "snapshotdiffstartpath": true, "snapshotdiffindex": true,
}

// params reads WebHDFS query parameters with HDFS's parsing rules; the first
// bad value is kept in err.
type params struct {
	v       url.Values
	err     error
	unknown []string // names HDFS does not define, ignored
}

// newParams reads a query as HDFS's ParamFilter does: names are matched
// without regard to case, and a parameter given more than once takes its
// first value (Jersey's getFirst); unknown names are ignored.
func newParams(v url.Values) *params {
	if plainParams(v) {
		return &params{v: v}
	}
	return foldParams(v)
}

// foldParams is newParams for any query: names folded to lower case, the
// first value kept, unknown names set aside.
func foldParams(v url.Values) *params {
	lower := url.Values{}
	var unknownNames []string
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys) // "OP" before "op": the same choice every time
	for _, k := range keys {
		lk := strings.ToLower(k)
		if !knownParams[lk] {
			p := k
			if len(p) > 64 {
				p = p[:64] + "..."
			}
			unknownNames = append(unknownNames, p)
			continue
		}
		lower[lk] = append(lower[lk], v[k]...)
	}
	for k, vals := range lower {
		lower[k] = vals[:1]
	}
	return &params{v: lower, unknown: unknownNames}
}

// plainParams reports whether v is read as it is: every name known and
// in lower case, given once (the query of every Go client's call).
func plainParams(v url.Values) bool {
	for k, vals := range v {
		if len(vals) != 1 || !knownParams[k] {
			return false
		}
		for i := 0; i < len(k); i++ {
			if 'A' <= k[i] && k[i] <= 'Z' {
				return false
			}
		}
	}
	return true
}

func (p *params) has(name string) bool { return p.v.Get(name) != "" }

func (p *params) bad(name, val, why string) {
	if p.err == nil {
		p.err = errs.E(errs.IllegalArgument, "Invalid value for webhdfs parameter \"%s\": %s", name, why)
	}
}

func (p *params) str(name, def string) string {
	if s := p.v.Get(name); s != "" {
		return s
	}
	return def
}

func (p *params) boolean(name string, def bool) bool {
	s := p.v.Get(name)
	switch strings.ToLower(s) {
	case "":
		return def
	case "true":
		return true
	case "false":
		return false
	}
	p.bad(name, s, "Failed to parse \""+s+"\" to Boolean.")
	return def
}

func (p *params) int64(name string, def, lo, hi int64) int64 {
	s := p.v.Get(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		p.bad(name, s, "Failed to parse \""+s+"\" as a radix-10 long integer.")
		return def
	}
	if n < lo || n > hi {
		p.bad(name, s, "Invalid parameter range: "+name+" = "+s+" is out of range ["+strconv.FormatInt(lo, 10)+", "+strconv.FormatInt(hi, 10)+"]")
		return def
	}
	return n
}

// permission parses an octal permission ("755", "1777"); -1 when absent.
func (p *params) permission(name string) int {
	s := p.v.Get(name)
	if s == "" {
		return -1
	}
	n, err := strconv.ParseUint(s, 8, 16)
	if err != nil || n > 0o1777 {
		p.bad(name, s, "Failed to parse \""+s+"\" as a radix-8 short integer.")
		return -1
	}
	return int(n)
}

// path parses a path-valued parameter (destination).
func (p *params) path(name string) string {
	s := p.v.Get(name)
	if s == "" {
		if p.err == nil {
			p.err = errs.E(errs.IllegalArgument, "Required param %s for op is null or empty", name)
		}
		return ""
	}
	if !strings.HasPrefix(s, "/") {
		p.bad(name, s, "Invalid path \""+s+"\": not absolute")
	}
	return s
}

// user returns the caller: in simple mode user.name (dr.who, HDFS's static
// web user, when absent) or doas for a proxy call by the superuser; in token
// mode the authenticated user, or doas as the proxy-user rules allow.
func (s *Service) user(r *http.Request) (*namespace.User, error) {
	_, u, err := s.caller(r)
	return u, err
}

// caller is user with the identity behind it.
func (s *Service) caller(r *http.Request) (auth.Identity, *namespace.User, error) {
	id, err := s.authn.Identify(r)
	if err != nil {
		return id, nil, err
	}
	return id, &namespace.User{Name: id.User, Groups: id.Groups, UGI: id.UGI()}, nil
}

// auth is the service's simple-authentication policy.
func (s *Service) auth() simpleauth.Policy {
	return simpleauth.Policy{Superuser: s.cfg.Superuser, Supergroup: s.cfg.Supergroup}
}
