package rest

import (
	"net/url"
	"strings"
)

// Query reads a raw query string (URL.RawQuery) as url.ParseQuery and
// url.Values.Get would — the first value of a name, both unescaped; a pair
// with a semicolon, or that does not unescape, is skipped — without
// building the map: a handler that reads a few parameters of a short query
// looks each one up where it is.
type Query string

// Get is url.Values.Get of the parsed query.
func (q Query) Get(name string) string {
	v, _ := q.Lookup(name)
	return v
}

// GetFold is Get with name matched without regard to case, as HDFS's
// filters read doas and delegation (ProxyUserAuthenticationFilter and
// AuthFilter fold the query's names to lower case): the first value of
// any of its spellings.
func (q Query) GetFold(name string) string {
	v, _ := q.lookup(name, strings.EqualFold)
	return v
}

// Lookup is the first value of name and whether the query names it.
func (q Query) Lookup(name string) (string, bool) {
	return q.lookup(name, func(a, b string) bool { return a == b })
}

func (q Query) lookup(name string, same func(a, b string) bool) (string, bool) {
	s := string(q)
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if !matches(k, name, same) {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			var err error
			if v, err = url.QueryUnescape(v); err != nil {
				continue
			}
		}
		return v, true
	}
	return "", false
}

// matches says whether the escaped key k unescapes to name (a key that
// does not unescape matches nothing, as ParseQuery drops its pair).
func matches(k, name string, same func(a, b string) bool) bool {
	if !strings.ContainsAny(k, "%+") {
		return same(k, name)
	}
	u, err := url.QueryUnescape(k)
	return err == nil && same(u, name)
}
