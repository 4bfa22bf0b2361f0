package router

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
)

// The mount table (HDFS RBF's MountTableStore), kept in PostgreSQL so that
// every router of a cluster reads the same one: a source path of the
// global namespace maps to a path of one nameservice. Resolution takes the
// longest source that is the path or one of its ancestors.

const mountSchema = `CREATE TABLE IF NOT EXISTS router_mounts (
	src         text PRIMARY KEY,
	nameservice text NOT NULL,
	dest        text NOT NULL,
	created     bigint NOT NULL
)`

// mountTable caches the table; every change and every refresh reloads it.
type mountTable struct {
	db *pgxpool.Pool

	mu      sync.RWMutex
	entries []api.MountEntry // by source, longest first
}

func (t *mountTable) init(ctx context.Context) error {
	if _, err := t.db.Exec(ctx, mountSchema); err != nil {
		return fmt.Errorf("router mount table: %w", err)
	}
	return t.reload(ctx)
}

// reload reads the table.
func (t *mountTable) reload(ctx context.Context) error {
	rows, err := t.db.Query(ctx, `SELECT src, nameservice, dest, created FROM router_mounts`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var out []api.MountEntry
	for rows.Next() {
		var e api.MountEntry
		if err := rows.Scan(&e.Source, &e.Nameservice, &e.Destination, &e.Created); err != nil {
			return err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].Source) != len(out[j].Source) {
			return len(out[i].Source) > len(out[j].Source)
		}
		return out[i].Source < out[j].Source
	})
	t.mu.Lock()
	t.entries = out
	t.mu.Unlock()
	return nil
}

// list returns the entries by source.
func (t *mountTable) list() []api.MountEntry {
	t.mu.RLock()
	out := append([]api.MountEntry(nil), t.entries...)
	t.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// cleanPath checks an absolute path and removes a trailing slash.
func cleanPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", errs.E(errs.IllegalArgument, "Invalid path %q: not absolute", p)
	}
	return path.Clean(p), nil
}

// put adds or replaces an entry.
func (t *mountTable) put(ctx context.Context, e api.MountEntry, known map[string]string) error {
	var err error
	if e.Source, err = cleanPath(e.Source); err != nil {
		return err
	}
	if e.Destination, err = cleanPath(e.Destination); err != nil {
		return err
	}
	if _, ok := known[e.Nameservice]; !ok {
		return errs.E(errs.IllegalArgument, "Cannot add mount point %s: nameservice %q is not one of this router's", e.Source, e.Nameservice)
	}
	_, err = t.db.Exec(ctx, `INSERT INTO router_mounts (src, nameservice, dest, created) VALUES ($1, $2, $3, $4)
		ON CONFLICT (src) DO UPDATE SET nameservice = EXCLUDED.nameservice, dest = EXCLUDED.dest`,
		e.Source, e.Nameservice, e.Destination, time.Now().UnixMilli())
	if err != nil {
		return err
	}
	return t.reload(ctx)
}

// remove deletes the entry of source; false when there was none.
func (t *mountTable) remove(ctx context.Context, src string) (bool, error) {
	src, err := cleanPath(src)
	if err != nil {
		return false, err
	}
	tag, err := t.db.Exec(ctx, `DELETE FROM router_mounts WHERE src = $1`, src)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, t.reload(ctx)
}

// under reports whether p is dir or below it.
func under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// resolve maps a global path to its mount entry and the path in that
// nameservice.
func (t *mountTable) resolve(p string) (api.MountEntry, string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, e := range t.entries {
		if under(p, e.Source) {
			rest := strings.TrimPrefix(p, e.Source)
			if e.Source == "/" {
				rest = p
			}
			return e, path.Join(e.Destination, rest), true
		}
	}
	return api.MountEntry{}, "", false
}

// below returns the entries whose source is strictly under p.
func (t *mountTable) below(p string) []api.MountEntry {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []api.MountEntry
	for _, e := range t.entries {
		if e.Source != p && under(e.Source, p) {
			out = append(out, e)
		}
	}
	return out
}

// childNames are the names of p's children that lead to mount points.
func (t *mountTable) childNames(p string) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range t.below(p) {
		rest := strings.TrimPrefix(strings.TrimPrefix(e.Source, p), "/")
		name, _, _ := strings.Cut(rest, "/")
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
