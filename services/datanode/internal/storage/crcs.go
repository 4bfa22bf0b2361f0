package storage

import (
	"container/list"
	"sync"

	"github.com/granary-fs/granary/internal/packet"
)

// crcCache keeps the CRCs of small finalized replicas — a replica of one
// packet at most, the small files' — so that reading one opens its block
// file only: the meta file would cost a second open, read and close, three
// of the seven system calls of a small read whose files are not kept open
// (openFiles keeps few; the CRCs of a 1 KiB file take 8 bytes). The CRCs
// are those the writer verified and wrote, kept when it finalized the
// replica, or read from the meta file by the first reader. An entry
// answers only for the replica it was kept for (same stamp, length and
// volume): an append, a truncation or a recovery changes the stamp, and
// the datanode drops the entry when it deletes or moves the replica
// (openFiles.evict). Readers that must see the meta file on disk — the
// block scanner — do not use it (OpenReplicaOnDisk).
type crcCache struct {
	max int // bytes, each entry's bookkeeping counted

	mu   sync.Mutex
	m    map[openKey]*crcEntry
	lru  list.List // of *crcEntry, most recently used first
	size int
}

type crcEntry struct {
	key                openKey
	genStamp, numBytes int64
	vol                *Volume
	crcs               []byte
	elem               *list.Element
}

// maxKeptCRCs is the most CRC bytes kept for one replica: those of one
// packet of data (64 KiB).
const maxKeptCRCs = 4 * packet.MaxData / BytesPerChecksum

// crcCacheBytes bounds one datanode's kept CRCs: about 50,000 small
// replicas, whatever their number of volumes.
const crcCacheBytes = 8 << 20

// crcEntryBytes is what an entry costs beside its CRCs (the entry, its
// list element, its map slot).
const crcEntryBytes = 160

func (c *crcCache) get(bpid string, r Replica) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[openKey{bpid, r.ID}]
	if e == nil || e.genStamp != r.GenStamp || e.numBytes != r.NumBytes || e.vol != r.Volume {
		return nil, false
	}
	c.lru.MoveToFront(e.elem)
	return e.crcs, true
}

// put keeps crcs, the CRCs of finalized replica r (not to be changed
// after), when they are small enough.
func (c *crcCache) put(bpid string, r Replica, crcs []byte) {
	if len(crcs) > maxKeptCRCs || int64(len(crcs)) != 4*((r.NumBytes+BytesPerChecksum-1)/BytesPerChecksum) {
		return
	}
	if crcs == nil {
		crcs = []byte{} // kept, and none: an empty replica
	}
	e := &crcEntry{key: openKey{bpid, r.ID}, genStamp: r.GenStamp, numBytes: r.NumBytes, vol: r.Volume, crcs: crcs}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[openKey]*crcEntry{}
	}
	if old := c.m[e.key]; old != nil {
		c.removeLocked(old)
	}
	c.m[e.key] = e
	e.elem = c.lru.PushFront(e)
	c.size += len(crcs) + crcEntryBytes
	for c.size > c.max && c.lru.Len() > 0 {
		c.removeLocked(c.lru.Back().Value.(*crcEntry))
	}
}

func (c *crcCache) removeLocked(e *crcEntry) {
	delete(c.m, e.key)
	c.lru.Remove(e.elem)
	c.size -= len(e.crcs) + crcEntryBytes
}

// drop forgets block id's CRCs.
func (c *crcCache) drop(bpid string, id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[openKey{bpid, id}]; e != nil {
		c.removeLocked(e)
	}
}

// dropVolume forgets the CRCs of every replica on v.
func (c *crcCache) dropVolume(v *Volume) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.m {
		if e.vol == v {
			c.removeLocked(e)
		}
	}
}
