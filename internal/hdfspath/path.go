// Package hdfspath parses and validates HDFS path names the way the NameNode
// does (DFSUtil.isValidName), plus the limits Granary enforces on every
// mutation: no NUL bytes and components of at most MaxComponentLength bytes.
//
// It never touches the namespace: it only turns strings into components.
package hdfspath

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/granary-fs/granary/internal/errs"
)

// MaxComponentLength is dfs.namenode.fs-limits.max-component-length.
const MaxComponentLength = 255

// The limits HDFS's NameNode puts on the path of a new file or directory
// (HdfsServerConstants.MAX_PATH_LENGTH and MAX_PATH_DEPTH, checked by
// NameNodeRpcServer's create, mkdirs and rename).
const (
	MaxPathLength = 8000 // characters (UTF-16 code units, as Java's String.length)
	MaxPathDepth  = 1000 // levels
)

// Split validates an absolute path and returns its components; the root is
// an empty slice. A trailing slash is allowed ("/a/b/" is "/a/b"), as in HDFS.
func Split(p string) ([]string, error) {
	if p == "" || p[0] != '/' {
		return nil, errs.E(errs.InvalidPath, "Invalid path name %s: path must be absolute", quote(p))
	}
	if strings.IndexByte(p, 0) >= 0 {
		return nil, errs.E(errs.InvalidPath, "Invalid path name %s: NUL byte in path", quote(p))
	}
	if !utf8.ValidString(p) {
		// Such a name would be listed with U+FFFD and could never be
		// reached again by the listed name.
		return nil, errs.E(errs.InvalidPath, "Invalid path name %s: not valid UTF-8", strings.ToValidUTF8(quote(p), "\uFFFD"))
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

// CheckPathLength refuses a new path longer than MaxPathLength characters
// or deeper than MaxPathDepth levels with HDFS's IOException, whose message
// starts with the operation ("mkdirs", "create", "rename").
func CheckPathLength(op, p string, depth int) error {
	if depth > MaxPathDepth || utf16Len(p) > MaxPathLength {
		return errs.E(errs.IO, "%s: Pathname too long.  Limit %d characters, %d levels.", op, MaxPathLength, MaxPathDepth)
	}
	return nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
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
