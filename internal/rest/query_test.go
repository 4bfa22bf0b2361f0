package rest

import (
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

// TestQueryAsURLValues compares Query with url.ParseQuery on drawn
// queries: names escaped or not, repeated, empty, with semicolons, bad
// escapes, '+' for spaces.
func TestQueryAsURLValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	parts := []string{"a", "b", "user.name", "doas", "", "%", "%4", "%41", "+", " ", ";", "=", "x y", "%zz", "%2B", "&", "é", "%C3%A9"}
	draw := func(n int) string {
		s := ""
		for range n {
			s += parts[rng.IntN(len(parts))]
		}
		return s
	}
	names := []string{"a", "b", "user.name", "doas", "", "A", "x y", "+", " ", "é", "=", "%"}
	for i := range 20000 {
		raw := ""
		for j := range rng.IntN(5) {
			if j > 0 || rng.IntN(8) == 0 {
				raw += "&"
			}
			raw += draw(1 + rng.IntN(2))
			if rng.IntN(4) > 0 {
				raw += "=" + draw(rng.IntN(3))
			}
		}
		want, _ := url.ParseQuery(raw)
		for _, name := range names {
			got, ok := Query(raw).Lookup(name)
			if got != want.Get(name) || ok != want.Has(name) {
				t.Fatalf("query %d %q, name %q: Lookup = %q, %v; url.Values: %q, %v", i, raw, name, got, ok, want.Get(name), want.Has(name))
			}
		}
	}
}

func TestQuery(t *testing.T) {
	q := Query("user.name=bob&op=OPEN&path=%2Fa%20b&op=CREATE&e=&flag&bad=%zz&bad=ok&sp=a+b&x;y=1&x=2")
	for name, want := range map[string]string{"user.name": "bob", "op": "OPEN", "path": "/a b", "e": "", "flag": "", "bad": "ok", "sp": "a b", "x": "2", "none": ""} {
		if got := q.Get(name); got != want {
			t.Errorf("Get(%q) = %q, want %q", name, got, want)
		}
	}
	has := func(name string) bool { _, ok := q.Lookup(name); return ok }
	if !has("flag") || !has("e") || has("none") || has("x;y") {
		t.Error("Lookup: flag and e are named (empty), none and x;y are not")
	}
	if q.Get("USER.NAME") != "" || q.GetFold("USER.NAME") != "bob" || q.GetFold("Op") != "OPEN" || Query("DoAs=a&doas=b").GetFold("doas") != "a" || Query("D%6FAS=a").GetFold("doas") != "a" {
		t.Error("GetFold: the first value of any spelling of the name")
	}
}

// FuzzQuery: Query reads any query and name as url.ParseQuery and
// url.Values do.
func FuzzQuery(f *testing.F) {
	for _, seed := range [][2]string{{"user.name=bob&doas=alice", "doas"}, {"a=1;b=2&a=3", "a"}, {"%zz=1&x=%41+b", "x"}, {"=&&==", ""}, {"D%6FAS=a&doas=b", "DOAS"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, raw, name string) {
		want, _ := url.ParseQuery(raw)
		if got, ok := Query(raw).Lookup(name); got != want.Get(name) || ok != want.Has(name) {
			t.Fatalf("Lookup(%q) of %q = %q, %v; url.Values: %q, %v", name, raw, got, ok, want.Get(name), want.Has(name))
		}
		fold := ""
		for _, pair := range strings.Split(raw, "&") {
			if k, v, ok := unescapedPair(pair); ok && strings.EqualFold(k, name) {
				fold = v
				break
			}
		}
		if got := Query(raw).GetFold(name); got != fold {
			t.Fatalf("GetFold(%q) of %q = %q, want %q", name, raw, got, fold)
		}
	})
}

// unescapedPair is one pair of a query as url.ParseQuery reads it, and
// whether it keeps it.
func unescapedPair(pair string) (k, v string, ok bool) {
	if pair == "" || strings.Contains(pair, ";") {
		return "", "", false
	}
	k, v, _ = strings.Cut(pair, "=")
	var err1, err2 error
	k, err1 = url.QueryUnescape(k)
	v, err2 = url.QueryUnescape(v)
	return k, v, err1 == nil && err2 == nil
}
