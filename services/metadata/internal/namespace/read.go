package namespace

import (
	"strings"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hdfspath"
)

// Status is what HDFS's HdfsFileStatus says of one inode.
type Status struct {
	Name              string // the path suffix: "" when the path itself was asked for
	IsDir             bool
	Length            int64
	BlockSize         int64
	Replication       int
	Owner, Group      string
	Mode              uint16
	Mtime, Atime      int64
	FileID            int64
	ChildrenNum       int
	UnderConstruction bool
}

func (ns *Namespace) status(n *Inode, name string) Status {
	s := Status{
		Name: name, IsDir: n.dir != nil, Owner: ns.strings.name(n.owner), Group: ns.strings.name(n.group),
		Mode: n.mode, Mtime: n.mtime, FileID: n.id, UnderConstruction: n.uc != nil,
	}
	if n.dir != nil {
		s.ChildrenNum = len(n.dir.children)
	} else {
		s.Length, s.BlockSize, s.Replication, s.Atime = n.length(), n.blockSize, int(n.repl), n.atime
		if k := len(n.blocks); k > 0 && !n.blockComplete(k-1) {
			// HDFS's computeFileSizeNotIncludingLastUcBlock: a block being
			// written or recovered does not count yet (a client waiting
			// for a truncate's recovery watches the length reach the new
			// one).
			s.Length -= n.blocks[k-1].NumBytes
		}
	}
	return s
}

// readPath resolves path for a read after the traverse check.
func (ns *Namespace) readPath(u *User, path string, c check) ([]*Inode, *Inode, error) {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return nil, nil, err
	}
	ip, _ := ns.resolve(comps)
	if err := ns.checkPermission(u, ip, c); err != nil {
		return nil, nil, err
	}
	n := ip[len(ip)-1]
	if n == nil {
		return ip, nil, errs.E(errs.FileNotFound, "File does not exist: %s", path)
	}
	return ip, n, nil
}

// GetFileInfo returns the status of path.
func (ns *Namespace) GetFileInfo(u *User, path string) (Status, error) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	_, n, err := ns.readPath(u, path, check{})
	if err != nil {
		return Status{}, err
	}
	return ns.status(n, ""), nil
}

// List returns up to limit entries of the directory path whose names sort
// after startAfter, and how many entries remain after them. A file lists as
// itself.
func (ns *Namespace) List(u *User, path, startAfter string, limit int) ([]Status, int, error) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	_, n, err := ns.readPath(u, path, check{})
	if err != nil {
		return nil, 0, err
	}
	if n.dir == nil {
		return []Status{ns.status(n, "")}, 0, nil
	}
	if err := ns.hasAccessUnlessSuper(u, n, actRead|actExecute); err != nil {
		return nil, 0, err
	}
	kids := n.dir.children
	start := 0
	if startAfter != "" {
		i, found := n.dir.search(startAfter)
		if found {
			i++
		}
		start = i
	}
	end := len(kids)
	if limit > 0 && start+limit < end {
		end = start + limit
	}
	out := make([]Status, 0, end-start)
	for _, c := range kids[start:end] {
		out = append(out, ns.status(c, c.name))
	}
	return out, len(kids) - end, nil
}

func (ns *Namespace) hasAccessUnlessSuper(u *User, n *Inode, want uint16) error {
	if ns.isSuper(u) {
		return nil
	}
	return ns.hasAccess(u, n, want)
}

// ContentSummary is HDFS's ContentSummary of a subtree.
type ContentSummary struct {
	Length, FileCount, DirectoryCount int64
	Quota, SpaceConsumed, SpaceQuota  int64
}

// QuotaUsage is HDFS's QuotaUsage of a directory.
type QuotaUsage struct {
	FileAndDirectoryCount, Quota, SpaceConsumed, SpaceQuota int64
}

// GetContentSummary walks the subtree of path (READ_EXECUTE needed on every
// directory of it).
func (ns *Namespace) GetContentSummary(u *User, path string) (ContentSummary, error) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	_, n, err := ns.readPath(u, path, check{sub: actRead | actExecute})
	if err != nil {
		return ContentSummary{}, err
	}
	cs := ContentSummary{Quota: -1, SpaceQuota: -1}
	summarize(n, &cs)
	if n.dir != nil && n.dir.quota != nil {
		cs.Quota, cs.SpaceQuota = n.dir.quota.ns, n.dir.quota.ds
	}
	return cs, nil
}

func summarize(n *Inode, cs *ContentSummary) {
	if n.dir == nil {
		cs.FileCount++
		cs.Length += n.length()
		cs.SpaceConsumed += n.storageSpace()
		return
	}
	cs.DirectoryCount++
	for _, c := range n.dir.children {
		summarize(c, cs)
	}
}

// GetQuotaUsage returns the quota and usage of path; usage is the cached
// figure for directories with a quota, counted otherwise.
func (ns *Namespace) GetQuotaUsage(u *User, path string) (QuotaUsage, error) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	_, n, err := ns.readPath(u, path, check{sub: actRead | actExecute})
	if err != nil {
		return QuotaUsage{}, err
	}
	if n.dir != nil && n.dir.quota != nil {
		q := n.dir.quota
		return QuotaUsage{FileAndDirectoryCount: q.nsUsed, Quota: q.ns, SpaceConsumed: q.dsUsed, SpaceQuota: q.ds}, nil
	}
	c, ds := count(n)
	return QuotaUsage{FileAndDirectoryCount: c, Quota: -1, SpaceConsumed: ds, SpaceQuota: -1}, nil
}

// Open returns the status and blocks of a file to read (READ is needed), as
// HDFS's getBlockLocations resolves a file.
func (ns *Namespace) Open(u *User, path string) (Status, []Block, error) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	_, n, err := ns.readPath(u, path, check{access: actRead})
	if err != nil {
		return Status{}, nil, err
	}
	if n.dir != nil {
		return Status{}, nil, errs.E(errs.FileNotFound, "Path is not a file: %s", path)
	}
	return ns.status(n, ""), append([]Block(nil), n.blocks...), nil
}

// FileBlocks is one file of a subtree walk (for fsck).
type FileBlocks struct {
	Path        string
	Length      int64
	Replication int
	UC          bool
	Blocks      []Block
}

// Walk lists every file under path (path itself when it is a file) with its
// blocks, in name order, and counts the directories (READ_EXECUTE is
// needed on every directory, as for a content summary).
func (ns *Namespace) Walk(u *User, path string) (files []FileBlocks, dirs int, err error) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	_, n, err := ns.readPath(u, path, check{sub: actRead | actExecute})
	if err != nil {
		return nil, 0, err
	}
	var walk func(n *Inode, p string)
	walk = func(n *Inode, p string) {
		if n.dir != nil {
			dirs++
			for _, c := range n.dir.children {
				walk(c, strings.TrimSuffix(p, "/")+"/"+c.name)
			}
			return
		}
		files = append(files, FileBlocks{Path: p, Length: n.length(), Replication: int(n.repl), UC: n.uc != nil,
			Blocks: append([]Block(nil), n.blocks...)})
	}
	walk(n, n.path())
	return files, dirs, nil
}
