package simpleauth

import (
	"net/url"
	"testing"

	"github.com/granary-fs/granary/internal/errs"
)

func TestCallerAndSuperuser(t *testing.T) {
	p := Policy{Superuser: "hdfs", Supergroup: "supergroup"}
	for _, c := range []struct {
		query, caller string
		denied, super bool
	}{
		{"", Anonymous, false, false},
		{"user.name=bob", "bob", false, false},
		{"user.name=bob&doas=bob", "bob", false, false},
		{"user.name=bob&doas=alice", "", true, false},
		{"user.name=hdfs&doas=alice", "alice", false, false},
		{"user.name=hdfs", "hdfs", false, true},
	} {
		q, _ := url.ParseQuery(c.query)
		name, err := p.Caller(q)
		if c.denied != errs.Is(err, errs.AccessControl) || !c.denied && name != c.caller {
			t.Errorf("Caller(%q) = %q, %v", c.query, name, err)
		}
		_, err = p.RequireSuperuser(q)
		if c.super != (err == nil) || err != nil && !errs.Is(err, errs.AccessControl) {
			t.Errorf("RequireSuperuser(%q) = %v", c.query, err)
		}
	}
}
