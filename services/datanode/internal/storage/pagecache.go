package storage

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// The page cache around replicas, as HDFS's datanode manages it with
// sync_file_range and posix_fadvise: behind writes (ReplicaWriter's
// manageCache) and around reads (osCache).

// CacheLagBytes is how much written data goes between two calls of
// manageCache, and how far behind the last call the page cache is dropped
// (HDFS's CACHE_DROP_LAG_BYTES).
const CacheLagBytes = 8 << 20

// manageCache is HDFS's BlockReceiver.manageWriterOsCache, called every
// CacheLagBytes of data. With SyncBehindWrites it starts writing the data
// written since the last call back to the disk without waiting for it
// (sync_file_range SYNC_FILE_RANGE_WRITE). With DropCacheBehindWrites it
// drops the block file's pages from the page cache up to CacheLagBytes
// before the last call (posix_fadvise POSIX_FADV_DONTNEED): data whose
// write-back had that long to finish, as the kernel drops clean pages only.
// A written replica then leaves at most a few lags of its data cached
// instead of filling the cache with data nobody reads soon.
func (w *ReplicaWriter) manageCache() error {
	if err := w.bw.Flush(); err != nil {
		return err
	}
	fd := int(w.blk.Fd())
	if w.s.SyncBehindWrites {
		t := w.s.ioStart()
		err := unix.SyncFileRange(fd, w.managed, w.n-w.managed, unix.SYNC_FILE_RANGE_WRITE)
		if err == unix.ENOSYS {
			err = nil
		}
		w.vol.ioDone(IOSync, t, err)
		if err != nil {
			return fmt.Errorf("sync_file_range: %w", err)
		}
	}
	if drop := w.managed - CacheLagBytes; w.s.DropCacheBehindWrites && drop > 0 {
		// Advice only, as in HDFS: the data is written whether or not the
		// kernel takes it (it cannot fail on an open regular file).
		_ = fadvise(fd, 0, drop, unix.FADV_DONTNEED)
	}
	w.managed = w.n
	return nil
}

// fadvise gives the kernel advice about n bytes of fd's pages from offset
// off: read them ahead (FADV_WILLNEED), drop them (FADV_DONTNEED). A
// variable for tests.
var fadvise = unix.Fadvise

// DropBehind makes the reader drop from the page cache what each of its
// reads read, whatever its length: HDFS's block scanner reads so
// (CachingStrategy.newDropBehind), not to push the data readers use out of
// the cache.
func (r *ReplicaReader) DropBehind() { r.dropAll = true }

// HDFS's BlockSender: a read longer than longReadBytes is a long read (the
// page cache is managed for it), and drops behind it happen every
// dropIntervalBytes.
const (
	longReadBytes     = 256 << 10 // LONG_READ_THRESHOLD_BYTES
	dropIntervalBytes = 1 << 20   // CACHE_DROP_INTERVAL_BYTES
)

// osCache manages the page cache for one read of a replica, as HDFS's
// BlockSender.manageOsCache: before each piece, a long read asks the
// kernel to read ahead (dfs.datanode.readahead.bytes, again each time the
// read has gone half that far), and drops what it read behind it every
// dropIntervalBytes (dfs.datanode.drop.cache.behind.reads, or always for
// DropBehind), and all it read at its end. Advice only: its failures are
// ignored, as in HDFS.
type osCache struct {
	fd        int
	size      int64 // the replica's length: no readahead beyond it
	readahead int64
	lastAhead int64 // where the last readahead started (-1: none yet)
	drop      bool
	start     int64 // where the read started
	dropped   int64 // the read's bytes before this are dropped
}

// osCache returns the cache management for a read of [offset, end), nil
// when there is none.
func (r *ReplicaReader) osCache(offset, end int64) *osCache {
	long := end-offset > longReadBytes
	var readahead int64
	if long {
		readahead = r.readahead
	}
	drop := r.dropAll || (r.dropLarge && long)
	if readahead <= 0 && !drop {
		return nil
	}
	return &osCache{fd: int(r.blk.Fd()), size: r.NumBytes, readahead: readahead, lastAhead: -1, drop: drop, start: offset, dropped: offset}
}

// before runs before the piece at pos is read.
func (c *osCache) before(pos int64) {
	if c == nil {
		return
	}
	if c.readahead > 0 && (c.lastAhead < 0 || pos >= c.lastAhead+c.readahead/2) {
		if n := min(c.readahead, c.size-pos); n > 0 {
			_ = fadvise(c.fd, pos, n, unix.FADV_WILLNEED)
		}
		c.lastAhead = pos
	}
	if c.drop && pos >= c.dropped+dropIntervalBytes {
		_ = fadvise(c.fd, c.dropped, pos-c.dropped, unix.FADV_DONTNEED)
		c.dropped = pos
	}
}

// finish drops, at the end of the read (up to pos), all it read: HDFS
// drops only the rest since the last drop, but the kernel drops only the
// folios wholly inside a range, and a large folio (a write's, a
// readahead's) can straddle the MiB boundaries of the drops along the way.
func (c *osCache) finish(pos int64) {
	if c != nil && c.drop && pos > c.start {
		_ = fadvise(c.fd, c.start, pos-c.start, unix.FADV_DONTNEED)
	}
}
