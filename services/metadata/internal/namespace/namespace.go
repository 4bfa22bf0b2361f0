// Package namespace is the metadata service's in-memory file system tree:
// inodes, directories, files with their blocks, permissions and quotas
// (HDFS's FSDirectory and FSNamesystem). It is pure domain code: it imports
// no database, HTTP or NATS package, and does no I/O of its own.
//
// Durability is delegated to a Journal. A mutation is validated and applied
// under the namespace write lock, its ops are handed to the Journal in txid
// order while the lock is held, the lock is released, and only then does
// the caller wait for the Journal to commit (HDFS's logEdit + logSync).
//
// Lock rules: Namespace.mu guards every field of the Namespace and every
// Inode reachable from it. Readers hold mu.RLock, mutators mu.Lock. No I/O
// and no waiting is ever done while mu is held; Journal.Append must only
// queue. The same apply functions serve live mutations and replay, so a
// replayed log yields the same tree. Guard (safe mode) is called with mu
// held: it must never call back into the namespace except through
// lock-free accessors such as CompleteBlocks.
package namespace

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hdfspath"
)

// Journal makes applied ops durable. Append is called with the namespace
// write lock held, once per op, with dense increasing txids; it must not
// block. The returned Commit reports when the op (and all before it) is
// durable.
type Journal interface {
	Append(txid int64, op Op, blocks []BlockChange) Commit
}

// BlockChange is the new state of one block after an op: what the
// coordinator's block map must learn (HDFS's BlockManager learns it from
// the same in-process calls). Removed blocks carry only their ID.
type BlockChange struct {
	ID, GenStamp, NumBytes int64
	Replication            uint16
	Complete               bool
	Removed                bool
	InodeID                int64
}

// Commit waits for an appended op to be durable.
type Commit interface {
	Wait(ctx context.Context) error
}

// Config configures a Namespace.
type Config struct {
	Superuser  string // the user that owns / and bypasses permission checks
	Supergroup string // dfs.permissions.superusergroup
	// Guard is called under the write lock before every mutation with what
	// the mutation is ("Cannot create directory /a"); a non-nil error
	// (SafeModeException, a retriable journal failure) refuses it.
	Guard func(what string) error
	Now   func() time.Time
	// MinBlockSize is dfs.namenode.fs-limits.min-block-size (default 1 MiB).
	MinBlockSize int64
}

// Namespace is the file system tree. The zero value is not usable: call New.
type Namespace struct {
	mu sync.RWMutex

	root   *Inode
	inodes map[int64]*Inode
	// truncating are the files whose truncate is being recovered.
	truncating  map[*Inode]bool
	strings     *strtab
	lastInodeID int64
	txid        int64 // the last applied transaction
	files, dirs int64
	blocks      atomic.Int64  // blocks of complete files, for safe mode (read without mu)
	lastBlockID int64         // the last block ID allocated
	genStamp    int64         // the last generation stamp issued
	changes     []BlockChange // block changes of the op being applied
	// lastMkdir is the directory the last applied op created, at path
	// lastMkdirPath; any other op forgets it. A Mkdir of a child of it
	// (the next level of a mkdirs -p, live or replayed) finds its parent
	// without resolving the path, so a deep mkdirs costs linear time.
	lastMkdir     *Inode
	lastMkdirPath string

	secrets secrets // delegation-token keys and tokens
	retry   *retryCache

	journal    Journal
	superuser  string
	supergroup string
	guard      func(string) error
	now        func() time.Time
	minBlock   int64
}

// New returns an empty namespace holding only the root directory, owned by
// the superuser with mode 755, as a freshly formatted HDFS.
func New(cfg Config) *Namespace {
	ns := &Namespace{
		inodes:     map[int64]*Inode{},
		truncating: map[*Inode]bool{},
		strings:    newStrtab(),
		superuser:  cfg.Superuser,
		supergroup: cfg.Supergroup,
		guard:      cfg.Guard,
		now:        cfg.Now,
		minBlock:   cfg.MinBlockSize,
	}
	if ns.minBlock <= 0 {
		ns.minBlock = MinBlockSize
	}
	if ns.supergroup == "" {
		ns.supergroup = "supergroup"
	}
	if ns.now == nil {
		ns.now = time.Now
	}
	ns.retry = newRetryCache(ns.now)
	ns.root = &Inode{
		id:    RootInodeID,
		dir:   &dirInfo{},
		owner: ns.strings.id(ns.superuser),
		group: ns.strings.id(ns.supergroup),
		mode:  DefaultDirMode,
	}
	ns.inodes[RootInodeID] = ns.root
	ns.lastInodeID = RootInodeID
	ns.lastBlockID = FirstBlockID
	ns.genStamp = FirstGenStamp
	ns.dirs = 1
	return ns
}

