package namespace

import (
	"context"
	"slices"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hdfspath"
)

// Mkdirs creates path and any missing parents (mkdir -p). mode < 0 means the
// default 755. Parents get the mode with u+wx added, as HDFS does.
func (ns *Namespace) Mkdirs(ctx context.Context, u *User, path string, mode int) error {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return err
	}
	if err := hdfspath.CheckPathLength("mkdirs", path, len(comps)); err != nil {
		return err
	}
	if mode < 0 {
		mode = DefaultDirMode
	}
	return ns.mutate(ctx, "Cannot create directory "+path, func(t *tx) error {
		ip, notDir := ns.resolve(comps)
		if notDir >= 0 {
			return errs.E(errs.ParentNotDirectory, "Parent path is not a directory: %s", hdfspath.Join(comps[:notDir]))
		}
		if last := ip[len(ip)-1]; last != nil {
			if last.dir == nil {
				return errs.E(errs.FileAlreadyExists, "Path is not a directory: %s", path)
			}
			return ns.checkPermission(u, ip, check{})
		}
		if err := ns.checkPermission(u, ip, check{ancestor: actWrite}); err != nil {
			return err
		}
		return ns.createMissingDirs(t, u, comps, ip, uint16(mode), true)
	})
}

// createMissingDirs logs a Mkdir for every missing component of comps; the
// last gets mode when lastToo, the others mode|0300. Its cost is linear in
// the number of levels: the quota is checked once for all the new
// directories, each one's path is a prefix of the full path, and applying
// each Mkdir finds its parent without resolving the path again.
func (ns *Namespace) createMissingDirs(t *tx, u *User, comps []string, ip []*Inode, mode uint16, lastToo bool) error {
	end := len(comps)
	if !lastToo {
		end--
	}
	full := hdfspath.Join(comps)
	prefix, quotaChecked := 0, false // prefix: the length of full's path so far
	for i := 0; i < end; i++ {
		prefix += 1 + len(comps[i])
		if ip[i+1] != nil {
			continue
		}
		parent := ip[i]
		if !quotaChecked {
			// Every level from here on is new.
			if err := checkQuota(parent, nil, int64(end-i), 0); err != nil {
				return err
			}
			quotaChecked = true
		}
		if err := ns.checkName(parent, comps[i]); err != nil {
			return err
		}
		m := mode
		if i < len(comps)-1 {
			m |= 0o300
		}
		now := ns.millis()
		op := &Mkdir{
			InodeID: ns.lastInodeID + 1, Path: full[:prefix],
			Owner: u.Name, Group: ns.strings.name(parent.group), Mode: m, Mtime: now,
		}
		if err := t.log(op); err != nil {
			return err
		}
		ip[i+1] = parent.dir.child(comps[i])
	}
	return nil
}

// checkNewChild checks the limits a new entry name in parent must meet.
func (ns *Namespace) checkNewChild(parent *Inode, name string) error {
	if err := ns.checkName(parent, name); err != nil {
		return err
	}
	return checkQuota(parent, nil, 1, 0)
}

// checkName checks name's length and parent's item limit; parent's path is
// built only for the error.
func (ns *Namespace) checkName(parent *Inode, name string) error {
	if len(name) > hdfspath.MaxComponentLength {
		return hdfspath.CheckComponentLength(parent.path(), name)
	}
	return checkItems(parent)
}

// CreateOptions are the parameters of Create.
type CreateOptions struct {
	Overwrite     bool
	CreateParent  bool
	Replication   int   // 0 = default
	BlockSize     int64 // 0 = default
	Mode          int   // < 0 = 644
	ClientName    string
	ClientMachine string
}

// Create makes a new file under construction, leased to opts.ClientName
// (HDFS's startFile). The file is closed by Complete.
func (ns *Namespace) Create(ctx context.Context, u *User, path string, opts CreateOptions) (Status, error) {
	r, err := ns.create(ctx, u, path, opts, false)
	return r.st, err
}

// CreateWithBlock is Create followed by AddBlock of the first block, both
// logged in one commit: a small file's write costs one durable commit
// less. The block is nil when the first block cannot be allocated (a
// space quota): the file is created all the same and the caller's addBlock
// reports the refusal, as after HDFS's create.
//
// A create retried with the same CallID after it was applied (also by the
// previous active) is answered from the retry cache; then the block is nil
// unless this service allocated it, and the client's addBlock finds it.
func (ns *Namespace) CreateWithBlock(ctx context.Context, u *User, path string, opts CreateOptions) (Status, *Block, error) {
	r, err := ns.create(ctx, u, path, opts, true)
	return r.st, r.first, err
}

