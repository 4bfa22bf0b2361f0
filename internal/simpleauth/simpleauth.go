// Package simpleauth is HDFS's simple authentication, shared by every
// service: the caller is the user.name query parameter (dr.who when
// absent), doas impersonation is allowed to the superuser only, and
// administrative operations require the superuser or a member of the
// supergroup. It trusts what the request says; token mode (internal/auth)
// replaces the caller, never these rules.
//
// It must never look anything up over the network.
package simpleauth

import (
	"os/user"

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

// Caller returns the effective user of a request with query q: user.name,
// or doas when the superuser impersonates someone (AccessControlException
// for anyone else, as HDFS's proxy-user check). As in HDFS, user.name is
// matched as it is spelled (PseudoAuthenticationHandler), doas in any case
// (ProxyUserAuthenticationFilter).
func (p Policy) Caller(q rest.Query) (string, error) {
	name := q.Get("user.name")
	if name == "" {
		name = Anonymous
	}
	if doas := q.GetFold("doas"); doas != "" && doas != name {
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
