package namespace

import (
	"context"
	"sort"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hdfspath"
)

// MaxBlocksPerFile is dfs.namenode.fs-limits.max-blocks-per-file.
const MaxBlocksPerFile = 10000

// leaseHolder resolves a file under construction held by clientName, as
// HDFS's checkLease.
func (ns *Namespace) leaseHolder(comps []string, path, clientName string) (*Inode, error) {
	_, n, err := ns.existingFile(comps, path)
	if err != nil {
		return nil, err
	}
	if n.uc == nil {
		return nil, errs.E(errs.LeaseExpired, "No lease on %s (inode %d): File is not open for writing.", path, n.id)
	}
	if n.uc.clientName != clientName {
		return nil, errs.E(errs.LeaseExpired, "Client (=%s) is not the lease owner (=%s) of %s", clientName, n.uc.clientName, path)
	}
	return n, nil
}

// AddBlock allocates the next block of a file under construction
// (ClientProtocol.addBlock). previous is the client's last block with its
// final length (nil for the first block); it must be the file's last block.
// It returns the new block with its ID and generation stamp.
func (ns *Namespace) AddBlock(ctx context.Context, path, clientName string, previous *Block) (Block, error) {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return Block{}, err
	}
	var nb Block
	err = ns.mutate(ctx, "Cannot add block to "+path, func(t *tx) error {
		n, err := ns.leaseHolder(comps, path, clientName)
		if err != nil {
			return err
		}
		nb, err = ns.logAddBlock(t, n, comps, previous)
		return err
	})
	return nb, err
}

// logAddBlock logs the allocation of the next block of n, a file under
// construction at comps, after previous (nil for the first block).
func (ns *Namespace) logAddBlock(t *tx, n *Inode, comps []string, previous *Block) (Block, error) {
	path := hdfspath.Join(comps)
	k := len(n.blocks)
	if k > 0 && n.blocks[k-1].NumBytes == 0 &&
		((previous == nil && k == 1) || (previous != nil && k > 1 && n.blocks[k-2].ID == previous.ID && n.blocks[k-2].GenStamp == previous.GenStamp)) {
		// A retry of the addBlock that allocated the last block, whose
		// answer the client missed (a lost connection, a failover, or a
		// create answered from the retry cache without its first block):
		// nothing was written to it, so it is answered again (HDFS's
		// analyzeFileState, "caught retry for allocation of a new block").
		return n.blocks[k-1], nil
	}
	switch {
	case previous == nil && k > 0:
		return Block{}, errs.E(errs.IO, "addBlock on %s without the previous block %d", path, n.blocks[k-1].ID)
	case previous != nil && (k == 0 || n.blocks[k-1].ID != previous.ID):
		return Block{}, errs.E(errs.IO, "addBlock on %s: previous block %d is not the file's last block", path, previous.ID)
	case previous != nil && (previous.NumBytes < 0 || previous.NumBytes > n.blockSize):
		return Block{}, errs.E(errs.IllegalArgument, "previous block length %d out of range [0, %d]", previous.NumBytes, n.blockSize)
	case k >= MaxBlocksPerFile:
		return Block{}, errs.E(errs.IO, "File has reached the limit on maximum number of blocks (dfs.namenode.fs-limits.max-blocks-per-file): %d >= %d", k, MaxBlocksPerFile)
	}
	// The new block counts at its full size until it is committed.
	delta := n.blockSize * int64(n.repl)
	if previous != nil {
		delta -= (n.blockSize - previous.NumBytes) * int64(n.repl)
	}
	if err := checkQuota(n.parent, nil, 0, delta); err != nil {
		return Block{}, err
	}
	op := &AddBlock{Path: path, Last: Block{ID: ns.lastBlockID + 1, GenStamp: ns.genStamp + 1}}
	if previous != nil {
		p := n.blocks[k-1]
		p.NumBytes = previous.NumBytes
		op.Penultimate = &p
	}
	return op.Last, t.log(op)
}

