package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Replica states.
const (
	Finalized uint8 = 0
	RBW       uint8 = 1
	// RWR is a replica found in rbw/ at start (HDFS's
	// ReplicaWaitingToBeRecovered): its writer is gone; its length is what
	// its checksums vouch for, and only a recovery makes it final.
	RWR uint8 = 2
)

// Replica is one replica in the replica map.
type Replica struct {
	ID, GenStamp, NumBytes int64
	State                  uint8
	Volume                 *Volume
}

// Volume is one data directory.
type Volume struct {
	Dir       string
	StorageID string
	// StorageType is the volume's kind from its data directory's prefix
	// ([SSD]/mnt/ssd1; DISK without one), as HDFS's StorageLocation.
	StorageType string
	// failed is why the volume was taken out: set by the volume checker
	// and read by HTTP handlers and heartbeats without the store's lock.
	failed atomic.Pointer[volumeFailure]
	used   int64 // bytes of block and meta files, all block pools
	// inflight is the block sizes reserved by the replicas being written
	// to the volume (HDFS's reservedForReplicas).
	inflight atomic.Int64
	// io counts the profiled operations on the volume's replica files by
	// kind, and their time; ioErrors those that failed (profiling.go).
	io       [ioKinds]ioCounter
	ioErrors atomic.Int64
	// link is how the volume names unnamed replica files (tempfile.go);
	// linkFull: its probe found the volume full, and it is probed again.
	linkMu   sync.Mutex
	link     linkMode
	linkFull bool
}

type volumeFailure struct{ err error }

// Failed reports why the volume failed, or nil.
func (v *Volume) Failed() error {
	if f := v.failed.Load(); f != nil {
		return f.err
	}
	return nil
}

// fail takes the volume out for err.
func (v *Volume) fail(err error) { v.failed.Store(&volumeFailure{err}) }

