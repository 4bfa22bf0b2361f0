package metadata

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/granary-fs/granary/internal/errs"
)

// FuzzWebHDFSParams feeds arbitrary query strings to the WebHDFS parameter
// parser: it must never panic, and every refusal is an IllegalArgument.
func FuzzWebHDFSParams(f *testing.F) {
	for _, q := range []string{
		"op=MKDIRS&permission=755", "op=SETTIMES&modificationtime=-1&accesstime=5", "recursive=true",
		"permission=1777", "permission=8", "replication=70000", "destination=/a/b", "frob=1", "op=a&op=b", "op=GETFILESTATUS&user.name=hdfs", "Op=OPEN&offset=1",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p := newParams(v)
		// A query read as it is (plainParams) reads as the folding does.
		again, _ := url.ParseQuery(raw)
		if f := foldParams(again); !reflect.DeepEqual(p.v, f.v) || !reflect.DeepEqual(p.unknown, f.unknown) {
			t.Fatalf("%q: read as %v (unknown %q), folded %v (unknown %q)", raw, p.v, p.unknown, f.v, f.unknown)
		}
		p.boolean("recursive", false)
		p.permission("permission")
		p.int64("modificationtime", -1, -1, 1<<62)
		p.int64("replication", 3, -32768, 32767)
		p.path("destination")
		if p.err != nil && !errs.Is(p.err, errs.IllegalArgument) {
			t.Fatalf("%q: %v", raw, p.err)
		}
		if perm := p.permission("permission"); perm > 0o1777 {
			t.Fatalf("%q: permission %o accepted", raw, perm)
		}
	})
}
