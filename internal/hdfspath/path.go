// Package hdfspath parses and validates HDFS path names the way the NameNode
// does (DFSUtil.isValidName), plus the limits Granary enforces on every
// mutation: no NUL bytes and components of at most MaxComponentLength bytes.
//
// It never touches the namespace: it only turns strings into components.
package hdfspath

import (
	"strings"

	"github.com/granary-fs/granary/internal/errs"
)

// MaxComponentLength is dfs.namenode.fs-limits.max-component-length.
const MaxComponentLength = 255

// Split validates an absolute path and returns its components; the root is
// an empty slice. A trailing slash is allowed ("/a/b/" is "/a/b"), as in HDFS.
func Split(p string) ([]string, error) {
	if p == "" || p[0] != '/' {
		return nil, errs.E(errs.InvalidPath, "Invalid path name %s: path must be absolute", quote(p))
	}
	if strings.IndexByte(p, 0) >= 0 {
		return nil, errs.E(errs.InvalidPath, "Invalid path name %s: NUL byte in path", quote(p))
	}
	if p == "/" {
		return []string{}, nil
	}
	rest := strings.TrimSuffix(p[1:], "/")
	parts := strings.Split(rest, "/")
	for _, c := range parts {
		switch {
		case c == "":
			return nil, errs.E(errs.InvalidPath, "Invalid path name %s: empty path component", quote(p))
		case c == "." || c == "..":
			return nil, errs.E(errs.InvalidPath, "Invalid path name %s: %q is not allowed as a path component", quote(p), c)
		case strings.IndexByte(c, ':') >= 0:
			return nil, errs.E(errs.InvalidPath, "Invalid path name %s: ':' is not allowed in a path component", quote(p))
		}
	}
	return parts, nil
}

// CheckComponentLength returns PathComponentTooLongException when name is
// longer than MaxComponentLength bytes; parent names the directory it would
// be created in, as HDFS's message does.
func CheckComponentLength(parent, name string) error {
	if len(name) > MaxComponentLength {
		return errs.E(errs.PathComponentTooLong,
			"The maximum path component name limit of %s in directory %s is exceeded: limit=%d length=%d",
			name, parent, MaxComponentLength, len(name))
	}
	return nil
}

// Join builds the absolute path of components.
func Join(components []string) string {
	if len(components) == 0 {
		return "/"
	}
	return "/" + strings.Join(components, "/")
}

// IsAncestor reports whether a is b or an ancestor of b (both as components).
func IsAncestor(a, b []string) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func quote(p string) string {
	return strings.ReplaceAll(p, "\x00", `\0`)
}