// createResult is a create's answer, kept in the retry cache.
type createResult struct {
	st    Status
	first *Block
}

func (ns *Namespace) create(ctx context.Context, u *User, path string, opts CreateOptions, withBlock bool) (createResult, error) {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return createResult{}, err
	}
	if err := hdfspath.CheckPathLength("create", path, len(comps)); err != nil {
		return createResult{}, err
	}
	if len(comps) == 0 {
		return createResult{}, errs.E(errs.FileAlreadyExists, "/ already exists as a directory")
	}
	if opts.Replication == 0 {
		opts.Replication = DefaultReplication
	}
	if opts.BlockSize == 0 {
		opts.BlockSize = DefaultBlockSize
	}
	if opts.Mode < 0 {
		opts.Mode = DefaultFileMode
	}
	if err := verifyReplication(path, opts.Replication); err != nil {
		return createResult{}, err
	}
	if opts.BlockSize < ns.minBlockSize() {
		return createResult{}, errs.E(errs.IO, "Specified block size is less than configured minimum value (dfs.namenode.fs-limits.min-block-size): %d < %d", opts.BlockSize, ns.minBlockSize())
	}
	return atMostOnce(ctx, ns, func(ctx context.Context, call CallID) (createResult, error) {
		var r createResult
		err := ns.mutate(ctx, "Cannot create file "+path, func(t *tx) error {
			return ns.logCreate(t, u, comps, path, opts, withBlock, call, &r)
		})
		return r, err
	})
}

// logCreate logs the creation of the file at comps (and its first block
// when withBlock), leaving the answer in r.
func (ns *Namespace) logCreate(t *tx, u *User, comps []string, path string, opts CreateOptions, withBlock bool, call CallID, r *createResult) error {
	ip, notDir := ns.resolve(comps)
	if notDir >= 0 {
		return errs.E(errs.ParentNotDirectory, "Parent path is not a directory: %s", hdfspath.Join(comps[:notDir]))
	}
	existing := ip[len(ip)-1]
	if existing != nil {
		if existing.dir != nil {
			return errs.E(errs.FileAlreadyExists, "%s already exists as a directory", path)
		}
		if existing.uc != nil {
			return leaseConflict("CREATE_FILE", path, opts.ClientName, opts.ClientMachine, existing)
		}
		if !opts.Overwrite {
			return errs.E(errs.FileAlreadyExists, "%s for client %s already exists", path, opts.ClientMachine)
		}
		if err := ns.checkPermission(u, ip, check{access: actWrite}); err != nil {
			return err
		}
		if err := ns.checkSticky(u, existing.parent, existing); err != nil {
			return err
		}
	}
	if ip[len(ip)-2] == nil && !opts.CreateParent {
		return errs.E(errs.FileNotFound, "Parent directory doesn't exist: %s", hdfspath.Join(comps[:len(comps)-1]))
	}
	if err := ns.checkPermission(u, ip, check{ancestor: actWrite}); err != nil {
		return err
	}
	if err := ns.createMissingDirs(t, u, comps, ip, DefaultDirMode, false); err != nil {
		return err
	}
	parent := ip[len(ip)-2]
	if existing == nil {
		if err := ns.checkNewChild(parent, comps[len(comps)-1]); err != nil {
			return err
		}
	}
	now := ns.millis()
	op := &Add{
		InodeID: ns.lastInodeID + 1, Path: hdfspath.Join(comps), Replication: uint16(opts.Replication),
		Mtime: now, Atime: now, BlockSize: opts.BlockSize,
		Owner: u.Name, Group: ns.strings.name(parent.group), Mode: uint16(opts.Mode),
		ClientName: opts.ClientName, ClientMachine: opts.ClientMachine, Overwrite: existing != nil, RPC: call,
	}
	if err := t.log(op); err != nil {
		return err
	}
	n := parent.dir.child(comps[len(comps)-1])
	if withBlock {
		b, err := ns.logAddBlock(t, n, comps, nil)
		switch {
		case err == nil:
			r.first = &b
		case !errs.Is(err, errs.DSQuotaExceeded):
			return err
		}
	}
	r.st = ns.status(n, "")
	return nil
}

