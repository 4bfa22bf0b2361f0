// Package migrations holds the numbered SQL migrations of the metadata
// service's PostgreSQL schema, embedded in the binary and applied at start
// (or by `granary metadata migrate`). Files are applied in name order; an
// applied file is never edited, a change is a new file.
package migrations

import "embed"

// FS holds the *.sql files.
//
//go:embed *.sql
var FS embed.FS