// Store is a datanode's volumes and replica map.
type Store struct {
	mu           sync.RWMutex
	volumes      []*Volume
	datanodeUUID string
	clusterID    string
	replicas     map[string]map[int64]*Replica // block pool → block ID → replica
	writing      map[string]int                // "bpid/id" of replicas being written → writers
	appends      map[string]*ReplicaWriter     // "bpid/id" → the append in progress
	next         int                           // round-robin volume index
	// SyncOnClose fsyncs finalized replicas (dfs.datanode.synconclose).
	SyncOnClose bool
	// SyncBehindWrites starts the write-back of a replica's data every
	// CacheLagBytes as it is written (dfs.datanode.sync.behind.writes;
	// HDFS's BlockReceiver.manageWriterOsCache).
	SyncBehindWrites bool
	// DropCacheBehindWrites drops a replica's written data from the page
	// cache as it is written, CacheLagBytes behind the write-back
	// (dfs.datanode.drop.cache.behind.writes).
	DropCacheBehindWrites bool
	// ReadaheadBytes is dfs.datanode.readahead.bytes: how far ahead of a
	// long read the kernel is asked to read (0: not asked).
	ReadaheadBytes int64
	// DropCacheBehindReads drops what a long read read from the page cache
	// behind it (dfs.datanode.drop.cache.behind.reads).
	DropCacheBehindReads bool
	// FileIOProfilingPercentage is
	// dfs.datanode.fileio.profiling.sampling.percentage (0: off, 1 to
	// 100): above 0 every metadata operation on replica files is timed,
	// and this share of the data operations (profiling.go).
	FileIOProfilingPercentage int
	// Reserved is dfs.datanode.du.reserved: bytes per volume left free for
	// other uses; a volume with less than a block's size available beyond
	// it takes no new replica.
	Reserved int64
	// files keeps recently read finalized replicas' files open.
	files *openFiles
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// DefaultDirPerm is dfs.datanode.data.dir.perm's default (700).
const DefaultDirPerm os.FileMode = 0o700

// Open prepares every data directory (created with perm, or set to it when
// it differs, as HDFS's DiskChecker does; 0 means DefaultDirPerm, and
// current/VERSION on a new one), takes out volumes that cannot be used,
// refuses to start when more than tolerated failed, and scans all block
// pools' replicas in parallel.
func Open(dirs []string, tolerated int, perm os.FileMode) (*Store, error) {
	if perm == 0 {
		perm = DefaultDirPerm
	}
	if len(dirs) == 0 {
		return nil, errors.New("no data directories configured")
	}
	s := &Store{replicas: map[string]map[int64]*Replica{}, writing: map[string]int{}, appends: map[string]*ReplicaWriter{},
		files: newOpenFiles(maxOpenReplicas)}
	var failed int
	for _, loc := range dirs {
		typ, d, err := ParseLocation(loc)
		if err != nil {
			return nil, err
		}
		v, err := s.openVolume(d, perm)
		if err != nil {
			v = &Volume{Dir: d}
			v.fail(err)
			failed++
		}
		v.StorageType = typ
		s.volumes = append(s.volumes, v)
	}
	if failed > tolerated {
		var why []string
		for _, v := range s.volumes {
			if v.Failed() != nil {
				why = append(why, v.Failed().Error())
			}
		}
		return nil, fmt.Errorf("Too many failed volumes - current valid volumes: %d, volumes configured: %d, volumes failed: %d, volume failures tolerated: %d (%s)",
			len(dirs)-failed, len(dirs), failed, tolerated, strings.Join(why, "; "))
	}
	if s.datanodeUUID == "" {
		s.datanodeUUID = uuid.NewString()
	}
	for _, v := range s.healthy() {
		if err := s.writeVersion(v); err != nil {
			return nil, err
		}
	}
	if err := s.scanAll(); err != nil {
		return nil, err
	}
	return s, nil
}

// openVolume checks a data directory (its permission made perm) and
// reads (or creates) its VERSION.
func (s *Store) openVolume(dir string, perm os.FileMode) (*Volume, error) {
	if err := os.MkdirAll(dir, perm); err != nil {
		return nil, fmt.Errorf("volume %s: %w", dir, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("volume %s: %w", dir, err)
	} else if fi.Mode().Perm() != perm {
		if err := os.Chmod(dir, perm); err != nil {
			return nil, fmt.Errorf("volume %s: setting its permission to %o (dfs.datanode.data.dir.perm): %w", dir, perm, err)
		}
	}
	cur := filepath.Join(dir, "current")
	if err := os.MkdirAll(cur, 0o755); err != nil {
		return nil, fmt.Errorf("volume %s: %w", dir, err)
	}
	probe := filepath.Join(cur, ".probe")
	if err := os.WriteFile(probe, nil, 0o644); err != nil && !isNoSpace(err) {
		return nil, fmt.Errorf("volume %s is not writable: %w", dir, err)
	}
	_ = os.Remove(probe)
	v := &Volume{Dir: dir}
	v.link, v.linkFull = probeTempFiles(cur)
	p, err := readProperties(filepath.Join(cur, "VERSION"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		v.StorageID = "DS-" + uuid.NewString()
	case err != nil:
		return nil, fmt.Errorf("volume %s: %w", dir, err)
	default:
		if p["storageType"] != "DATA_NODE" || p["storageID"] == "" {
			return nil, fmt.Errorf("volume %s: VERSION is not a datanode's", dir)
		}
		if err := checkLayoutVersion(p, dir); err != nil {
			return nil, err
		}
		v.StorageID = p["storageID"]
		if id := p["datanodeUuid"]; id != "" {
			if s.datanodeUUID != "" && s.datanodeUUID != id {
				return nil, fmt.Errorf("volume %s belongs to datanode %s, not %s", dir, id, s.datanodeUUID)
			}
			s.datanodeUUID = id
		}
		if cid := p["clusterID"]; cid != "" {
			if s.clusterID != "" && s.clusterID != cid {
				return nil, fmt.Errorf("volume %s belongs to cluster %s, not %s", dir, cid, s.clusterID)
			}
			s.clusterID = cid
		}
	}
	return v, nil
}

func (s *Store) writeVersion(v *Volume) error {
	return properties{
		"storageID": v.StorageID, "clusterID": s.clusterID, "cTime": "0", "datanodeUuid": s.datanodeUUID,
		"storageType": "DATA_NODE", "layoutVersion": strconv.Itoa(LayoutVersion),
	}.writeIfChanged(filepath.Join(v.Dir, "current", "VERSION"))
}

func (s *Store) healthy() []*Volume {
	var out []*Volume
	for _, v := range s.volumes {
		if v.Failed() == nil {
			out = append(out, v)
		}
	}
	return out
}

// DatanodeUUID is the datanode's persistent identity (from VERSION).
func (s *Store) DatanodeUUID() string { return s.datanodeUUID }

// ClusterID is the cluster the volumes were formatted for ("" until the
// first handshake).
func (s *Store) ClusterID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.clusterID
}

// ErrWrongCluster is returned (wrapped) when the volumes belong to another cluster.
var ErrWrongCluster = errors.New("incompatible cluster ID")

// ErrWrongNamespace is returned (wrapped) when a block pool's VERSION on a
// volume names another namespace or block pool than the one handshaken
// with (HDFS's BlockPoolSliceStorage: "Incompatible namespaceIDs in ...").
var ErrWrongNamespace = errors.New("incompatible block pool")

// InitBlockPool binds the volumes to clusterID (on first contact) and
// creates the block pool's directories and VERSION on every volume where
// there is none; an existing VERSION is verified, not rewritten. A datanode
// formatted for another cluster refuses, naming both IDs; a block pool
// whose VERSION names another namespace ID or block pool ID is refused
// with HDFS's message (the volumes' other pools are untouched).
func (s *Store) InitBlockPool(clusterID, bpid string, namespaceID, cTime int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clusterID != "" && s.clusterID != clusterID {
		return fmt.Errorf("%w: the datanode's volumes have clusterID = %s but the cluster's is %s", ErrWrongCluster, s.clusterID, clusterID)
	}
	if s.clusterID == "" {
		s.clusterID = clusterID
		for _, v := range s.healthy() {
			if err := s.writeVersion(v); err != nil {
				return err
			}
		}
	}
	for _, v := range s.healthy() {
		bp := filepath.Join(v.Dir, "current", bpid)
		version := filepath.Join(bp, "current", "VERSION")
		if old, err := readProperties(version); err == nil {
			if old["namespaceID"] != strconv.FormatInt(namespaceID, 10) {
				return fmt.Errorf("%w: Incompatible namespaceIDs in %s: namenode namespaceID = %d; datanode namespaceID = %s", ErrWrongNamespace, bp, namespaceID, old["namespaceID"])
			}
			if err := checkLayoutVersion(old, bp); err != nil {
				return err
			}
			if old["blockpoolID"] != bpid {
				return fmt.Errorf("%w: Incompatible blockpoolIDs in %s: namenode blockpoolID = %s; datanode blockpoolID = %s", ErrWrongNamespace, bp, bpid, old["blockpoolID"])
			}
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		for _, d := range []string{"current/finalized", "current/rbw", "tmp"} {
			if err := os.MkdirAll(filepath.Join(bp, d), 0o755); err != nil {
				return err
			}
		}
		err := properties{
			"namespaceID": strconv.FormatInt(namespaceID, 10), "cTime": strconv.FormatInt(cTime, 10),
			"blockpoolID": bpid, "layoutVersion": strconv.Itoa(LayoutVersion),
		}.writeIfChanged(version)
		if err != nil {
			return err
		}
	}
	if s.replicas[bpid] == nil {
		s.replicas[bpid] = map[int64]*Replica{}
	}
	return nil
}

// Volumes returns the configured volumes.
func (s *Store) Volumes() []*Volume {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]*Volume(nil), s.volumes...)
}

// FailedVolumes counts failed volumes.
func (s *Store) FailedVolumes() int {
	return len(s.volumes) - len(s.healthy())
}

// VolumeReport is one volume's figures for heartbeats.
type VolumeReport struct {
	StorageID                            string
	Failed                               bool
	Capacity, DfsUsed, Remaining, BPUsed int64
}

// Reports returns capacity and usage per volume.
func (s *Store) Reports(bpid string) []VolumeReport {
	s.mu.RLock()
	defer s.mu.RUnlock()
	bpUsed := map[*Volume]int64{}
	for _, r := range s.replicas[bpid] {
		bpUsed[r.Volume] += r.NumBytes + metaSize(r.NumBytes)
	}
	var out []VolumeReport
	for _, v := range s.volumes {
		r := VolumeReport{StorageID: v.StorageID, Failed: v.Failed() != nil}
		if v.Failed() == nil {
			if total, _, err := v.capacity(); err == nil {
				r.Capacity = total
				r.Remaining = s.available(v)
			}
			r.DfsUsed, r.BPUsed = v.used, bpUsed[v]
		}
		out = append(out, r)
	}
	return out
}

// metaSize is the size of the meta file of a block of n bytes.
func metaSize(n int64) int64 {
	return MetaHeaderLen + 4*((n+BytesPerChecksum-1)/BytesPerChecksum)
}

// Replicas returns a copy of the block pool's replica map, grouped by storage ID.
func (s *Store) Replicas(bpid string) map[string][]Replica {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string][]Replica{}
	for _, v := range s.healthy() {
		out[v.StorageID] = nil
	}
	for _, r := range s.replicas[bpid] {
		out[r.Volume.StorageID] = append(out[r.Volume.StorageID], *r)
	}
	return out
}