func verifyReplication(path string, r int) error {
	if r < 1 {
		return errs.E(errs.IO, "Requested replication factor of %d is less than the required minimum of 1 for %s", r, path)
	}
	if r > MaxReplication {
		return errs.E(errs.IO, "Requested replication factor of %d exceeds maximum of %d for %s", r, MaxReplication, path)
	}
	return nil
}

// Complete closes a file under construction held by clientName
// (ClientProtocol.complete). last is the client's last block with its final
// length (nil for a file without blocks); it must be the file's last block.
// The caller has checked that the last block has replication.min reported
// replicas.
func (ns *Namespace) Complete(ctx context.Context, u *User, path, clientName string, last *Block) error {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return err
	}
	return ns.mutate(ctx, "Cannot complete file "+path, func(t *tx) error {
		n, err := ns.leaseHolder(comps, path, clientName)
		if err != nil {
			if _, f, ferr := ns.existingFile(comps, path); ferr == nil && f.uc == nil && isLastBlock(f, last) {
				// A retry of the complete that closed the file, whose
				// answer the client missed (HDFS-3031): success.
				return nil
			}
			return err
		}
		blocks := append([]Block(nil), n.blocks...)
		k := len(blocks)
		switch {
		case last == nil && k > 0:
			return errs.E(errs.IO, "complete of %s without its last block %d", path, blocks[k-1].ID)
		case last != nil && (k == 0 || blocks[k-1].ID != last.ID):
			return errs.E(errs.IO, "complete of %s: block %d is not the file's last block", path, last.ID)
		case last != nil && last.GenStamp != blocks[k-1].GenStamp:
			return errs.E(errs.IO, "Commit block with mismatching GS. NN has blk_%d_%d, client submits blk_%d_%d",
				blocks[k-1].ID, blocks[k-1].GenStamp, last.ID, last.GenStamp)
		case last != nil && (last.NumBytes < 0 || last.NumBytes > n.blockSize):
			return errs.E(errs.IllegalArgument, "last block length %d out of range [0, %d]", last.NumBytes, n.blockSize)
		}
		if last != nil {
			blocks[k-1].NumBytes = last.NumBytes
		}
		return t.log(&Close{Path: hdfspath.Join(comps), Mtime: ns.millis(), Atime: n.atime, Blocks: blocks})
	})
}

// isLastBlock reports whether last (nil: none) is n's last block, by ID
// and generation stamp.
func isLastBlock(n *Inode, last *Block) bool {
	k := len(n.blocks)
	if last == nil || k == 0 {
		return last == nil && k == 0
	}
	return n.blocks[k-1].ID == last.ID && n.blocks[k-1].GenStamp == last.GenStamp
}

// Delete removes path; a non-empty directory only when recursive. It
// reports false when path does not exist or is the root.
func (ns *Namespace) Delete(ctx context.Context, u *User, path string, recursive bool) (bool, error) {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return false, err
	}
	return atMostOnce(ctx, ns, func(ctx context.Context, call CallID) (bool, error) {
		deleted := false
		err := ns.mutate(ctx, "Cannot delete "+path, func(t *tx) error {
			var err error
			deleted, err = ns.logDelete(t, u, comps, path, recursive, call)
			return err
		})
		return deleted, err
	})
}

// logDelete logs the deletion of comps, reporting false when there was
// nothing to delete.
func (ns *Namespace) logDelete(t *tx, u *User, comps []string, path string, recursive bool, call CallID) (bool, error) {
	ip, _ := ns.resolve(comps)
	n := ip[len(ip)-1]
	if n == nil || len(comps) == 0 {
		return false, ns.checkPermission(u, ip, check{})
	}
	if !recursive && n.dir != nil && len(n.dir.children) > 0 {
		return false, errs.E(errs.PathIsNotEmptyDirectory, "`%s is non empty': Directory is not empty", path)
	}
	if err := ns.checkPermission(u, ip, check{parent: actWrite, sub: actAll}); err != nil {
		return false, err
	}
	if err := ns.checkSticky(u, n.parent, n); err != nil {
		return false, err
	}
	if err := t.log(&Delete{Path: hdfspath.Join(comps), Mtime: ns.millis(), RPC: call}); err != nil {
		return false, err
	}
	return true, nil
}