// AbandonBlock drops the last block of a file under construction
// (ClientProtocol.abandonBlock), after a failed pipeline set-up.
func (ns *Namespace) AbandonBlock(ctx context.Context, path, clientName string, blockID int64) error {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return err
	}
	return ns.mutate(ctx, "Cannot abandon block of "+path, func(t *tx) error {
		n, err := ns.heldLastBlock(comps, path, clientName, blockID)
		if err != nil {
			return err
		}
		return t.log(&UpdateBlocks{Path: hdfspath.Join(comps), Blocks: append([]Block(nil), n.blocks[:len(n.blocks)-1]...)})
	})
}

// heldLastBlock resolves a file under construction held by clientName whose
// last block is blockID.
func (ns *Namespace) heldLastBlock(comps []string, path, clientName string, blockID int64) (*Inode, error) {
	n, err := ns.leaseHolder(comps, path, clientName)
	if err != nil {
		return nil, err
	}
	if k := len(n.blocks); k == 0 || n.blocks[k-1].ID != blockID {
		return nil, errs.E(errs.IO, "Block %d is not the last block of %s", blockID, path)
	}
	return n, nil
}

// UpdateBlockForPipeline issues a new generation stamp for blockID, the
// last block of a file under construction held by clientName, after its
// pipeline failed (ClientProtocol.updateBlockForPipeline). The surviving
// datanodes take the block under the new stamp, so that replicas left on
// the failed ones are recognisably stale; UpdatePipeline then records it.
func (ns *Namespace) UpdateBlockForPipeline(ctx context.Context, path, clientName string, blockID int64) (Block, error) {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return Block{}, err
	}
	var nb Block
	err = ns.mutate(ctx, "Cannot update the pipeline of "+path, func(t *tx) error {
		n, err := ns.heldLastBlock(comps, path, clientName, blockID)
		if err != nil {
			return err
		}
		nb = n.blocks[len(n.blocks)-1]
		nb.GenStamp = ns.genStamp + 1
		return t.log(&SetGenstamp{GenStamp: nb.GenStamp})
	})
	return nb, err
}

// UpdatePipeline records the new generation stamp (and length) of the last
// block of a file under construction once the surviving pipeline holds it
// (ClientProtocol.updatePipeline). old must be the block as the namespace
// knows it; updated must carry a stamp issued by UpdateBlockForPipeline.
func (ns *Namespace) UpdatePipeline(ctx context.Context, path, clientName string, old, updated Block) error {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return err
	}
	_, err = atMostOnce(ctx, ns, func(ctx context.Context, call CallID) (struct{}, error) {
		return struct{}{}, ns.mutate(ctx, "Cannot update the pipeline of "+path, func(t *tx) error {
			return ns.logUpdatePipeline(t, comps, path, clientName, old, updated, call)
		})
	})
	return err
}

func (ns *Namespace) logUpdatePipeline(t *tx, comps []string, path, clientName string, old, updated Block, call CallID) error {
	n, err := ns.heldLastBlock(comps, path, clientName, old.ID)
	if err != nil {
		return err
	}
	k := len(n.blocks)
	switch {
	case updated.ID != old.ID:
		return errs.E(errs.IllegalArgument, "updatePipeline of block %d to block %d", old.ID, updated.ID)
	case n.blocks[k-1].GenStamp != old.GenStamp:
		cur := n.blocks[k-1]
		return errs.E(errs.IO, "blk_%d_%d is not the current state of the last block of %s: blk_%d_%d",
			old.ID, old.GenStamp, path, cur.ID, cur.GenStamp)
	case updated.GenStamp <= old.GenStamp || updated.GenStamp > ns.genStamp:
		return errs.E(errs.IO, "Generation stamp %d of block %d was not issued by updateBlockForPipeline", updated.GenStamp, old.ID)
	case updated.NumBytes < 0 || updated.NumBytes > n.blockSize:
		return errs.E(errs.IllegalArgument, "block length %d out of range [0, %d]", updated.NumBytes, n.blockSize)
	}
	blocks := append([]Block(nil), n.blocks...)
	blocks[k-1] = updated
	return t.log(&UpdateBlocks{Path: hdfspath.Join(comps), Blocks: blocks, RPC: call})
}

