package namespace

import (
	"sort"
	"strings"

	"github.com/granary-fs/granary/internal/errs"
)

// Reserved identifiers, as HDFS: inode IDs up to 16384 are reserved and the
// root is 16385; block IDs start above 2^30; generation stamps at 1001.
const (
	RootInodeID        int64 = 16385
	FirstBlockID       int64 = 1 << 30
	FirstGenStamp      int64 = 1000
	DefaultDirMode           = 0o755
	DefaultFileMode          = 0o644
	StickyBit                = 0o1000
	QuotaDontSet       int64 = 1<<63 - 1 // HdfsConstants.QUOTA_DONT_SET
	QuotaReset         int64 = -1        // HdfsConstants.QUOTA_RESET
	MaxDirectoryItems        = 1 << 20   // dfs.namenode.fs-limits.max-directory-items
	DefaultReplication       = 3
	MaxReplication           = 512
	DefaultBlockSize   int64 = 128 << 20
	MinBlockSize       int64 = 1 << 20
)

// Block is one block of a file: its ID, generation stamp and length.
type Block struct {
	ID       int64
	GenStamp int64
	NumBytes int64
}

// Inode is a file or a directory. It is kept small on purpose: a namespace
// of a million one-block files must fit in about 250 bytes per file, so
// owner and group are indexes into the namespace's string table and
// directory-only and construction-only data hang off pointers.
type Inode struct {
	id     int64
	parent *Inode
	name   string
	mtime  int64
	atime  int64
	// blockSize is the preferred block size of a file (0 for directories).
	blockSize int64
	blocks    []Block
	dir       *dirInfo // non-nil for directories
	uc        *ucInfo  // non-nil for files under construction
	owner     uint32   // index into Namespace.strings
	group     uint32   // index into Namespace.strings
	mode      uint16   // permission bits including the sticky bit
	repl      uint16   // replication of a file
}

// dirInfo holds what only directories have.
type dirInfo struct {
	children []*Inode // sorted by name (bytewise, as HDFS compares names)
	quota    *quota   // nil when the directory has no quota
}

// quota is a directory's namespace and storage-space quota with the usage
// HDFS caches for it (DirectoryWithQuotaFeature): the namespace count
// includes the directory itself.
type quota struct {
	ns, ds         int64 // -1 = none
	nsUsed, dsUsed int64
}

// ucInfo is the lease holder of a file under construction.
type ucInfo struct {
	clientName    string
	clientMachine string
	// lastComplete: the last block was complete when the file was reopened
	// for append and no block was added since.
	lastComplete bool
	// truncateGS, when not 0: a truncate cut the last block, whose
	// replicas are being cut to its recorded length under this new
	// generation stamp (HDFS's truncateBlock of a block under recovery).
	truncateGS int64
}

// leaseConflict is HDFS's refusal of op on path by holder on machine
// while file n is under construction by another client: a recovery in
// progress (a truncate's) is RecoveryInProgressException, a writer's
// lease AlreadyBeingCreatedException.
func leaseConflict(op, path, holder, machine string, n *Inode) error {
	if n.uc.truncateGS != 0 {
		return errs.E(errs.RecoveryInProgress, "Failed to %s %s for %s on %s because another recovery is in progress by %s on %s",
			op, path, holder, machine, n.uc.clientName, n.uc.clientMachine)
	}
	return errs.E(errs.AlreadyBeingCreated, "Failed to %s %s for %s on %s because this file lease is currently owned by %s on %s",
		op, path, holder, machine, n.uc.clientName, n.uc.clientMachine)
}

// blockComplete reports whether block i of file n is complete.
func (n *Inode) blockComplete(i int) bool {
	return n.uc == nil || i < len(n.blocks)-1 || n.uc.lastComplete
}

// IsDir reports whether n is a directory.
func (n *Inode) IsDir() bool { return n.dir != nil }

// ID returns the inode ID.
func (n *Inode) ID() int64 { return n.id }

// Name returns the inode's last path component ("" for the root).
func (n *Inode) Name() string { return n.name }

// length returns a file's length: the sum of its blocks.
func (n *Inode) length() int64 {
	var l int64
	for _, b := range n.blocks {
		l += b.NumBytes
	}
	return l
}

// storageSpace is what a file consumes against a storage-space quota: its
// length times its replication, counting an under-construction last block
// at the full preferred block size (as HDFS does while a block is written).
func (n *Inode) storageSpace() int64 {
	if n.dir != nil {
		return 0
	}
	l := n.length()
	if n.uc != nil && !n.uc.lastComplete && len(n.blocks) > 0 {
		last := n.blocks[len(n.blocks)-1].NumBytes
		if last < n.blockSize {
			l += n.blockSize - last
		}
	}
	return l * int64(n.repl)
}

// path returns the absolute path of n.
func (n *Inode) path() string {
	if n.parent == nil {
		return "/"
	}
	var parts []string
	for c := n; c.parent != nil; c = c.parent {
		parts = append(parts, c.name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

// search returns the index of name in d's children and whether it is there.
func (d *dirInfo) search(name string) (int, bool) {
	i := sort.Search(len(d.children), func(i int) bool { return d.children[i].name >= name })
	return i, i < len(d.children) && d.children[i].name == name
}

func (d *dirInfo) child(name string) *Inode {
	if i, ok := d.search(name); ok {
		return d.children[i]
	}
	return nil
}

func (d *dirInfo) insert(n *Inode) {
	i, _ := d.search(n.name)
	d.children = append(d.children, nil)
	copy(d.children[i+1:], d.children[i:])
	d.children[i] = n
}

func (d *dirInfo) remove(name string) {
	if i, ok := d.search(name); ok {
		copy(d.children[i:], d.children[i+1:])
		d.children[len(d.children)-1] = nil
		d.children = d.children[:len(d.children)-1]
	}
}

// strtab interns owner and group names: an inode keeps a uint32 index.
type strtab struct {
	names []string
	index map[string]uint32
}

func newStrtab() *strtab { return &strtab{index: map[string]uint32{}} }

func (t *strtab) id(s string) uint32 {
	if i, ok := t.index[s]; ok {
		return i
	}
	i := uint32(len(t.names))
	t.names = append(t.names, s)
	t.index[s] = i
	return i
}

func (t *strtab) name(i uint32) string { return t.names[i] }
