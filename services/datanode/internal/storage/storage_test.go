package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/golden"
)

const bp = "BP-1-127.0.0.1-1"

func volumes(t *testing.T, n int) []string {
	t.Helper()
	root := t.TempDir()
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = filepath.Join(root, "vol"+string(rune('a'+i)))
	}
	return dirs
}

func TestLayoutAndRestart(t *testing.T) {
	dirs := volumes(t, 2)
	st := openPool(t, dirs)
	data := []byte(strings.Repeat("a", 1300))
	ids := []int64{1 << 30, 1<<30 + 1, 1<<30 + 0x12345}
	for _, id := range ids {
		if _, err := st.WriteFinalized(bp, id, 1001, data); err != nil {
			t.Fatal(err)
		}
	}
	// HDFS's layout: finalized/subdir((id>>16)&31)/subdir((id>>8)&31)/blk_<id>.
	r, _ := st.Get(bp, 1<<30+0x12345)
	want := filepath.Join(r.Volume.Dir, "current", bp, "current", "finalized", "subdir1", "subdir3", "blk_1073816389")
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("block file not at %s: %v", want, err)
	}
	meta, err := os.ReadFile(filepath.Join(filepath.Dir(want), "blk_1073816389_1001.meta"))
	if err != nil {
		t.Fatal(err)
	}
	if binary.BigEndian.Uint16(meta[0:2]) != 1 || meta[2] != 2 || binary.BigEndian.Uint32(meta[3:7]) != 512 || len(meta) != 7+3*4 {
		t.Fatalf("meta header/length wrong: %x (len %d)", meta[:7], len(meta))
	}
	if got := binary.BigEndian.Uint32(meta[7+2*4:]); got != crc32.Checksum(data[1024:], crc32.MakeTable(crc32.Castagnoli)) {
		t.Fatal("last chunk's CRC32C is not over its partial bytes")
	}
	// Round-robin over the volumes.
	r0, _ := st.Get(bp, ids[0])
	r1, _ := st.Get(bp, ids[1])
	if r0.Volume == r1.Volume {
		t.Fatal("two consecutive replicas on one volume")
	}
	// A tmp file left by a crash is cleared at start; VERSION keeps the identity.
	junk := filepath.Join(dirs[0], "current", bp, "tmp", "blk_99")
	if err := os.WriteFile(junk, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	uuid := st.DatanodeUUID()
	st.SaveDfsUsed()
	st2, err := Open(dirs, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st2.DatanodeUUID() != uuid || st2.ClusterID() != "CID-1" {
		t.Fatalf("identity after restart: %s %s", st2.DatanodeUUID(), st2.ClusterID())
	}
	if st2.Count(bp) != len(ids) {
		t.Fatalf("scan found %d replicas, want %d", st2.Count(bp), len(ids))
	}
	if _, err := os.Stat(junk); !os.IsNotExist(err) {
		t.Fatal("tmp/ was not cleared at start")
	}
	var used int64
	for _, v := range st2.Reports(bp) {
		used += v.DfsUsed
	}
	if used != 3*(1300+7+3*4) {
		t.Fatalf("dfsUsed after restart %d", used)
	}
	// Another cluster's handshake is refused with both IDs named.
	err = st2.InitBlockPool("CID-2", bp, 42, 7)
	if err == nil || !strings.Contains(err.Error(), "CID-1") || !strings.Contains(err.Error(), "CID-2") {
		t.Fatalf("wrong-cluster error: %v", err)
	}
	if !st2.Delete(bp, ids[0], 1001) || st2.Count(bp) != 2 {
		t.Fatal("delete failed")
	}
	if _, err := os.Stat(r0.Volume.FinalizedPath(bp, ids[0])); !os.IsNotExist(err) {
		t.Fatal("deleted replica's block file remains")
	}
}

func TestFailedVolumesTolerated(t *testing.T) {
	dirs := volumes(t, 2)
	// A volume whose path is a file cannot be used.
	if err := os.WriteFile(dirs[1], []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dirs, 0, 0); err == nil || !strings.Contains(err.Error(), "volumes failed: 1, volume failures tolerated: 0") {
		t.Fatalf("with 0 tolerated: %v", err)
	}
	st, err := Open(dirs, 1, 0)
	if err != nil {
		t.Fatalf("with 1 tolerated: %v", err)
	}
	if st.FailedVolumes() != 1 || len(st.Reports(bp)) != 2 || !st.Reports(bp)[1].Failed {
		t.Fatalf("failed volumes %d, reports %+v", st.FailedVolumes(), st.Reports(bp))
	}
}

// openStore opens a store of one volume with the test block pool.
func openStore(t *testing.T) *Store { return openPool(t, volumes(t, 1)) }

// openPool opens a store of dirs with the test block pool.
func openPool(t *testing.T, dirs []string) *Store {
	t.Helper()
	st, err := Open(dirs, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InitBlockPool("CID-1", bp, 42, 7); err != nil {
		t.Fatal(err)
	}
	return st
}

// appendPackets writes data to w as a writer does after an append: the
// rest of a partial chunk alone first, then whole chunks.
func appendPackets(w *ReplicaWriter, have int64, data []byte) error {
	first := (BytesPerChecksum - int(have%BytesPerChecksum)) % BytesPerChecksum
	for len(data) > 0 {
		n := len(data)
		if first > 0 {
			n = min(n, first)
			first = 0
		} else {
			n = min(n, 4*BytesPerChecksum)
		}
		if err := w.Write(data[:n], ChecksumFile(data[:n])[MetaHeaderLen:]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func TestAppendContinuesTheReplica(t *testing.T) {
	st := openStore(t)
	all := []byte(strings.Repeat("0123456789abcdef", 200)) // 3200 bytes
	for i, c := range []struct{ before, added int }{{1300, 1000}, {1024, 700}, {100, 10}, {511, 1}, {0, 600}, {700, 0}} {
		id := int64(1<<30 + i)
		if _, err := st.WriteFinalized(bp, id, 1001, all[:c.before]); err != nil {
			t.Fatal(err)
		}
		w, err := st.AppendRBW(bp, id, 1001, 1002, int64(c.before))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.Get(bp, id); ok {
			t.Fatal("a replica being appended to is still offered")
		}
		if err := appendPackets(w, int64(c.before), all[c.before:c.before+c.added]); err != nil {
			t.Fatalf("append %d to %d: %v", c.added, c.before, err)
		}
		r, err := w.Finalize()
		if err != nil {
			t.Fatal(err)
		}
		want := all[:c.before+c.added]
		if r.GenStamp != 1002 || r.NumBytes != int64(len(want)) {
			t.Fatalf("replica after the append: %+v", r)
		}
		dir := filepath.Dir(r.Volume.FinalizedPath(bp, id))
		data, _ := os.ReadFile(filepath.Join(dir, BlockFileName(id)))
		meta, _ := os.ReadFile(filepath.Join(dir, MetaFileName(id, 1002)))
		if string(data) != string(want) || string(meta) != string(ChecksumFile(want)) {
			t.Fatalf("%d+%d: the files differ from a replica written in one go", c.before, c.added)
		}
		if _, err := os.Stat(filepath.Join(dir, MetaFileName(id, 1001))); !os.IsNotExist(err) {
			t.Fatal("the old meta file is still there")
		}
	}

	// An aborted append puts the replica back as it was; a wrong stamp or
	// length is refused; bytes past a partial chunk's end are refused.
	id := int64(1<<30 + 100)
	orig := all[:1300]
	if _, err := st.WriteFinalized(bp, id, 1001, orig); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendRBW(bp, id, 1000, 1002, 1300); err == nil {
		t.Fatal("an append with the wrong stamp was accepted")
	}
	if _, err := st.AppendRBW(bp, id, 1001, 1002, 1299); err == nil {
		t.Fatal("an append with the wrong length was accepted")
	}
	w, err := st.AppendRBW(bp, id, 1001, 1002, 1300)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(all[1300:1900], ChecksumFile(all[1300:1900])[MetaHeaderLen:]); err == nil {
		t.Fatal("bytes past the partial chunk were accepted")
	}
	if err := appendPackets(w, 1300, all[1300:2000]); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	r, ok := st.Get(bp, id)
	if !ok || r.GenStamp != 1001 || r.NumBytes != 1300 {
		t.Fatalf("after the abort: %+v %v", r, ok)
	}
	dir := filepath.Dir(r.Volume.FinalizedPath(bp, id))
	data, _ := os.ReadFile(filepath.Join(dir, BlockFileName(id)))
	meta, _ := os.ReadFile(filepath.Join(dir, MetaFileName(id, 1001)))
	if string(data) != string(orig) || string(meta) != string(ChecksumFile(orig)) {
		t.Fatal("an aborted append did not restore the replica")
	}
}

// TestDirectoryScanLeavesWritersAlone: replicas being written (a new one
// in rbw/, an append moved to rbw/) are neither added nor removed by the
// directory scan; once finished, the scan finds nothing to change.
func TestDirectoryScanLeavesWritersAlone(t *testing.T) {
	st := openStore(t)
	data := []byte(strings.Repeat("z", 1500))
	if _, err := st.WriteFinalized(bp, 1, 1001, data); err != nil {
		t.Fatal(err)
	}
	fresh, err := st.CreateRBW(bp, 2, 1001, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Write(data, ChecksumFile(data)[MetaHeaderLen:]); err != nil {
		t.Fatal(err)
	}
	appending, err := st.AppendRBW(bp, 1, 1001, 1002, 1500)
	if err != nil {
		t.Fatal(err)
	}
	if err := appendPackets(appending, 1500, data[:100]); err != nil {
		t.Fatal(err)
	}
	empty := func(d DirectoryDiff) bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }
	if d, err := st.ReconcileDisk(bp); err != nil || !empty(d) {
		t.Fatalf("scan during the writes: %+v %v", d, err)
	}
	if _, err := fresh.Finalize(); err != nil {
		t.Fatal(err)
	}
	if _, err := appending.Finalize(); err != nil {
		t.Fatal(err)
	}
	if d, err := st.ReconcileDisk(bp); err != nil || !empty(d) {
		t.Fatalf("scan after the writes: %+v %v", d, err)
	}
	if r, ok := st.Get(bp, 1); !ok || r.GenStamp != 1002 || r.NumBytes != 1600 {
		t.Fatalf("appended replica %+v %v", r, ok)
	}
}

// TestReadsDuringAnAppend: readers see the replica as it was before the
// append — one opened before it and one opened during it — even after the
// append replaced the CRC of the partial last chunk they read.
func TestReadsDuringAnAppend(t *testing.T) {
	st := openStore(t)
	data := []byte(strings.Repeat("0123456789", 200)) // 2000 bytes
	if _, err := st.WriteFinalized(bp, 7, 1001, data[:1300]); err != nil {
		t.Fatal(err)
	}
	before, err := st.OpenReplica(bp, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	w, err := st.AppendRBW(bp, 7, 1001, 1002, 1300)
	if err != nil {
		t.Fatal(err)
	}
	if err := appendPackets(w, 1300, data[1300:]); err != nil {
		t.Fatal(err)
	}
	if err := w.bw.Flush(); err != nil { // the appended bytes and CRCs reach the files
		t.Fatal(err)
	}
	if err := w.mw.Flush(); err != nil {
		t.Fatal(err)
	}
	during, err := st.OpenReplica(bp, 7)
	if err != nil {
		t.Fatalf("a replica being appended to cannot be read: %v", err)
	}
	defer during.Close()
	for name, rr := range map[string]*ReplicaReader{"opened before": before, "opened during": during} {
		var got bytes.Buffer
		if _, err := rr.ReadVerified(&got, 0, rr.NumBytes); err != nil || got.String() != string(data[:1300]) || rr.GenStamp != 1001 {
			t.Fatalf("reader %s the append: %d bytes, stamp %d, %v", name, got.Len(), rr.GenStamp, err)
		}
	}
	if _, err := w.Finalize(); err != nil {
		t.Fatal(err)
	}
	after, err := st.OpenReplica(bp, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	var got bytes.Buffer
	if _, err := after.ReadVerified(&got, 0, after.NumBytes); err != nil || got.String() != string(data) {
		t.Fatalf("after the append: %d bytes, %v", got.Len(), err)
	}
}

// TestDataDirPermission: data directories are created with
// dfs.datanode.data.dir.perm (700), and an existing one with another
// permission is set to it, as HDFS's DiskChecker does.
func TestDataDirPermission(t *testing.T) {
	dirs := volumes(t, 2)
	if err := os.MkdirAll(dirs[1], 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dirs, 0, 0); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v, want 700", d, fi.Mode().Perm(), err)
		}
	}
	if _, err := Open(dirs[:1], 0, 0o750); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dirs[0]); fi.Mode().Perm() != 0o750 {
		t.Fatalf("a configured permission of 750: %v", fi.Mode().Perm())
	}
}

// TestDuplicateReplicasDeleted: the same block found on two volumes at
// start keeps the newer generation stamp and the other copy's files are
// deleted (HDFS's deleteDuplicateReplicas), not only ignored.
func TestDuplicateReplicasDeleted(t *testing.T) {
	dirs := volumes(t, 2)
	st := openPool(t, dirs)
	const id = 1 << 30
	data := []byte(strings.Repeat("d", 2000))
	if _, err := st.WriteFinalized(bp, id, 1001, data); err != nil {
		t.Fatal(err)
	}
	old, _ := st.Get(bp, id)
	oldDir := filepath.Dir(old.Volume.FinalizedPath(bp, id))
	other := st.Volumes()[0]
	if other == old.Volume {
		other = st.Volumes()[1]
	}
	// A newer copy of the block on the other volume.
	newDir := filepath.Dir(other.FinalizedPath(bp, id))
	if err := os.MkdirAll(newDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(newDir, BlockFileName(id)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(newDir, MetaFileName(id, 1002)), ChecksumFile(data), 0o644); err != nil {
		t.Fatal(err)
	}
	st2, err := Open(dirs, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := st2.Get(bp, id)
	if !ok || r.GenStamp != 1002 || r.Volume.Dir != other.Dir {
		t.Fatalf("kept %+v, want the copy of stamp 1002 on %s", r, other.Dir)
	}
	for _, f := range []string{BlockFileName(id), MetaFileName(id, 1001)} {
		if _, err := os.Stat(filepath.Join(oldDir, f)); !os.IsNotExist(err) {
			t.Fatalf("the older copy's %s is still there: %v", f, err)
		}
	}
	// Same stamp: the longer copy wins; same length: the first found.
	a, b := &Replica{GenStamp: 5, NumBytes: 10}, &Replica{GenStamp: 5, NumBytes: 20}
	if keep, _ := selectReplicaToKeep(a, b); keep != b {
		t.Fatal("the shorter copy was kept")
	}
	if keep, _ := selectReplicaToKeep(b, &Replica{GenStamp: 5, NumBytes: 20}); keep != b {
		t.Fatal("of two equal copies the first found was not kept")
	}
}

// TestRBWReplicasRecoveredAtStart: a replica found in rbw/ at start is
// waiting to be recovered (RWR), at the length its checksums vouch for: a
// tail without its CRC, or a last chunk whose CRC does not match, is cut
// off (HDFS's validateIntegrityAndSetLength).
func TestRBWReplicasRecoveredAtStart(t *testing.T) {
	dirs := volumes(t, 1)
	openPool(t, dirs)
	rbw := filepath.Join(dirs[0], "current", bp, "current", "rbw")
	if err := os.MkdirAll(rbw, 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte(strings.Repeat("r", 1300))
	put := func(id int64, block, meta []byte) {
		if err := os.WriteFile(filepath.Join(rbw, BlockFileName(id)), block, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rbw, MetaFileName(id, 1001)), meta, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	meta := ChecksumFile(data)
	const whole, noCRC, badCRC = 1 << 30, 1<<30 + 1, 1<<30 + 2
	put(whole, data, meta)                              // every chunk vouched for
	put(noCRC, append(data, "tail"...), meta)           // 4 bytes past the last CRC'd chunk
	put(badCRC, data, append(meta[:len(meta)-1], 0xff)) // the last chunk's CRC is wrong
	st2, err := Open(dirs, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]int64{whole: 1300, noCRC: 1024, badCRC: 1024} {
		r, ok := st2.Get(bp, id)
		if !ok || r.State != RWR || r.NumBytes != want {
			t.Fatalf("block %d: %+v, want RWR of %d bytes", id, r, want)
		}
		if fi, err := os.Stat(filepath.Join(rbw, BlockFileName(id))); err != nil || fi.Size() != want {
			t.Fatalf("block %d's file was not cut to %d: %v %v", id, want, fi.Size(), err)
		}
	}
}

// TestNewerLayoutRefused: a volume whose VERSION was written by a newer
// layout (a lower layoutVersion) is refused with HDFS's message.
func TestNewerLayoutRefused(t *testing.T) {
	dirs := volumes(t, 1)
	if _, err := Open(dirs, 0, 0); err != nil {
		t.Fatal(err)
	}
	version := filepath.Join(dirs[0], "current", "VERSION")
	b, err := os.ReadFile(version)
	if err != nil {
		t.Fatal(err)
	}
	newer := strings.Replace(string(b), "layoutVersion=-57", "layoutVersion=-58", 1)
	if newer == string(b) {
		t.Fatalf("VERSION has no layoutVersion=-57:\n%s", b)
	}
	if err := os.WriteFile(version, []byte(newer), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dirs, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "Unexpected version of storage directory "+dirs[0]+". Reported: -58. Expecting = -57.") {
		t.Fatalf("a newer layout: %v", err)
	}
}

// TestStorageTypes: a data directory's [TYPE] prefix names its storage
// type (DISK without one), as HDFS's StorageLocation; an unknown one is an
// error.
func TestStorageTypes(t *testing.T) {
	dirs := volumes(t, 3)
	st, err := Open([]string{"[SSD]" + dirs[0], "[archive]" + dirs[1], dirs[2]}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"SSD", "ARCHIVE", "DISK"} {
		if v := st.Volumes()[i]; v.StorageType != want || v.Dir != dirs[i] {
			t.Fatalf("volume %d: %s at %s, want %s at %s", i, v.StorageType, v.Dir, want, dirs[i])
		}
	}
	if _, err := Open([]string{"[FLOPPY]" + dirs[0]}, 0, 0); err == nil || !strings.Contains(err.Error(), "No enum constant org.apache.hadoop.fs.StorageType.FLOPPY") {
		t.Fatalf("an unknown storage type: %v", err)
	}
}

// TestMetaFileGolden: a meta file (HDFS's BlockMetadataHeader — version 1,
// CRC32C, 512 bytes per checksum — and one CRC per chunk) for 1300 bytes,
// against the committed bytes; the header decodes to what it says.
func TestMetaFileGolden(t *testing.T) {
	data := bytes.Repeat([]byte("m"), 1300)
	meta := golden.Check(t, "meta.bin", ChecksumFile(data))
	if binary.BigEndian.Uint16(meta[0:2]) != 1 || meta[2] != 2 || binary.BigEndian.Uint32(meta[3:7]) != BytesPerChecksum || len(meta) != int(metaSize(1300)) {
		t.Fatalf("golden meta header %x, length %d", meta[:7], len(meta))
	}
}

// TestDfsUsedPerBlockPoolSlice: dfsUsed is saved per block pool slice
// (current/<bpid>/current/dfsUsed) and read back at start only while
// fresh; a stale figure is ignored and the scan's counts.
func TestDfsUsedPerBlockPoolSlice(t *testing.T) {
	dirs := volumes(t, 1)
	st := openPool(t, dirs)
	if _, err := st.WriteFinalized(bp, 1<<30, 1001, bytes.Repeat([]byte("u"), 1000)); err != nil {
		t.Fatal(err)
	}
	st.SaveDfsUsed()
	file := filepath.Join(dirs[0], "current", bp, "current", "dfsUsed")
	b, err := os.ReadFile(file)
	if err != nil || !strings.HasPrefix(string(b), fmt.Sprintf("%d ", 1000+metaSize(1000))) {
		t.Fatalf("the slice's dfsUsed: %q %v", b, err)
	}
	// A fresh figure is trusted (here one that differs from the disk's).
	if err := os.WriteFile(file, []byte(fmt.Sprintf("777 %d\n", time.Now().UnixMilli())), 0o644); err != nil {
		t.Fatal(err)
	}
	st2, err := Open(dirs, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := st2.Reports("")[0].DfsUsed; got != 777 {
		t.Fatalf("a fresh cached dfsUsed was not used: %d", got)
	}
	// A stale one is not.
	if err := os.WriteFile(file, []byte(fmt.Sprintf("777 %d\n", time.Now().Add(-time.Hour).UnixMilli())), 0o644); err != nil {
		t.Fatal(err)
	}
	st3, err := Open(dirs, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := st3.Reports("")[0].DfsUsed; got != 1000+metaSize(1000) {
		t.Fatalf("a stale cached dfsUsed was trusted: %d", got)
	}
}

// TestUpgradeRollbackFinalize (HDFS's BlockPoolSliceStorage): a block pool
// slice of an older layout is upgraded at start with previous/ kept as hard
// links to the same block files; a rollback brings the old layout back,
// with a replica deleted since; finalizing deletes previous/.
func TestUpgradeRollbackFinalize(t *testing.T) {
	dirs := volumes(t, 1)
	st := openPool(t, dirs)
	const id = 1 << 30
	data := []byte(strings.Repeat("v", 700))
	if _, err := st.WriteFinalized(bp, id, 1001, data); err != nil {
		t.Fatal(err)
	}
	slice := filepath.Join(dirs[0], "current", bp)
	older := func() {
		version := filepath.Join(slice, "current", "VERSION")
		b, err := os.ReadFile(version)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(version, []byte(strings.Replace(string(b), "layoutVersion=-57", "layoutVersion=-56", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	older()
	st2, err := Open(dirs, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := st2.Get(bp, id); !ok || r.NumBytes != 700 {
		t.Fatalf("the replica after the upgrade: %+v %v", r, ok)
	}
	rel := strings.TrimPrefix(st2.Volumes()[0].FinalizedPath(bp, id), filepath.Join(slice, "current"))
	cur, err1 := os.Stat(filepath.Join(slice, "current", rel))
	prev, err2 := os.Stat(filepath.Join(slice, "previous", rel))
	if err1 != nil || err2 != nil || !os.SameFile(cur, prev) {
		t.Fatalf("the block file is not one file linked from current/ and previous/: %v %v", err1, err2)
	}
	if b, _ := os.ReadFile(filepath.Join(slice, "current", "VERSION")); !strings.Contains(string(b), "layoutVersion=-57") {
		t.Fatalf("the upgraded VERSION:\n%s", b)
	}
	// A replica deleted after the upgrade comes back with a rollback.
	if !st2.Delete(bp, id, 1001) {
		t.Fatal("delete")
	}
	rolled, err := Rollback(dirs)
	if err != nil || len(rolled) != 1 {
		t.Fatalf("rollback: %v %v", rolled, err)
	}
	if _, err := os.Stat(filepath.Join(slice, "current", rel)); err != nil {
		t.Fatalf("the rollback did not bring the replica back: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(slice, "current", "VERSION")); !strings.Contains(string(b), "layoutVersion=-56") {
		t.Fatalf("the rolled-back VERSION:\n%s", b)
	}
	// Upgraded again, then finalized: previous/ goes, current/ stays.
	st3, err := Open(dirs, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	done, err := st3.FinalizeUpgrade(bp)
	if err != nil || len(done) != 1 {
		t.Fatalf("finalize: %v %v", done, err)
	}
	if _, err := os.Stat(filepath.Join(slice, "previous")); !os.IsNotExist(err) {
		t.Fatalf("previous/ after finalizing: %v", err)
	}
	if r, ok := st3.Get(bp, id); !ok || r.NumBytes != 700 {
		t.Fatalf("the replica after finalizing: %+v %v", r, ok)
	}
}