// LastBlock returns the last block of a file under construction held by
// clientName (what complete must see replicated first).
func (ns *Namespace) LastBlock(path, clientName string) (*Block, error) {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return nil, err
	}
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	n, err := ns.leaseHolder(comps, path, clientName)
	if err != nil {
		return nil, err
	}
	if len(n.blocks) == 0 {
		return nil, nil
	}
	b := n.blocks[len(n.blocks)-1]
	return &b, nil
}

// Blocks returns every block of the namespace, sorted by ID: the inventory
// the coordinator loads its block map from.
func (ns *Namespace) Blocks() []BlockChange {
	ns.mu.RLock()
	out := make([]BlockChange, 0, ns.blocks.Load()+64)
	for _, n := range ns.inodes {
		if n.dir != nil {
			continue
		}
		for i, b := range n.blocks {
			out = append(out, BlockChange{
				ID: b.ID, GenStamp: b.GenStamp, NumBytes: b.NumBytes, Replication: n.repl,
				Complete: n.blockComplete(i), InodeID: n.id,
			})
		}
	}
	ns.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Append reopens a closed file for writing by clientName
// (ClientProtocol.append with NEW_BLOCK): WRITE is needed on the file.
func (ns *Namespace) Append(ctx context.Context, u *User, path, clientName, clientMachine string) (Status, error) {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return Status{}, err
	}
	return atMostOnce(ctx, ns, func(ctx context.Context, call CallID) (st Status, err error) {
		err = ns.mutate(ctx, "Cannot append to file "+path, func(t *tx) error {
			st, err = ns.logAppend(t, u, comps, path, clientName, clientMachine, call)
			return err
		})
		return st, err
	})
}

func (ns *Namespace) logAppend(t *tx, u *User, comps []string, path, clientName, clientMachine string, call CallID) (Status, error) {
	ip, n, err := ns.existingFile(comps, path)
	if err != nil {
		return Status{}, err
	}
	if err := ns.checkPermission(u, ip, check{access: actWrite}); err != nil {
		return Status{}, err
	}
	if n.uc != nil {
		return Status{}, leaseConflict("APPEND_FILE", path, clientName, clientMachine, n)
	}
	// A partial last block becomes under construction again and counts
	// at its full size (HDFS's verifyQuotaForUCBlock).
	if k := len(n.blocks); k > 0 && n.blocks[k-1].NumBytes < n.blockSize {
		if err := checkQuota(n.parent, nil, 0, (n.blockSize-n.blocks[k-1].NumBytes)*int64(n.repl)); err != nil {
			return Status{}, err
		}
	}
	if err := t.log(&AppendOp{Path: hdfspath.Join(comps), ClientName: clientName, ClientMachine: clientMachine, RPC: call}); err != nil {
		return Status{}, err
	}
	return ns.status(n, ""), nil
}

// UnderConstruction returns the files under construction by lease holder.
func (ns *Namespace) UnderConstruction() map[string][]string {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	out := map[string][]string{}
	for _, n := range ns.inodes {
		if n.uc != nil {
			out[n.uc.clientName] = append(out[n.uc.clientName], n.path())
		}
	}
	return out
}

// LeaseOf returns the holder of a file under construction ("" when the file
// is closed) and its blocks, and whether its last block is still being
// written (its length is not known to the namespace).
func (ns *Namespace) LeaseOf(path string) (holder string, blocks []Block, lastOpen bool, err error) {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return "", nil, false, err
	}
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	ip, _ := ns.resolve(comps)
	n := ip[len(ip)-1]
	if n == nil || n.dir != nil {
		return "", nil, false, errs.E(errs.FileNotFound, "File does not exist: %s", path)
	}
	if n.uc == nil {
		return "", nil, false, nil
	}
	return n.uc.clientName, append([]Block(nil), n.blocks...), len(n.blocks) > 0 && !n.uc.lastComplete, nil
}