// Get returns one replica.
func (s *Store) Get(bpid string, id int64) (Replica, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.replicas[bpid][id]
	if !ok {
		return Replica{}, false
	}
	return *r, true
}

// Count returns the number of replicas of a block pool.
func (s *Store) Count(bpid string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.replicas[bpid])
}

func (v *Volume) bpDir(bpid string) string { return filepath.Join(v.Dir, "current", bpid) }

// FinalizedPath returns the block file path of a finalized replica on v.
func (v *Volume) FinalizedPath(bpid string, id int64) string {
	return v.finalizedDir(bpid, id) + string(filepath.Separator) + BlockFileName(id)
}

// finalizedDir is the folder of a finalized replica's files on v. Only
// its prefix is cleaned: the rest is made of names this package writes
// (it is built for every read).
func (v *Volume) finalizedDir(bpid string, id int64) string {
	return filepath.Join(v.bpDir(bpid), "current", "finalized") + string(filepath.Separator) + subdirs(id)
}

// nextVolume picks a healthy volume round-robin.

// WriteFinalized stores data as a finalized replica (as a received block
// without acknowledgements: CreateTemporary), replacing an older replica
// of the block.
func (s *Store) WriteFinalized(bpid string, id, gs int64, data []byte) (Replica, error) {
	w, err := s.CreateTemporary(bpid, id, gs, int64(len(data)))
	if err != nil {
		return Replica{}, err
	}
	meta := ChecksumFile(data)
	if err := w.Write(data, meta[MetaHeaderLen:]); err != nil {
		w.Abort()
		return Replica{}, err
	}
	return w.Finalize()
}

