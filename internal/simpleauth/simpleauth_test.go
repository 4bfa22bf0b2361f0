package simpleauth

import (
	"testing"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/rest"
)

func TestCaller(t *testing.T) {
	p := Policy{Superuser: "hdfs", Supergroup: "supergroup"}
	for _, c := range []struct {
		query, caller string
		denied        bool
	}{
		{"", Anonymous, false},
		{"user.name=bob", "bob", false},
		{"user.name=bob&doas=bob", "bob", false},
		{"user.name=bob&doas=alice", "", true},
		{"user.name=hdfs&doas=alice", "alice", false},
		{"user.name=hdfs", "hdfs", false},
		{"user.name=hdfs&DoAs=alice", "alice", false},
		{"user.name=bob&DOAS=alice", "", true},
		{"User.Name=bob", Anonymous, false},
	} {
		name, err := p.Caller(rest.Query(c.query))
		if c.denied != errs.Is(err, errs.AccessControl) || !c.denied && name != c.caller {
			t.Errorf("Caller(%q) = %q, %v", c.query, name, err)
		}
	}
}