// RecoverLease closes a file whose lease holder is gone (HDFS's
// internalReleaseLease): blocks are the file's blocks as recovered from the
// datanodes (the last one with the length they hold, or dropped when no
// datanode holds it). It changes nothing when the file is no longer held
// by holder.
func (ns *Namespace) RecoverLease(ctx context.Context, path, holder string, blocks []Block) error {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return err
	}
	return ns.mutate(ctx, "Cannot recover the lease of "+path, func(t *tx) error {
		ip, _ := ns.resolve(comps)
		n := ip[len(ip)-1]
		if n == nil || n.dir != nil || n.uc == nil || n.uc.clientName != holder {
			return nil
		}
		for i, b := range blocks {
			if i >= len(n.blocks) || n.blocks[i].ID != b.ID {
				return errs.E(errs.IO, "lease recovery of %s: block list changed", path)
			}
		}
		if len(blocks) < len(n.blocks) {
			if err := t.log(&UpdateBlocks{Path: hdfspath.Join(comps), Blocks: blocks}); err != nil {
				return err
			}
		}
		return t.log(&Close{Path: hdfspath.Join(comps), Mtime: ns.millis(), Atime: n.atime, Blocks: blocks})
	})
}

// Concat moves the blocks of sources to the end of target and deletes the
// sources (ClientProtocol.concat). As HDFS: the target and the sources are
// closed files in one directory, the sources distinct and not the target;
// WRITE is needed on the directory and READ on the sources.
func (ns *Namespace) Concat(ctx context.Context, u *User, target string, sources []string) error {
	tc, err := hdfspath.Split(target)
	if err != nil {
		return err
	}
	if len(sources) == 0 {
		return errs.E(errs.IllegalArgument, "Concat: no sources given")
	}
	_, err = atMostOnce(ctx, ns, func(ctx context.Context, call CallID) (struct{}, error) {
		return struct{}{}, ns.mutate(ctx, "Cannot concat "+target, func(t *tx) error {
			return ns.logConcat(t, u, tc, target, sources, call)
		})
	})
	return err
}

func (ns *Namespace) logConcat(t *tx, u *User, tc []string, target string, sources []string, call CallID) error {
	tip, _ := ns.resolve(tc)
	tn := tip[len(tip)-1]
	if tn == nil {
		return errs.E(errs.FileNotFound, "File does not exist: %s", target)
	}
	if tn.dir != nil || tn.uc != nil {
		return errs.E(errs.IllegalArgument, "concat: target file %s is not a closed file", target)
	}
	if err := ns.checkPermission(u, tip, check{access: actWrite, parent: actWrite}); err != nil {
		return err
	}
	seen := map[*Inode]bool{}
	var paths []string
	for _, src := range sources {
		sc, err := hdfspath.Split(src)
		if err != nil {
			return err
		}
		sip, _ := ns.resolve(sc)
		sn := sip[len(sip)-1]
		switch {
		case sn == nil:
			return errs.E(errs.FileNotFound, "File does not exist: %s", src)
		case sn == tn:
			return errs.E(errs.IllegalArgument, "concat: the target file %s is among the sources", target)
		case seen[sn]:
			return errs.E(errs.IllegalArgument, "concat: %s is given twice", src)
		case sn.dir != nil || sn.uc != nil:
			return errs.E(errs.IllegalArgument, "concat: source file %s is invalid or empty or underConstruction", src)
		case sn.parent != tn.parent:
			return errs.E(errs.IllegalArgument, "Source file %s is not in the same directory with the target %s", src, target)
		}
		if err := ns.checkPermission(u, sip, check{access: actRead, parent: actWrite}); err != nil {
			return err
		}
		seen[sn] = true
		paths = append(paths, hdfspath.Join(sc))
	}
	return t.log(&ConcatDelete{Target: hdfspath.Join(tc), Sources: paths, Mtime: ns.millis(), RPC: call})
}

