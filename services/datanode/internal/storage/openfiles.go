package storage

import (
	"container/list"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// openFiles keeps the data and meta files of recently written and read
// finalized replicas open, so that a read needs no open(2) and close(2) of either
// (two path look-ups and four system calls per read otherwise; HDFS's
// short-circuit readers keep them open on the client's side for the same
// reason). Readers share the files: they read with ReadAt only. An entry is
// used only for the replica it was opened for — same stamp, length and
// volume — and while its data and meta files are still linked (a replica
// removed behind the datanode's back is noticed as before); it is dropped
// when the datanode deletes or moves the replica, and the least recently
// used go beyond max, or beyond the process's budget. Files are
// closed once no reader holds them. A small replica whose CRCs are kept
// (crcCache) has its block file only.
type openFiles struct {
	max    int
	budget *openBudget

	mu  sync.Mutex
	m   map[openKey]*sharedFiles
	lru list.List // of *sharedFiles, most recently used first

	// crcs are the CRCs of small replicas, kept beyond their files (and
	// dropped with them when a replica is deleted or moved).
	crcs crcCache
}

type openKey struct {
	bpid string
	id   int64
}

// sharedFiles are one replica's open files.
type sharedFiles struct {
	key            openKey
	genStamp, size int64
	vol            *Volume
	blk, meta      *os.File // meta is nil when the replica's CRCs are kept (crcCache)
	refs           int      // readers holding them, plus one while cached
	elem           *list.Element
}

// fds is how many descriptors f holds: 2, or 1 without its meta file.
func (f *sharedFiles) fds() int64 {
	if f.meta == nil {
		return 1
	}
	return 2
}

// maxOpenReplicas bounds the replicas of one datanode whose files stay
// open (two descriptors each, or one): HDFS's dfs.datanode.max.transfer.threads,
// the reads a datanode serves at once, each with a replica's two files
// open.
const maxOpenReplicas = 4096

// openBudget bounds the descriptors kept open by several datanodes'
// caches together.
type openBudget struct {
	limit int64
	n     atomic.Int64
}

// processBudget is that of all the datanodes of this process: a quarter
// of the descriptors it may open, so that sockets and writes never go
// short (at least 128).
var processBudget = sync.OnceValue(func() *openBudget {
	const least = 128
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return &openBudget{limit: least}
	}
	return &openBudget{limit: int64(max(least, lim.Cur/4))}
})

func newOpenFiles(max int) *openFiles {
	return &openFiles{max: max, budget: processBudget(), m: map[openKey]*sharedFiles{}, crcs: crcCache{max: crcCacheBytes}}
}

// get returns r's files if they are open and still linked, holding them
// for the caller (release them).
func (o *openFiles) get(bpid string, r Replica) *sharedFiles {
	k := openKey{bpid, r.ID}
	o.mu.Lock()
	f := o.m[k]
	if f == nil || f.genStamp != r.GenStamp || f.size != r.NumBytes || f.vol != r.Volume {
		o.mu.Unlock()
		return nil
	}
	f.refs++
	o.lru.MoveToFront(f.elem)
	o.mu.Unlock()
	if !linked(f.blk, r.NumBytes) || f.meta != nil && !linked(f.meta, 0) {
		o.evict(bpid, r.ID)
		o.release(f)
		return nil
	}
	return f
}

// linked reports whether f is still a file of the volume (not unlinked)
// with at least size bytes.
func linked(f *os.File, size int64) bool {
	var st syscall.Stat_t
	return syscall.Fstat(int(f.Fd()), &st) == nil && st.Nlink > 0 && st.Size >= size
}

// put caches r's newly opened files (a reader's, or a writer's just
// finalized: a file is usually read soon after it is written) and returns
// them held for the caller.
func (o *openFiles) put(bpid string, r Replica, blk, meta *os.File) *sharedFiles {
	f := &sharedFiles{key: openKey{bpid, r.ID}, genStamp: r.GenStamp, size: r.NumBytes, vol: r.Volume, blk: blk, meta: meta, refs: 2}
	o.mu.Lock()
	var drop []*sharedFiles
	if old := o.m[f.key]; old != nil {
		drop = append(drop, o.removeLocked(old))
	}
	o.m[f.key] = f
	f.elem = o.lru.PushFront(f)
	o.budget.n.Add(f.fds())
	for len(o.m) > 0 && (len(o.m) > o.max || o.budget.n.Load() > o.budget.limit) {
		drop = append(drop, o.removeLocked(o.lru.Back().Value.(*sharedFiles)))
	}
	o.mu.Unlock()
	for _, d := range drop {
		o.release(d)
	}
	return f
}

// removeLocked takes f out of the cache; the caller releases the cache's
// hold on it.
func (o *openFiles) removeLocked(f *sharedFiles) *sharedFiles {
	delete(o.m, f.key)
	o.lru.Remove(f.elem)
	o.budget.n.Add(-f.fds())
	return f
}

// evict drops block id's files (deleted, moved or changed): they are
// closed once their readers are done.
func (o *openFiles) evict(bpid string, id int64) {
	o.crcs.drop(bpid, id)
	o.mu.Lock()
	f := o.m[openKey{bpid, id}]
	if f != nil {
		o.removeLocked(f)
	}
	o.mu.Unlock()
	if f != nil {
		o.release(f)
	}
}

// evictVolume drops the files of every replica on v (taken out): they
// are closed once their readers are done.
func (o *openFiles) evictVolume(v *Volume) {
	o.crcs.dropVolume(v)
	o.mu.Lock()
	var drop []*sharedFiles
	for _, f := range o.m {
		if f.vol == v {
			drop = append(drop, o.removeLocked(f))
		}
	}
	o.mu.Unlock()
	for _, f := range drop {
		o.release(f)
	}
}

// release gives up one hold on f, closing its files with the last.
func (o *openFiles) release(f *sharedFiles) {
	o.mu.Lock()
	f.refs--
	last := f.refs == 0
	o.mu.Unlock()
	if last {
		f.blk.Close()
		if f.meta != nil {
			f.meta.Close()
		}
	}
}

// CloseOpenFiles closes the files kept open for readers (those a reader
// still holds once it is done).
func (s *Store) CloseOpenFiles() { s.files.closeAll() }

func (o *openFiles) closeAll() {
	o.mu.Lock()
	var drop []*sharedFiles
	for _, f := range o.m {
		drop = append(drop, o.removeLocked(f))
	}
	o.mu.Unlock()
	for _, f := range drop {
		o.release(f)
	}
}