// SetJournal attaches the journal that live mutations are logged to. Before
// it is set (while loading) mutations are refused.
func (ns *Namespace) SetJournal(j Journal) {
	ns.mu.Lock()
	ns.journal = j
	ns.mu.Unlock()
}

// TxID returns the last applied transaction ID.
func (ns *Namespace) TxID() int64 {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return ns.txid
}

// Counts returns the number of files and directories (the root included).
func (ns *Namespace) Counts() (files, dirs int64) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return ns.files, ns.dirs
}

// CompleteBlocks returns the number of blocks of complete files: the total
// that safe mode compares reported blocks with.
// It takes no lock, so that safe mode can ask while a mutation holds mu.
func (ns *Namespace) CompleteBlocks() int64 { return ns.blocks.Load() }

// Replay applies one logged op at txid, which must follow the last applied
// transaction exactly: a gap or an op that does not fit the tree is an error
// naming the txid.
func (ns *Namespace) Replay(txid int64, op Op) error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if txid != ns.txid+1 {
		return fmt.Errorf("edit log gap: expected txid %d, found %d", ns.txid+1, txid)
	}
	err := ns.apply(op)
	ns.changes = ns.changes[:0]
	if err != nil {
		return fmt.Errorf("txid %d (%v): %w", txid, op.Code(), err)
	}
	ns.txid = txid
	if c, ok := op.(callOp); ok && c.rpc().Client != "" {
		ns.retry.replayed(*c.rpc(), ns.replayedResult(op))
	}
	return nil
}

// replayedResult is what a retry of the call that logged op is answered:
// the same type as the live call's result.
func (ns *Namespace) replayedResult(op Op) any {
	switch o := op.(type) {
	case *Add:
		n, _, _ := ns.lookup(o.Path)
		if n == nil {
			return nil
		}
		return createResult{st: ns.status(n, "")}
	case *AppendOp:
		n, _, _ := ns.lookup(o.Path)
		if n == nil {
			return nil
		}
		return ns.status(n, "")
	case *Delete, *RenameOld:
		return true
	}
	return struct{}{}
}

// SetTxID sets the last applied txid, for a namespace just loaded from an
// image at that txid.
func (ns *Namespace) SetTxID(txid int64) {
	ns.mu.Lock()
	ns.txid = txid
	ns.mu.Unlock()
}

// tx collects the ops of one mutation.
type tx struct {
	ns   *Namespace
	last Commit
}

// log applies op to the tree and hands it to the journal.
func (t *tx) log(op Op) error {
	ns := t.ns
	if err := ns.apply(op); err != nil {
		ns.changes = ns.changes[:0]
		// A validated op that fails to apply is a bug; refuse it loudly.
		return errs.Wrap(errs.Internal, err, "applying %v", op.Code())
	}
	ns.txid++
	var changes []BlockChange
	if len(ns.changes) > 0 {
		changes = append(changes, ns.changes...)
		ns.changes = ns.changes[:0]
	}
	t.last = ns.journal.Append(ns.txid, op, changes)
	return nil
}

// mutate runs fn under the write lock and then waits, without the lock, for
// every op fn logged to be durable. Ops logged before fn failed are still
// waited for: they were applied and must not be acknowledged early.
func (ns *Namespace) mutate(ctx context.Context, what string, fn func(t *tx) error) error {
	ns.mu.Lock()
	if ns.journal == nil {
		ns.mu.Unlock()
		return errs.E(errs.Retriable, "the namespace is still loading")
	}
	if ns.guard != nil {
		if err := ns.guard(what); err != nil {
			ns.mu.Unlock()
			return err
		}
	}
	t := &tx{ns: ns}
	err := fn(t)
	ns.mu.Unlock()
	if t.last != nil {
		if werr := t.last.Wait(ctx); werr != nil {
			return werr
		}
	}
	return err
}

// resolve walks comps from the root. The result has len(comps)+1 entries
// (the root first); entries past a missing component are nil. notDir is
// the index of a file met where a directory was needed, or -1.
func (ns *Namespace) resolve(comps []string) (ip []*Inode, notDir int) {
	ip = make([]*Inode, len(comps)+1)
	ip[0] = ns.root
	cur := ns.root
	for i, c := range comps {
		if cur.dir == nil {
			return ip, i
		}
		cur = cur.dir.child(c)
		if cur == nil {
			return ip, -1
		}
		ip[i+1] = cur
	}
	return ip, -1
}

