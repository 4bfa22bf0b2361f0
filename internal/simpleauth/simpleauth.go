// Package simpleauth is HDFS's simple authentication, shared by every
// service: the caller is the user.name query parameter (dr.who when
// absent), doas impersonation is allowed to the superuser only, and
// administrative operations require the superuser or a member of the
// supergroup. It trusts what the request says; the security issue's token
// mode replaces the caller, never these rules.
//
// It must never look anything up over the network.
package simpleauth

import (
	"net/http"
	"net/url"
	"os/user"
	"slices"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/rest"
)

// Anonymous is HDFS's name for a caller that gave no user.name
// (hadoop.http.staticuser.user).
const Anonymous = "dr.who"

// Policy holds who the superuser is.
type Policy struct {
	Superuser  string // the user running the metadata service by default
	Supergroup string // dfs.permissions.superusergroup, "supergroup"
}

// Defaults fills an empty superuser with the user running the process and
// an empty supergroup with HDFS's "supergroup".
func Defaults(superuser, supergroup string) (string, string) {
	if superuser == "" {
		if u, err := user.Current(); err == nil {
			superuser = u.Username
		}
	}
	if supergroup == "" {
		supergroup = "supergroup"
	}
	return superuser, supergroup
}

// Caller returns the effective user of a request: user.name, or doas when
// the superuser impersonates someone (AccessControlException for anyone
// else, as HDFS's proxy-user check).
func (p Policy) Caller(q url.Values) (string, error) {
	name := q.Get("user.name")
	if name == "" {
		name = Anonymous
	}
	if doas := q.Get("doas"); doas != "" && doas != name {
		if name != p.Superuser {
			return "", errs.E(errs.AccessControl, "User: %s is not allowed to impersonate %s", name, doas)
		}
		name = doas
	}
	return name, nil
}

// Groups is the group mapping: a user is in the group of its own name, the
// superuser in the supergroup too.
func (p Policy) Groups(name string) []string {
	if name == p.Superuser {
		return []string{name, p.Supergroup}
	}
	return []string{name}
}

// IsSuperuser reports whether name is the superuser or in the supergroup.
func (p Policy) IsSuperuser(name string) bool {
	return name == p.Superuser || p.Supergroup != "" && slices.Contains(p.Groups(name), p.Supergroup)
}

// RequireSuperuser returns the caller of q when it is the superuser, and
// HDFS's AccessControlException otherwise.
func (p Policy) RequireSuperuser(q url.Values) (string, error) {
	name, err := p.Caller(q)
	if err != nil {
		return "", err
	}
	if !p.IsSuperuser(name) {
		return "", errs.E(errs.AccessControl, "Access denied for user %s. Superuser privilege is required", name)
	}
	return name, nil
}

// SuperuserOnly lets only the superuser's requests through to next; the
// others are answered AccessControlException (403), as HDFS's
// checkSuperuserPrivilege for administrative operations.
func (p Policy) SuperuserOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := p.RequireSuperuser(r.URL.Query()); err != nil {
			rest.WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