// Rename moves src to dst with the semantics of HDFS's old rename (the one
// WebHDFS RENAME uses): when dst is a directory src moves into it; a missing
// source, an existing destination, a missing destination parent or a move
// into its own subtree change nothing and report false.
func (ns *Namespace) Rename(ctx context.Context, u *User, src, dst string) (bool, error) {
	sc, err := hdfspath.Split(src)
	if err != nil {
		return false, err
	}
	dc, err := hdfspath.Split(dst)
	if err != nil {
		return false, err
	}
	if err := hdfspath.CheckPathLength("rename", dst, len(dc)); err != nil {
		return false, err
	}
	return atMostOnce(ctx, ns, func(ctx context.Context, call CallID) (bool, error) {
		renamed := false
		err := ns.mutate(ctx, "Cannot rename "+src, func(t *tx) error {
			var err error
			renamed, err = ns.logRename(t, u, sc, dc, call)
			return err
		})
		return renamed, err
	})
}

// logRename logs the move of sc to dc (into it when it is a directory),
// reporting false when the rename changes nothing.
func (ns *Namespace) logRename(t *tx, u *User, sc, dc []string, call CallID) (bool, error) {
	sip, _ := ns.resolve(sc)
	n := sip[len(sip)-1]
	if err := ns.checkPermission(u, sip, check{parent: actWrite}); err != nil {
		return false, err
	}
	if n == nil || len(sc) == 0 {
		return false, nil
	}
	dip, _ := ns.resolve(dc)
	if d := dip[len(dip)-1]; d != nil && d.dir != nil && d != n {
		dc = append(dc[:len(dc):len(dc)], n.name)
		dip, _ = ns.resolve(dc)
	}
	if slices.Equal(dc, sc) {
		return true, nil
	}
	if hdfspath.IsAncestor(sc, dc) || dip[len(dip)-1] != nil {
		return false, nil
	}
	dparent := dip[len(dip)-2]
	if dparent == nil || dparent.dir == nil {
		return false, nil
	}
	if err := ns.checkPermission(u, dip, check{ancestor: actWrite}); err != nil {
		return false, err
	}
	if err := ns.checkSticky(u, n.parent, n); err != nil {
		return false, err
	}
	if name := dc[len(dc)-1]; len(name) > hdfspath.MaxComponentLength {
		// The parent's path is built only for the error.
		return false, hdfspath.CheckComponentLength(dparent.path(), name)
	}
	if dparent != n.parent {
		if err := checkItems(dparent); err != nil {
			return false, err
		}
	}
	c, ds := count(n)
	if err := checkQuota(dparent, commonAncestor(n.parent, dparent), c, ds); err != nil {
		return false, err
	}
	if err := t.log(&RenameOld{Src: hdfspath.Join(sc), Dst: hdfspath.Join(dc), Mtime: ns.millis(), RPC: call}); err != nil {
		return false, err
	}
	return true, nil
}

func commonAncestor(a, b *Inode) *Inode {
	seen := map[*Inode]bool{}
	for x := a; x != nil; x = x.parent {
		seen[x] = true
	}
	for y := b; y != nil; y = y.parent {
		if seen[y] {
			return y
		}
	}
	return nil
}

// existing resolves path for a setter: the path must exist.
func (ns *Namespace) existing(comps []string, path string) ([]*Inode, *Inode, error) {
	ip, _ := ns.resolve(comps)
	n := ip[len(ip)-1]
	if n == nil {
		return ip, nil, errs.E(errs.FileNotFound, "File does not exist: %s", path)
	}
	return ip, n, nil
}

// existingFile resolves path to a file that must exist.
func (ns *Namespace) existingFile(comps []string, path string) ([]*Inode, *Inode, error) {
	ip, n, err := ns.existing(comps, path)
	if err == nil && n.dir != nil {
		err = errs.E(errs.FileNotFound, "Path is not a file: %s", path)
	}
	return ip, n, err
}

// SetPermission sets the mode bits (owner or superuser only).
func (ns *Namespace) SetPermission(ctx context.Context, u *User, path string, mode uint16) error {
	return ns.setter(ctx, u, path, "Cannot set permission for "+path, check{owner: true}, func(n *Inode, p string) (Op, error) {
		return &SetPermissions{Path: p, Mode: mode & 0o1777}, nil
	})
}

