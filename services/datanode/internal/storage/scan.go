package storage

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// dfsUsedFresh is how old a cached dfsUsed may be to be trusted (HDFS: 600 s).
const dfsUsedFresh = 10 * time.Minute

// scanAll scans every healthy volume in parallel (one goroutine each) for
// every block pool found on it: tmp/ is cleared, finalized/ and rbw/ go
// into the replica map. A volume that cannot be read is taken out.
func (s *Store) scanAll() error {
	vols := s.healthy()
	type found struct {
		bpid     string
		replicas []*Replica
		used     int64
		err      error
	}
	results := make([][]found, len(vols))
	var wg sync.WaitGroup
	for i, v := range vols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bps, err := filepath.Glob(filepath.Join(v.Dir, "current", "BP-*"))
			if err != nil {
				results[i] = []found{{err: err}}
				return
			}
			for _, bp := range bps {
				bpid := filepath.Base(bp)
				if _, err := upgradeSlice(bp); err != nil {
					results[i] = append(results[i], found{bpid: bpid, err: err})
					continue
				}
				_ = os.RemoveAll(filepath.Join(bp, "tmp"))
				_ = os.MkdirAll(filepath.Join(bp, "tmp"), 0o755)
				reps, used, err := scanBlockPool(v, bp, true)
				results[i] = append(results[i], found{bpid: bpid, replicas: reps, used: used, err: err})
			}
		}()
	}
	wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	type duplicate struct {
		bpid string
		r    *Replica
	}
	var duplicates []duplicate
	for i, v := range vols {
		var used int64
		for _, f := range results[i] {
			if f.err != nil {
				v.fail(f.err)
				break
			}
			m := s.replicas[f.bpid]
			if m == nil {
				m = make(map[int64]*Replica, len(f.replicas))
				s.replicas[f.bpid] = m
			}
			for _, r := range f.replicas {
				old := m[r.ID]
				if old == nil {
					m[r.ID] = r
					continue
				}
				// The same block twice (two volumes, or rbw/ and
				// finalized/): HDFS's resolveDuplicateReplicas keeps one
				// and deletes the other's files.
				keep, del := selectReplicaToKeep(old, r)
				m[r.ID] = keep
				duplicates = append(duplicates, duplicate{f.bpid, del})
			}
			// A block pool slice's cached dfsUsed, saved at shutdown and
			// every dfs.datanode.cached-dfsused.check.interval, is trusted
			// only while fresh.
			if cached, ok := readDfsUsed(filepath.Join(v.bpDir(f.bpid), "current")); ok {
				used += cached
			} else {
				used += f.used
			}
		}
		v.used = used
	}
	for _, d := range duplicates {
		if d.r.Volume.Failed() == nil {
			s.removeFilesLocked(d.bpid, d.r) // dfs.datanode.duplicate.replica.deletion
		}
	}
	for bpid, m := range s.replicas {
		for id, r := range m {
			if r.Volume.Failed() != nil {
				delete(s.replicas[bpid], id)
				s.files.evict(bpid, id)
			}
		}
	}
	return nil
}

// selectReplicaToKeep is HDFS's BlockPoolSlice.selectReplicaToDelete: of
// two replicas of one block the newer generation stamp wins, then the
// longer one, then the one found first.
func selectReplicaToKeep(first, second *Replica) (keep, del *Replica) {
	switch {
	case first.GenStamp != second.GenStamp:
		if second.GenStamp > first.GenStamp {
			return second, first
		}
	case first.NumBytes != second.NumBytes:
		if second.NumBytes > first.NumBytes {
			return second, first
		}
	}
	return first, second
}

// readDfsUsed reads and removes the cached dfsUsed in dir (a block pool
// slice's current/) when it is fresh.
func readDfsUsed(dir string) (int64, bool) {
	path := filepath.Join(dir, "dfsUsed")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	_ = os.Remove(path) // a crash must not leave a stale figure behind
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, false
	}
	used, err1 := strconv.ParseInt(f[0], 10, 64)
	at, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || time.Since(time.UnixMilli(at)) > dfsUsedFresh {
		return 0, false
	}
	return used, true
}

