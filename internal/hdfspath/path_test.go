package hdfspath

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/granary-fs/granary/internal/errs"
)

func TestSplit(t *testing.T) {
	ok := map[string][]string{
		"/":        {},
		"/a":       {"a"},
		"/a/b/":    {"a", "b"},
		"/a b/ü":   {"a b", "ü"},
		"/.hidden": {".hidden"},
	}
	for in, want := range ok {
		got, err := Split(in)
		if err != nil {
			t.Fatalf("Split(%q): %v", in, err)
		}
		if Join(got) != Join(want) || len(got) != len(want) {
			t.Fatalf("Split(%q) = %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{"", "a", "a/b", "//", "/a//b", "/a/./b", "/a/../b", "/..", "/a:b", "/a\x00b"} {
		if _, err := Split(in); !errs.Is(err, errs.InvalidPath) {
			t.Fatalf("Split(%q) err = %v, want InvalidPath", in, err)
		}
	}
}

func TestComponentLength(t *testing.T) {
	if err := CheckComponentLength("/", strings.Repeat("x", 255)); err != nil {
		t.Fatal(err)
	}
	if err := CheckComponentLength("/", strings.Repeat("x", 256)); !errs.Is(err, errs.PathComponentTooLong) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "//", "/a/../b", "/a:b", "a", "/a/b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts, err := Split(s)
		if err != nil {
			if !errs.Is(err, errs.InvalidPath) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, c := range parts {
			if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "/:\x00") || !utf8.ValidString(c) {
				t.Fatalf("Split(%q) accepted component %q", s, c)
			}
		}
		// Joining and splitting again is stable.
		again, err := Split(Join(parts))
		if err != nil || Join(again) != Join(parts) {
			t.Fatalf("round trip of %q: %q, %v", s, again, err)
		}
	})
}