// SetOwner changes owner and/or group. Only the superuser may change the
// owner; the owner may change the group to one of its own groups.
func (ns *Namespace) SetOwner(ctx context.Context, u *User, path, owner, group string) error {
	if owner == "" && group == "" {
		return errs.E(errs.IllegalArgument, "Both owner and group are empty.")
	}
	return ns.setter(ctx, u, path, "Cannot set owner for "+path, check{owner: true}, func(n *Inode, p string) (Op, error) {
		if !ns.isSuper(u) {
			if owner != "" && owner != u.Name {
				return nil, errs.E(errs.AccessControl, "User %s is not a super user (non-super user cannot change owner).", u.Name)
			}
			if group != "" && !u.inGroup(group) {
				return nil, errs.E(errs.AccessControl, "User %s does not belong to %s", u.Name, group)
			}
		}
		return &SetOwner{Path: p, Owner: owner, Group: group}, nil
	})
}

// SetTimes sets modification and/or access time; -1 leaves one unchanged.
func (ns *Namespace) SetTimes(ctx context.Context, u *User, path string, mtime, atime int64) error {
	return ns.setter(ctx, u, path, "Cannot set times "+path, check{access: actWrite}, func(n *Inode, p string) (Op, error) {
		return &Times{Path: p, Mtime: mtime, Atime: atime}, nil
	})
}

// SetQuota sets a directory's namespace and storage-space quotas
// (superuser only). QuotaDontSet leaves one; QuotaReset clears it.
func (ns *Namespace) SetQuota(ctx context.Context, u *User, path string, nsQuota, dsQuota int64) error {
	if !ns.isSuper(u) {
		return errs.E(errs.AccessControl, "Access denied for user %s. Superuser privilege is required", u.Name)
	}
	if (nsQuota <= 0 && nsQuota != QuotaReset) || (dsQuota < 0 && dsQuota != QuotaReset) {
		return errs.E(errs.IllegalArgument, "Invalid values for quota : %d and %d", nsQuota, dsQuota)
	}
	comps, err := hdfspath.Split(path)
	if err != nil {
		return err
	}
	if len(comps) == 0 && nsQuota == QuotaReset {
		return errs.E(errs.IllegalArgument, "Cannot clear namespace quota on root.")
	}
	return ns.mutate(ctx, "Cannot set quota on "+path, func(t *tx) error {
		ip, _ := ns.resolve(comps)
		n := ip[len(ip)-1]
		if n == nil {
			return errs.E(errs.FileNotFound, "Directory does not exist: %s", path)
		}
		if n.dir == nil {
			return errs.E(errs.PathIsNotDirectory, "`%s': Is not a directory", path)
		}
		return t.log(&SetQuota{Path: hdfspath.Join(comps), NS: nsQuota, DS: dsQuota})
	})
}

// SetReplication sets a file's replication; false for a directory or a
// missing path, as HDFS answers.
func (ns *Namespace) SetReplication(ctx context.Context, u *User, path string, repl int) (bool, error) {
	if err := verifyReplication(path, repl); err != nil {
		return false, err
	}
	comps, err := hdfspath.Split(path)
	if err != nil {
		return false, err
	}
	ok := false
	err = ns.mutate(ctx, "Cannot set replication for "+path, func(t *tx) error {
		ip, _ := ns.resolve(comps)
		if err := ns.checkPermission(u, ip, check{access: actWrite}); err != nil {
			return err
		}
		n := ip[len(ip)-1]
		if n == nil || n.dir != nil {
			return nil
		}
		before := n.storageSpace()
		after := before / int64(n.repl) * int64(repl)
		if err := checkQuota(n.parent, nil, 0, after-before); err != nil {
			return err
		}
		if err := t.log(&SetReplication{Path: hdfspath.Join(comps), Replication: uint16(repl)}); err != nil {
			return err
		}
		ok = true
		return nil
	})
	return ok, err
}

// setter runs a single-op change of an existing path after check c.
func (ns *Namespace) setter(ctx context.Context, u *User, path, what string, c check, build func(n *Inode, p string) (Op, error)) error {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return err
	}
	return ns.mutate(ctx, what, func(t *tx) error {
		ip, n, err := ns.existing(comps, path)
		if err != nil {
			return err
		}
		if err := ns.checkPermission(u, ip, c); err != nil {
			return err
		}
		op, err := build(n, hdfspath.Join(comps))
		if err != nil {
			return err
		}
		return t.log(op)
	})
}