// scanBlockPool lists the replicas of one block pool on one volume; with
// recover (at start, when nothing is being written) the replicas of rbw/
// are cut to the length their checksums vouch for.
func scanBlockPool(v *Volume, bp string, recover bool) ([]*Replica, int64, error) {
	var out []*Replica
	var used int64
	finalized := filepath.Join(bp, "current", "finalized")
	xs, err := os.ReadDir(finalized)
	if err != nil && !os.IsNotExist(err) {
		return nil, 0, err
	}
	// The subdir trees are scanned by a few goroutines: directory reads and
	// stats overlap their waits.
	type part struct {
		reps []*Replica
		used int64
		err  error
	}
	parts := make([]part, len(xs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, x := range xs {
		if !x.IsDir() || !strings.HasPrefix(x.Name(), "subdir") {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ys, err := os.ReadDir(filepath.Join(finalized, x.Name()))
			if err != nil {
				parts[i].err = err
				return
			}
			for _, y := range ys {
				if !y.IsDir() {
					continue
				}
				reps, u, err := scanDir(v, filepath.Join(finalized, x.Name(), y.Name()), Finalized)
				if err != nil {
					parts[i].err = err
					return
				}
				parts[i].reps = append(parts[i].reps, reps...)
				parts[i].used += u
			}
		}()
	}
	wg.Wait()
	for _, p := range parts {
		if p.err != nil {
			return nil, 0, p.err
		}
		out = append(out, p.reps...)
		used += p.used
	}
	rbw := filepath.Join(bp, "current", "rbw")
	reps, u, err := scanDir(v, rbw, RWR)
	if err != nil && !os.IsNotExist(err) {
		return nil, 0, err
	}
	for _, r := range reps {
		if !recover {
			break
		}
		// Written before a restart: waiting to be recovered, at the
		// length its checksums vouch for.
		n := validLength(filepath.Join(rbw, BlockFileName(r.ID)), filepath.Join(rbw, MetaFileName(r.ID, r.GenStamp)))
		u -= r.NumBytes + metaSize(r.NumBytes) - n - metaSize(n)
		r.NumBytes = n
	}
	return append(out, reps...), used + u, nil
}

// validLength is HDFS's validateIntegrityAndSetLength for a replica found in
// rbw/: the bytes covered by checksums, the last chunk kept only if its
// CRC matches; the block file (and the meta file) are cut to it.
func validLength(blockPath, metaPath string) int64 {
	bi, err1 := os.Stat(blockPath)
	mi, err2 := os.Stat(metaPath)
	if err1 != nil || err2 != nil || bi.Size() == 0 || mi.Size() < MetaHeaderLen {
		return 0
	}
	chunks := min((bi.Size()+BytesPerChecksum-1)/BytesPerChecksum, (mi.Size()-MetaHeaderLen)/4)
	if chunks == 0 {
		_ = os.Truncate(blockPath, 0)
		return 0
	}
	lastStart := (chunks - 1) * BytesPerChecksum
	lastLen := min(BytesPerChecksum, bi.Size()-lastStart)
	valid := lastStart
	bf, err1 := openFile(blockPath, syscall.O_RDONLY, 0)
	mf, err2 := openFile(metaPath, syscall.O_RDONLY, 0)
	if err1 == nil && err2 == nil {
		buf := make([]byte, lastLen)
		var crc [4]byte
		if _, err := bf.ReadAt(buf, lastStart); err == nil {
			if _, err := mf.ReadAt(crc[:], MetaHeaderLen+4*(chunks-1)); err == nil &&
				binary.BigEndian.Uint32(crc[:]) == crc32.Checksum(buf, castagnoli) {
				valid = lastStart + lastLen
			}
		}
	}
	if bf != nil {
		bf.Close()
	}
	if mf != nil {
		mf.Close()
	}
	if bi.Size() > valid {
		_ = os.Truncate(blockPath, valid)
	}
	if want := metaSize(valid); mi.Size() > want {
		_ = os.Truncate(metaPath, want)
	}
	return valid
}

// scanDir pairs blk_<id> files with their blk_<id>_<gs>.meta files. A block
// file without a meta file (or the reverse) is left for the directory
// scanner to report.
func scanDir(v *Volume, dir string, state uint8) ([]*Replica, int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	metas := map[int64]int64{}
	var blocks []os.DirEntry
	for _, e := range entries {
		id, gs, meta, ok := parseBlockName(e.Name())
		switch {
		case !ok:
		case meta:
			if gs > metas[id] {
				metas[id] = gs
			}
		default:
			_ = id
			blocks = append(blocks, e)
		}
	}
	out := make([]*Replica, 0, len(blocks))
	var used int64
	for _, e := range blocks {
		id, _, _, _ := parseBlockName(e.Name())
		gs, ok := metas[id]
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, &Replica{ID: id, GenStamp: gs, NumBytes: info.Size(), State: state, Volume: v})
		used += info.Size() + metaSize(info.Size())
	}
	return out, used, nil
}