// ChecksumFile returns the meta file of data: the 7-byte header and one
// big-endian CRC32C per 512-byte chunk (the last over its partial bytes).
func ChecksumFile(data []byte) []byte {
	out := make([]byte, MetaHeaderLen, metaSize(int64(len(data))))
	binary.BigEndian.PutUint16(out[0:2], MetaVersion)
	out[2] = ChecksumCRC32C
	binary.BigEndian.PutUint32(out[3:7], BytesPerChecksum)
	for off := 0; off < len(data); off += BytesPerChecksum {
		end := min(off+BytesPerChecksum, len(data))
		out = binary.BigEndian.AppendUint32(out, crc32.Checksum(data[off:end], castagnoli))
	}
	return out
}

// Delete removes a replica (an invalidate command); it reports whether the
// replica was there with that generation stamp or older.
func (s *Store) Delete(bpid string, id, gs int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.replicas[bpid][id]
	if r == nil || r.GenStamp > gs {
		return false
	}
	s.removeFilesLocked(bpid, r)
	delete(s.replicas[bpid], id)
	return true
}

// forget drops r from the replica map, if the map still holds that replica,
// without touching its files.
func (s *Store) forget(bpid string, r Replica) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.replicas[bpid][r.ID]; cur != nil && cur.GenStamp == r.GenStamp && cur.Volume == r.Volume && cur.State == r.State {
		delete(s.replicas[bpid], r.ID)
		s.files.evict(bpid, r.ID)
		cur.Volume.used -= cur.NumBytes + metaSize(cur.NumBytes)
	}
}

