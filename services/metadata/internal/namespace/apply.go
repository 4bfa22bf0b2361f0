package namespace

import (
	"fmt"
	"strings"
)

// apply changes the tree by one op. It checks only what keeps the tree
// consistent (parents exist, names are free); permissions and quotas are the
// live path's business, decided before the op was logged.
func (ns *Namespace) apply(op Op) error {
	if _, ok := op.(*Mkdir); !ok {
		ns.lastMkdir = nil
	}
	switch o := op.(type) {
	case *Mkdir:
		return ns.applyMkdir(o)
	case *Add:
		return ns.applyAdd(o)
	case *Close:
		return ns.applyClose(o)
	case *Delete:
		return ns.applyDelete(o)
	case *RenameOld:
		return ns.applyRename(o)
	case *SetPermissions:
		return ns.withInode(o.Path, func(n *Inode) error { n.mode = o.Mode; return nil })
	case *SetOwner:
		return ns.withInode(o.Path, func(n *Inode) error {
			if o.Owner != "" {
				n.owner = ns.strings.id(o.Owner)
			}
			if o.Group != "" {
				n.group = ns.strings.id(o.Group)
			}
			return nil
		})
	case *Times:
		return ns.withInode(o.Path, func(n *Inode) error {
			if o.Mtime >= 0 {
				n.mtime = o.Mtime
			}
			if o.Atime >= 0 && n.dir == nil {
				n.atime = o.Atime
			}
			return nil
		})
	case *SetReplication:
		return ns.withInode(o.Path, func(n *Inode) error {
			if n.dir != nil {
				return fmt.Errorf("%s is a directory", o.Path)
			}
			before := n.storageSpace()
			n.repl = o.Replication
			addUsage(n.parent, 0, n.storageSpace()-before)
			ns.emit(n)
			return nil
		})
	case *SetQuota:
		return ns.withInode(o.Path, func(n *Inode) error { return ns.applySetQuota(n, o) })
	case *AddBlock:
		return ns.withUC(o.Path, func(n *Inode) error { return ns.applyAddBlock(n, o) })
	case *AppendOp:
		return ns.withInode(o.Path, func(n *Inode) error {
			if n.dir != nil || n.uc != nil {
				return fmt.Errorf("%s is not a closed file", o.Path)
			}
			ns.blocks.Add(-int64(len(n.blocks)))
			n.uc = &ucInfo{clientName: o.ClientName, clientMachine: o.ClientMachine, lastComplete: true}
			ns.blocks.Add(int64(len(n.blocks))) // all blocks stay complete
			return nil
		})
	case *ConcatDelete:
		return ns.applyConcat(o)
	case *Truncate:
		return ns.withInode(o.Path, func(n *Inode) error {
			if n.dir != nil || n.uc != nil {
				return fmt.Errorf("%s is not a closed file", o.Path)
			}
			if o.ClientName != "" && (len(o.Blocks) == 0 || o.RecoveryGS <= o.Blocks[len(o.Blocks)-1].GenStamp) {
				return fmt.Errorf("%s: truncate recovery stamp %d is not above the last block's", o.Path, o.RecoveryGS)
			}
			ns.replaceBlocks(n, o.Blocks)
			n.mtime = o.Mtime
			if o.ClientName != "" {
				// The cut block is under recovery: the file is under
				// construction until the recovery closes it.
				before := n.storageSpace()
				_, _, had := countKinds(n)
				n.uc = &ucInfo{clientName: o.ClientName, clientMachine: o.ClientMachine, truncateGS: o.RecoveryGS}
				ns.truncating[n] = true
				ns.recount(n, had)
				addUsage(n.parent, 0, n.storageSpace()-before)
				ns.genStamp = max(ns.genStamp, o.RecoveryGS)
			}
			ns.emit(n)
			return nil
		})
	case *SetGenstamp:
		ns.genStamp = max(ns.genStamp, o.GenStamp)
		return nil
	case *UpdateMasterKey, *GetDelegationToken, *RenewDelegationToken, *CancelDelegationToken:
		return ns.applySecret(o)
	case *UpdateBlocks:
		return ns.withUC(o.Path, func(n *Inode) error {
			ns.replaceBlocks(n, o.Blocks)
			ns.emit(n)
			return nil
		})
	}
	return fmt.Errorf("no apply for %v", op.Code())
}

func (ns *Namespace) withInode(p string, fn func(n *Inode) error) error {
	n, _, err := ns.lookup(p)
	if err != nil {
		return err
	}
	if n == nil {
		return fmt.Errorf("%s does not exist", p)
	}
	return fn(n)
}

