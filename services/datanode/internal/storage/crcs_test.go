package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmallReplicaCRCsKept: a small replica is read without its meta file
// (its CRCs were kept by its writer, or by the first reader), yet a damaged
// block file is still caught; the block scanner's reader reads the meta
// file on disk; a replica beyond one packet keeps its meta file instead.
func TestSmallReplicaCRCsKept(t *testing.T) {
	st := openStore(t)
	data := []byte(strings.Repeat("c", 1300))
	r, err := st.WriteFinalized(bp, 1, 1001, data)
	if err != nil {
		t.Fatal(err)
	}
	st.CloseOpenFiles() // no descriptor kept: the read opens
	dir := r.Volume.finalizedDir(bp, 1)
	meta := filepath.Join(dir, MetaFileName(1, 1001))
	if err := os.Rename(meta, meta+".away"); err != nil {
		t.Fatal(err)
	}
	read := func(open func(string, int64) (*ReplicaReader, error)) ([]byte, error) {
		rr, err := open(bp, 1)
		if err != nil {
			return nil, err
		}
		defer rr.Close()
		var buf bytes.Buffer
		_, err = rr.ReadVerified(&buf, 0, rr.NumBytes)
		return buf.Bytes(), err
	}
	if got, err := read(st.OpenReplica); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read without the meta file: %v", err)
	}
	var ue *UnreadableError
	if _, err := read(st.OpenReplicaOnDisk); !errors.As(err, &ue) || !errors.Is(err, ErrChecksum) {
		t.Fatalf("the scanner's read without the meta file: %v, want it unreadable", err)
	}
	if err := os.Rename(meta+".away", meta); err != nil {
		t.Fatal(err)
	}

	// Kept by the first reader: a replica whose CRCs were not kept.
	st.CloseOpenFiles()
	st.files.crcs.drop(bp, 1)
	if got, err := read(st.OpenReplica); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("first read: %v", err)
	}
	if crcs, ok := st.files.crcs.get(bp, r); !ok || !bytes.Equal(crcs, ChecksumFile(data)[MetaHeaderLen:]) {
		t.Fatalf("the first reader kept CRCs %x (%v)", crcs, ok)
	}

	// The kept CRCs still catch a damaged block file.
	st.CloseOpenFiles()
	if err := os.WriteFile(filepath.Join(dir, BlockFileName(1)), bytes.Repeat([]byte("x"), len(data)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := read(st.OpenReplica); !errors.Is(err, ErrChecksum) {
		t.Fatalf("read of a damaged block file: %v, want a checksum error", err)
	}

	// Beyond a packet: the meta file is kept open, no CRCs.
	big := bytes.Repeat([]byte("b"), 70<<10)
	rb, err := st.WriteFinalized(bp, 2, 1001, big)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.files.crcs.get(bp, rb); ok {
		t.Fatal("the CRCs of a 70 KiB replica were kept")
	}
	if f := st.files.m[openKey{bp, 2}]; f == nil || f.meta == nil {
		t.Fatal("a 70 KiB replica's meta file was not kept open")
	}
	if st.Delete(bp, 1, 1001); st.files.crcs.m[openKey{bp, 1}] != nil {
		t.Fatal("a deleted replica's CRCs are kept")
	}
}

// TestCRCCacheBounded: the kept CRCs never take more than their bound,
// the least recently used going first, and an entry answers only for the
// replica it was kept for.
func TestCRCCacheBounded(t *testing.T) {
	v := &Volume{}
	c := crcCache{max: 10 * (8 + crcEntryBytes)}
	kept := func(id int64) bool {
		_, ok := c.get(bp, Replica{ID: id, GenStamp: 1001, NumBytes: 1024, Volume: v})
		return ok
	}
	for id := int64(1); id <= 15; id++ {
		c.put(bp, Replica{ID: id, GenStamp: 1001, NumBytes: 1024, Volume: v}, make([]byte, 8))
		if id == 10 && !kept(1) { // 1 is used: it outlives 2 to 6
			t.Fatal("block 1 is gone with room for ten")
		}
	}
	if c.size > c.max || len(c.m) != 10 {
		t.Fatalf("%d entries of %d bytes, bound %d", len(c.m), c.size, c.max)
	}
	for id := int64(2); id <= 6; id++ {
		if kept(id) {
			t.Fatalf("block %d, among the least recently used, is still kept", id)
		}
	}
	if !kept(1) || !kept(7) || !kept(15) {
		t.Fatal("a recently used entry is gone")
	}
	for _, other := range []Replica{
		{ID: 15, GenStamp: 1002, NumBytes: 1024, Volume: v},
		{ID: 15, GenStamp: 1001, NumBytes: 1000, Volume: v},
		{ID: 15, GenStamp: 1001, NumBytes: 1024, Volume: &Volume{}},
	} {
		if _, ok := c.get(bp, other); ok {
			t.Fatalf("the CRCs of block 15 answered for %+v", other)
		}
	}
	c.put(bp, Replica{ID: 21, GenStamp: 1001, NumBytes: 1024, Volume: v}, make([]byte, 4))
	if _, ok := c.get(bp, Replica{ID: 21, GenStamp: 1001, NumBytes: 1024, Volume: v}); ok {
		t.Fatal("CRCs of the wrong length were kept")
	}
}