func (s *Store) removeFilesLocked(bpid string, r *Replica) {
	s.files.evict(bpid, r.ID)
	dir := r.Volume.finalizedDir(bpid, r.ID)
	if r.State != Finalized {
		dir = filepath.Join(r.Volume.bpDir(bpid), "current", "rbw")
	}
	for _, name := range []string{BlockFileName(r.ID), MetaFileName(r.ID, r.GenStamp)} {
		t := s.metaStart()
		err := os.Remove(filepath.Join(dir, name))
		r.Volume.ioDone(IOMetadata, t, err)
	}
	r.Volume.used -= r.NumBytes + metaSize(r.NumBytes)
}

func writingKey(bpid string, id int64) string { return fmt.Sprintf("%s/%d", bpid, id) }

// startWriting and doneWriting bracket a replica being written, which the
// directory scan leaves alone (HDFS's replica map holds RBW replicas for
// the same reason). Callers hold s.mu.
func (s *Store) startWriting(bpid string, id int64) { s.writing[writingKey(bpid, id)]++ }

func (s *Store) doneWriting(bpid string, id int64) {
	k := writingKey(bpid, id)
	if s.writing[k]--; s.writing[k] <= 0 {
		delete(s.writing, k)
	}
	delete(s.appends, k)
}

// SaveDfsUsed caches each volume's usage for a quick restart (HDFS's
// dfsUsed file: "<bytes> <time ms>").
func (s *Store) SaveDfsUsed() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := time.Now().UnixMilli()
	for _, v := range s.healthy() {
		// One figure per block pool slice (HDFS's BlockPoolSlice dfsUsed
		// file): the bytes of its block and meta files on this volume.
		for bpid, m := range s.replicas {
			if _, err := os.Stat(v.bpDir(bpid)); err != nil {
				continue
			}
			var used int64
			for _, r := range m {
				if r.Volume == v {
					used += r.NumBytes + metaSize(r.NumBytes)
				}
			}
			line := fmt.Sprintf("%d %d\n", used, now)
			_ = writeFileAtomic(filepath.Join(v.bpDir(bpid), "current", "dfsUsed"), []byte(line))
		}
	}
}

// ReplicasOn returns the replicas of a block pool on one volume, sorted by ID.
func (s *Store) ReplicasOn(bpid string, v *Volume) []Replica {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Replica
	for _, r := range s.replicas[bpid] {
		if r.Volume == v && r.State == Finalized {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CheckVolumes probes every healthy volume (write and remove a file, list
// every block pool's finalized directory) and takes out those that fail:
// their replicas of every pool leave the replica map. It returns the
// replicas lost, by block pool.
func (s *Store) CheckVolumes() (failed []*Volume, lost map[string][]Replica) {
	lost = map[string][]Replica{}
	for _, v := range s.healthy() {
		if err := probe(v, s.BlockPools()); err != nil {
			s.mu.Lock()
			v.fail(err)
			for bpid, pool := range s.replicas {
				for id, r := range pool {
					if r.Volume == v {
						lost[bpid] = append(lost[bpid], *r)
						delete(pool, id)
					}
				}
			}
			s.mu.Unlock()
			s.files.evictVolume(v) // no descriptor stays open on the failed disk
			failed = append(failed, v)
		}
	}
	return failed, lost
}

// BlockPools lists the block pools initialised on this datanode, sorted.
func (s *Store) BlockPools() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.replicas))
	for bpid := range s.replicas {
		out = append(out, bpid)
	}
	sort.Strings(out)
	return out
}

func probe(v *Volume, bpids []string) error {
	p := filepath.Join(v.Dir, "current", ".probe")
	switch err := os.WriteFile(p, []byte("probe"), 0o644); {
	case isNoSpace(err):
		_ = os.Remove(p) // full, not failed: the read checks below decide
	case err != nil:
		return fmt.Errorf("volume %s is not writable: %w", v.Dir, err)
	default:
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("volume %s: %w", v.Dir, err)
		}
	}
	for _, bpid := range bpids {
		if _, err := os.ReadDir(filepath.Join(v.bpDir(bpid), "current", "finalized")); err != nil {
			return fmt.Errorf("volume %s is not readable: %w", v.Dir, err)
		}
	}
	return nil
}