// attach links a new inode under parent and accounts for it.
func (ns *Namespace) attach(parent, n *Inode, mtime int64) {
	n.parent = parent
	parent.dir.insert(n)
	parent.mtime = mtime
	ns.inodes[n.id] = n
	if n.id > ns.lastInodeID {
		ns.lastInodeID = n.id
	}
	if n.dir != nil {
		ns.dirs++
	} else {
		ns.files++
	}
	addUsage(parent, 1, n.storageSpace())
}

func (ns *Namespace) applyMkdir(o *Mkdir) error {
	parent, name, err := ns.mkdirParent(o.Path)
	ns.lastMkdir = nil
	if err != nil {
		return err
	}
	if parent.dir.child(name) != nil {
		return fmt.Errorf("%s already exists", o.Path)
	}
	if _, dup := ns.inodes[o.InodeID]; dup {
		return fmt.Errorf("inode %d already in use", o.InodeID)
	}
	n := &Inode{
		id: o.InodeID, name: name, mtime: o.Mtime, dir: &dirInfo{},
		owner: ns.strings.id(o.Owner), group: ns.strings.id(o.Group), mode: o.Mode,
	}
	ns.attach(parent, n, o.Mtime)
	ns.lastMkdir, ns.lastMkdirPath = n, o.Path
	return nil
}

// mkdirParent is parentOf for a Mkdir: the directory the previous op
// created when p names a child of it, else p's parent resolved.
func (ns *Namespace) mkdirParent(p string) (*Inode, string, error) {
	if d, dp := ns.lastMkdir, ns.lastMkdirPath; d != nil && len(p) > len(dp)+1 && p[len(dp)] == '/' && strings.HasPrefix(p, dp) {
		if name := p[len(dp)+1:]; strings.IndexByte(name, '/') < 0 {
			return d, name, nil
		}
	}
	return ns.parentOf(p)
}

func (ns *Namespace) applyAdd(o *Add) error {
	parent, name, err := ns.parentOf(o.Path)
	if err != nil {
		return err
	}
	if old := parent.dir.child(name); old != nil {
		if !o.Overwrite || old.dir != nil {
			return fmt.Errorf("%s already exists", o.Path)
		}
		ns.detach(old, o.Mtime)
	}
	if _, dup := ns.inodes[o.InodeID]; dup {
		return fmt.Errorf("inode %d already in use", o.InodeID)
	}
	ns.attach(parent, &Inode{
		id: o.InodeID, name: name, mtime: o.Mtime, atime: o.Atime,
		blockSize: o.BlockSize, repl: o.Replication,
		owner: ns.strings.id(o.Owner), group: ns.strings.id(o.Group), mode: o.Mode,
		uc: &ucInfo{clientName: o.ClientName, clientMachine: o.ClientMachine},
	}, o.Mtime)
	return nil
}

func (ns *Namespace) applyClose(o *Close) error {
	return ns.withInode(o.Path, func(n *Inode) error {
		if n.dir != nil || n.uc == nil {
			return fmt.Errorf("%s is not a file under construction", o.Path)
		}
		before := n.storageSpace()
		_, _, had := countKinds(n)
		n.blocks = o.Blocks
		n.mtime, n.atime = o.Mtime, o.Atime
		n.uc = nil
		delete(ns.truncating, n)
		ns.recount(n, had)
		addUsage(n.parent, 0, n.storageSpace()-before)
		ns.emit(n)
		return nil
	})
}

// detach unlinks n (and its subtree) from the tree and the inode map.
func (ns *Namespace) detach(n *Inode, mtime int64) {
	parent := n.parent
	c, ds := count(n)
	files, dirs, blocks := countKinds(n)
	parent.dir.remove(n.name)
	parent.mtime = mtime
	addUsage(parent, -c, -ds)
	ns.emitRemoved(n)
	ns.files -= files
	ns.dirs -= dirs
	ns.blocks.Add(-blocks)
	ns.forget(n)
	n.parent = nil
}

func (ns *Namespace) forget(n *Inode) {
	delete(ns.inodes, n.id)
	delete(ns.truncating, n)
	if n.dir != nil {
		for _, c := range n.dir.children {
			ns.forget(c)
		}
	}
}

func (ns *Namespace) applyDelete(o *Delete) error {
	n, comps, err := ns.lookup(o.Path)
	if err != nil {
		return err
	}
	if n == nil || len(comps) == 0 {
		return fmt.Errorf("cannot delete %s", o.Path)
	}
	ns.detach(n, o.Mtime)
	return nil
}