// Truncate cuts a closed file to newLength for clientName
// (ClientProtocol.truncate), in one edit. On a block boundary it is done
// and Truncate returns true. Otherwise the block holding the new end
// keeps its ID and takes its new length, and its replicas are to be cut
// in place under a new generation stamp (HDFS's in-place truncate): the
// file stays under construction by clientName until CommitTruncate, and
// Truncate returns false, as HDFS's does when the client must wait for the
// block's recovery.
func (ns *Namespace) Truncate(ctx context.Context, u *User, path string, newLength int64, clientName, clientMachine string) (done bool, err error) {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return false, err
	}
	done = true
	err = ns.mutate(ctx, "Cannot truncate "+path, func(t *tx) error {
		ip, n, err := ns.existingFile(comps, path)
		if err != nil {
			return err
		}
		if err := ns.checkPermission(u, ip, check{access: actWrite}); err != nil {
			return err
		}
		if n.uc != nil {
			return leaseConflict("TRUNCATE_FILE", path, clientName, clientMachine, n)
		}
		length := n.length()
		if newLength > length {
			return errs.E(errs.IllegalArgument, "Cannot truncate to a larger file size. Current size: %d, truncate size: %d.", length, newLength)
		}
		if newLength == length {
			return nil
		}
		op := &Truncate{Path: hdfspath.Join(comps), Mtime: ns.millis()}
		var pos int64
		for _, b := range n.blocks {
			if pos+b.NumBytes <= newLength {
				op.Blocks = append(op.Blocks, b)
				pos += b.NumBytes
				continue
			}
			if pos < newLength {
				b.NumBytes = newLength - pos
				op.Blocks = append(op.Blocks, b)
				op.ClientName, op.ClientMachine, op.RecoveryGS = clientName, clientMachine, ns.genStamp+1
				done = false
			}
			break
		}
		return t.log(op)
	})
	return done, err
}

// TruncateRecovery is a truncate whose cut block is being recovered: the
// block as the namespace has it (its new length, its old stamp) and the
// stamp its replicas take.
type TruncateRecovery struct {
	Path     string
	Block    Block
	NewStamp int64
}

// Truncating returns the truncate recoveries in progress (from an index:
// the lease monitor asks every few seconds).
func (ns *Namespace) Truncating() []TruncateRecovery {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	var out []TruncateRecovery
	for n := range ns.truncating {
		if n.uc != nil && n.uc.truncateGS != 0 && len(n.blocks) > 0 {
			out = append(out, TruncateRecovery{Path: n.path(), Block: n.blocks[len(n.blocks)-1], NewStamp: n.uc.truncateGS})
		}
	}
	return out
}

// TruncatingOf returns the truncate recovery of path, if one is in
// progress.
func (ns *Namespace) TruncatingOf(path string) (TruncateRecovery, bool) {
	comps, err := hdfspath.Split(path)
	if err != nil {
		return TruncateRecovery{}, false
	}
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	ip, _ := ns.resolve(comps)
	n := ip[len(ip)-1]
	if n == nil || n.dir != nil || n.uc == nil || n.uc.truncateGS == 0 || len(n.blocks) == 0 {
		return TruncateRecovery{}, false
	}
	return TruncateRecovery{Path: path, Block: n.blocks[len(n.blocks)-1], NewStamp: n.uc.truncateGS}, true
}

// CommitTruncate closes a file once the replicas of its cut block hold
// the new length under the recovery's stamp (HDFS's
// commitBlockSynchronization with closeFile): one OP_CLOSE. It does
// nothing when the recovery r is no longer in progress.
func (ns *Namespace) CommitTruncate(ctx context.Context, r TruncateRecovery) error {
	comps, err := hdfspath.Split(r.Path)
	if err != nil {
		return err
	}
	return ns.mutate(ctx, "Cannot close "+r.Path, func(t *tx) error {
		ip, _ := ns.resolve(comps)
		n := ip[len(ip)-1]
		if n == nil || n.dir != nil || n.uc == nil || n.uc.truncateGS != r.NewStamp || len(n.blocks) == 0 || n.blocks[len(n.blocks)-1] != r.Block {
			return nil
		}
		blocks := append([]Block(nil), n.blocks...)
		blocks[len(blocks)-1].GenStamp = r.NewStamp
		return t.log(&Close{Path: hdfspath.Join(comps), Mtime: n.mtime, Atime: n.atime, Blocks: blocks})
	})
}