// lookup resolves an absolute path string to its inode, or nil.
func (ns *Namespace) lookup(p string) (*Inode, []string, error) {
	comps, err := hdfspath.Split(p)
	if err != nil {
		return nil, nil, err
	}
	ip, _ := ns.resolve(comps)
	return ip[len(ip)-1], comps, nil
}

// parentOf resolves the parent directory of p for apply.
func (ns *Namespace) parentOf(p string) (*Inode, string, error) {
	comps, err := hdfspath.Split(p)
	if err != nil {
		return nil, "", err
	}
	if len(comps) == 0 {
		return nil, "", fmt.Errorf("the root has no parent")
	}
	ip, _ := ns.resolve(comps[:len(comps)-1])
	parent := ip[len(ip)-1]
	if parent == nil || parent.dir == nil {
		return nil, "", fmt.Errorf("parent of %s is not a directory", p)
	}
	return parent, comps[len(comps)-1], nil
}

// count returns the namespace count (inodes) and storage space of n's subtree.
func count(n *Inode) (nsCount, ds int64) {
	if n.dir == nil {
		return 1, n.storageSpace()
	}
	nsCount = 1
	for _, c := range n.dir.children {
		a, b := count(c)
		nsCount += a
		ds += b
	}
	return nsCount, ds
}

// countKinds returns the number of files, directories and blocks of
// complete files in n's subtree.
func countKinds(n *Inode) (files, dirs, blocks int64) {
	if n.dir == nil {
		for i := range n.blocks {
			if n.blockComplete(i) {
				blocks++
			}
		}
		return 1, 0, blocks
	}
	dirs = 1
	for _, c := range n.dir.children {
		f, d, b := countKinds(c)
		files += f
		dirs += d
		blocks += b
	}
	return files, dirs, blocks
}

// addUsage adds to the cached quota usage of d and its ancestors.
func addUsage(d *Inode, dns, dds int64) {
	for ; d != nil; d = d.parent {
		if q := d.dir.quota; q != nil {
			q.nsUsed += dns
			q.dsUsed += dds
		}
	}
}

// checkQuota verifies that adding (dns, dds) below d exceeds no quota of d
// or its ancestors, stopping before stop (a common ancestor whose usage does
// not change).
func checkQuota(d, stop *Inode, dns, dds int64) error {
	for ; d != nil && d != stop; d = d.parent {
		q := d.dir.quota
		if q == nil {
			continue
		}
		if dns > 0 && q.ns >= 0 && q.nsUsed+dns > q.ns {
			return errs.E(errs.NSQuotaExceeded,
				"The NameSpace quota (directories and files) of directory %s is exceeded: quota=%d file count=%d",
				d.path(), q.ns, q.nsUsed+dns)
		}
		if dds > 0 && q.ds >= 0 && q.dsUsed+dds > q.ds {
			return errs.E(errs.DSQuotaExceeded,
				"The DiskSpace quota of %s is exceeded: quota = %d B but diskspace consumed = %d B",
				d.path(), q.ds, q.dsUsed+dds)
		}
	}
	return nil
}

// checkItems enforces dfs.namenode.fs-limits.max-directory-items.
func checkItems(d *Inode) error {
	if len(d.dir.children) >= MaxDirectoryItems {
		return errs.E(errs.MaxDirectoryItemsExceeded,
			"The directory item limit of %s is exceeded: limit=%d items=%d", d.path(), MaxDirectoryItems, len(d.dir.children))
	}
	return nil
}

func (ns *Namespace) millis() int64 { return ns.now().UnixMilli() }

// emit records the new state of every block of file n.
func (ns *Namespace) emit(n *Inode) {
	for i, b := range n.blocks {
		complete := n.blockComplete(i)
		ns.changes = append(ns.changes, BlockChange{
			ID: b.ID, GenStamp: b.GenStamp, NumBytes: b.NumBytes, Replication: n.repl, Complete: complete, InodeID: n.id,
		})
	}
}

// emitRemoved records the removal of every block in n's subtree.
func (ns *Namespace) emitRemoved(n *Inode) {
	if n.dir != nil {
		for _, c := range n.dir.children {
			ns.emitRemoved(c)
		}
		return
	}
	for _, b := range n.blocks {
		ns.changes = append(ns.changes, BlockChange{ID: b.ID, Removed: true})
	}
}

func (ns *Namespace) minBlockSize() int64 { return ns.minBlock }