func (ns *Namespace) applyRename(o *RenameOld) error {
	n, comps, err := ns.lookup(o.Src)
	if err != nil {
		return err
	}
	if n == nil || len(comps) == 0 {
		return fmt.Errorf("rename source %s does not exist", o.Src)
	}
	parent, name, err := ns.parentOf(o.Dst)
	if err != nil {
		return err
	}
	if parent.dir.child(name) != nil {
		return fmt.Errorf("rename destination %s exists", o.Dst)
	}
	for a := parent; a != nil; a = a.parent {
		if a == n {
			return fmt.Errorf("cannot rename %s into its own subtree %s", o.Src, o.Dst)
		}
	}
	c, ds := count(n)
	old := n.parent
	old.dir.remove(n.name)
	old.mtime = o.Mtime
	addUsage(old, -c, -ds)
	n.name = name
	n.parent = parent
	parent.dir.insert(n)
	parent.mtime = o.Mtime
	addUsage(parent, c, ds)
	return nil
}

func (ns *Namespace) applySetQuota(n *Inode, o *SetQuota) error {
	if n.dir == nil {
		return fmt.Errorf("cannot set quota on file %s", o.Path)
	}
	nsq, dsq := int64(-1), int64(-1)
	if q := n.dir.quota; q != nil {
		nsq, dsq = q.ns, q.ds
	}
	if o.NS != QuotaDontSet {
		nsq = o.NS
	}
	if o.DS != QuotaDontSet {
		dsq = o.DS
	}
	if nsq < 0 && dsq < 0 {
		n.dir.quota = nil
		return nil
	}
	if n.dir.quota == nil {
		c, ds := count(n)
		n.dir.quota = &quota{nsUsed: c, dsUsed: ds}
	}
	n.dir.quota.ns, n.dir.quota.ds = max(nsq, -1), max(dsq, -1)
	return nil
}

func (ns *Namespace) withUC(p string, fn func(n *Inode) error) error {
	return ns.withInode(p, func(n *Inode) error {
		if n.dir != nil || n.uc == nil {
			return fmt.Errorf("%s is not a file under construction", p)
		}
		return fn(n)
	})
}

// replaceBlocks gives file n a new block list: the blocks it drops are
// reported removed, and the complete-block count and quota usage follow.
func (ns *Namespace) replaceBlocks(n *Inode, blocks []Block) {
	kept := map[int64]bool{}
	for _, b := range blocks {
		kept[b.ID] = true
	}
	for _, b := range n.blocks {
		if !kept[b.ID] {
			ns.changes = append(ns.changes, BlockChange{ID: b.ID, Removed: true})
		}
	}
	before := n.storageSpace()
	_, _, had := countKinds(n)
	n.blocks = append([]Block(nil), blocks...)
	ns.recount(n, had)
	addUsage(n.parent, 0, n.storageSpace()-before)
}

// recount adjusts the complete-block count after the blocks of file n
// changed; had is what countKinds counted for n before.
func (ns *Namespace) recount(n *Inode, had int64) {
	_, _, now := countKinds(n)
	ns.blocks.Add(now - had)
}

func (ns *Namespace) applyAddBlock(n *Inode, o *AddBlock) error {
	before := n.storageSpace()
	_, _, had := countKinds(n)
	if o.Penultimate != nil {
		k := len(n.blocks)
		if k == 0 || n.blocks[k-1].ID != o.Penultimate.ID {
			return fmt.Errorf("%s: penultimate block %d is not the last block", o.Path, o.Penultimate.ID)
		}
		n.blocks[k-1] = *o.Penultimate
	}
	n.blocks = append(n.blocks, o.Last)
	n.uc.lastComplete = false
	ns.recount(n, had) // the previous last block is complete now
	ns.lastBlockID = max(ns.lastBlockID, o.Last.ID)
	ns.genStamp = max(ns.genStamp, o.Last.GenStamp)
	addUsage(n.parent, 0, n.storageSpace()-before)
	ns.emit(n)
	return nil
}

func (ns *Namespace) applyConcat(o *ConcatDelete) error {
	t, _, err := ns.lookup(o.Target)
	if err != nil {
		return err
	}
	if t == nil || t.dir != nil || t.uc != nil {
		return fmt.Errorf("concat target %s is not a closed file", o.Target)
	}
	var srcs []*Inode
	for _, p := range o.Sources {
		n, _, err := ns.lookup(p)
		if err != nil {
			return err
		}
		if n == nil || n.dir != nil || n.uc != nil || n == t {
			return fmt.Errorf("concat source %s is not a closed file", p)
		}
		srcs = append(srcs, n)
	}
	before := t.storageSpace()
	for _, n := range srcs {
		// The blocks move to the target (they stay complete blocks of the
		// namespace); the emptied source is then deleted.
		t.blocks = append(t.blocks, n.blocks...)
		addUsage(n.parent, 0, -n.storageSpace())
		n.blocks = nil
		ns.detach(n, o.Mtime)
	}
	t.mtime = o.Mtime
	addUsage(t.parent, 0, t.storageSpace()-before)
	ns.emit(t)
	return nil
}