// DirectoryDiff is what the directory scanner found: replicas on disk the
// map did not know, replicas in the map missing from disk, and replicas
// whose length or generation stamp on disk differs.
type DirectoryDiff struct {
	Added, Removed, Changed []Replica
}

// ReconcileDisk scans the block pool on every healthy volume and brings the
// replica map in line with the disk (HDFS's DirectoryScanner).
func (s *Store) ReconcileDisk(bpid string) (DirectoryDiff, error) {
	var d DirectoryDiff
	onDisk := map[int64]*Replica{}
	for _, v := range s.healthy() {
		reps, _, err := scanBlockPool(v, v.bpDir(bpid), false)
		if err != nil {
			return d, err
		}
		for _, r := range reps {
			if old := onDisk[r.ID]; old == nil || old.GenStamp < r.GenStamp {
				onDisk[r.ID] = r
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.replicas[bpid]
	if m == nil {
		m = map[int64]*Replica{}
		s.replicas[bpid] = m
	}
	for id, r := range m {
		disk := onDisk[id]
		switch {
		case s.writing[writingKey(bpid, id)] > 0:
			// Being written (an append moved it to rbw/): its writer
			// finishes it.
		case disk == nil:
			d.Removed = append(d.Removed, *r)
			delete(m, id)
		case disk.GenStamp != r.GenStamp || disk.NumBytes != r.NumBytes || disk.Volume != r.Volume:
			d.Changed = append(d.Changed, *disk)
			m[id] = disk
		}
	}
	for id, r := range onDisk {
		if _, ok := m[id]; !ok && s.writing[writingKey(bpid, id)] == 0 {
			d.Added = append(d.Added, *r)
			m[id] = r
		}
	}
	return d, nil
}

// checkLayoutVersion refuses a storage directory written by a newer
// layout than this datanode's (layout versions are negative: newer is
// lower), with HDFS's IncorrectVersionException message
// (StorageInfo.setLayoutVersion).
func checkLayoutVersion(p properties, dir string) error {
	lv, err := strconv.Atoi(p["layoutVersion"])
	if err != nil {
		return fmt.Errorf("volume %s: VERSION has no valid layoutVersion (%q)", dir, p["layoutVersion"])
	}
	if lv < LayoutVersion {
		return fmt.Errorf("Unexpected version of storage directory %s. Reported: %d. Expecting = %d.", dir, lv, LayoutVersion)
	}
	return nil
}

// StorageTypes are HDFS's StorageType values a data directory may name.
var StorageTypes = []string{"RAM_DISK", "SSD", "DISK", "ARCHIVE", "PROVIDED", "NVDIMM"}

// ParseLocation splits a dfs.datanode.data.dir entry into its storage type
// (the [TYPE] prefix, DISK without one) and its directory, as HDFS's
// StorageLocation.parse.
func ParseLocation(loc string) (storageType, dir string, err error) {
	if !strings.HasPrefix(loc, "[") {
		return "DISK", loc, nil
	}
	end := strings.Index(loc, "]")
	if end < 0 {
		return "", "", fmt.Errorf("data directory %q: no ] after the storage type", loc)
	}
	typ := strings.ToUpper(loc[1:end])
	if !slices.Contains(StorageTypes, typ) {
		return "", "", fmt.Errorf("data directory %q: No enum constant org.apache.hadoop.fs.StorageType.%s", loc, loc[1:end])
	}
	return typ, loc[end+1:], nil
}
