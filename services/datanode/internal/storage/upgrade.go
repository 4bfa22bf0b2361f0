package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Upgrades of a block pool slice's layout, as HDFS's
// BlockPoolSliceStorage: a slice whose VERSION has an older layout (a
// higher layoutVersion) is upgraded at start — current/ becomes previous/
// and a new current/ is made of hard links to the same block files, with
// this layout's VERSION — so that `granary datanode -rollback` can bring
// the old one back (Rollback), until the upgrade is finalized (the FINALIZE
// command: previous/ is deleted). The block files are never copied.

// upgradeSlice upgrades the block pool slice at bp when its VERSION is
// older than LayoutVersion; it reports whether it did.
func upgradeSlice(bp string) (bool, error) {
	cur := filepath.Join(bp, "current")
	p, err := readProperties(filepath.Join(cur, "VERSION"))
	if err != nil {
		return false, nil // no VERSION yet: InitBlockPool writes it
	}
	lv, err := strconv.Atoi(p["layoutVersion"])
	if err != nil || lv <= LayoutVersion {
		return false, nil // current (or newer: refused elsewhere)
	}
	prev, tmp := filepath.Join(bp, "previous"), filepath.Join(bp, "previous.tmp")
	if _, err := os.Stat(prev); err == nil {
		return false, fmt.Errorf("cannot upgrade %s: a previous upgrade is not finalized (finalize or roll it back first)", bp)
	}
	_ = os.RemoveAll(tmp) // an upgrade interrupted before its rename
	if err := os.Rename(cur, tmp); err != nil {
		return false, err
	}
	// The new current/: every file a hard link to the old one's.
	err = filepath.Walk(tmp, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(tmp, path)
		dst := filepath.Join(cur, rel)
		switch {
		case fi.IsDir():
			return os.MkdirAll(dst, 0o755)
		case rel == "VERSION" || rel == "dfsUsed":
			return nil
		}
		return os.Link(path, dst)
	})
	if err != nil {
		return false, fmt.Errorf("upgrading %s: %w", bp, err)
	}
	p["layoutVersion"] = strconv.Itoa(LayoutVersion)
	if err := p.writeIfChanged(filepath.Join(cur, "VERSION")); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, prev)
}

// Rollback brings back the previous layout of every block pool slice on
// the data directories that kept one (`granary datanode -rollback`, before
// the store is opened): current/ is deleted and previous/ becomes current/.
// It returns the slices rolled back.
func Rollback(dirs []string) ([]string, error) {
	var done []string
	for _, loc := range dirs {
		_, dir, err := ParseLocation(loc)
		if err != nil {
			return done, err
		}
		bps, _ := filepath.Glob(filepath.Join(dir, "current", "BP-*"))
		for _, bp := range bps {
			prev := filepath.Join(bp, "previous")
			if _, err := os.Stat(prev); err != nil {
				continue
			}
			removed := filepath.Join(bp, "removed.tmp")
			_ = os.RemoveAll(removed)
			if err := os.Rename(filepath.Join(bp, "current"), removed); err != nil {
				return done, err
			}
			if err := os.Rename(prev, filepath.Join(bp, "current")); err != nil {
				return done, err
			}
			if err := os.RemoveAll(removed); err != nil {
				return done, err
			}
			done = append(done, bp)
		}
	}
	return done, nil
}

// FinalizeUpgrade ends the upgrade of block pool bpid on every volume: its
// previous/ layout is deleted (HDFS's DNA_FINALIZE). It returns the slices
// finalized.
func (s *Store) FinalizeUpgrade(bpid string) ([]string, error) {
	var done []string
	for _, v := range s.healthy() {
		bp := v.bpDir(bpid)
		prev := filepath.Join(bp, "previous")
		if _, err := os.Stat(prev); err != nil {
			continue
		}
		tmp := filepath.Join(bp, "finalized.tmp")
		if err := os.Rename(prev, tmp); err != nil {
			return done, err
		}
		if err := os.RemoveAll(tmp); err != nil {
			return done, err
		}
		done = append(done, bp)
	}
	return done, nil
}
