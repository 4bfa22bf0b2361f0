package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/metadata"
)

// smallBlocks makes the minimum block size 1 KiB so tests can cross block
// boundaries with small files.
func smallBlocks(cfg *cluster.Config) {
	inner := cfg.Metadata
	cfg.Metadata = func(m *metadata.Config) {
		inner(m)
		m.MinBlockSize = 1024
	}
}

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func writeFile(t *testing.T, c *client.Client, path string, data []byte, opts client.CreateOptions) {
	t.Helper()
	w, err := c.Create(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	// Uneven writes, as real callers do.
	for off := 0; off < len(data); {
		n := min(len(data)-off, 1+off%7919)
		if _, err := w.Write(data[off : off+n]); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
		off += n
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close %s: %v", path, err)
	}
}

func readFile(t *testing.T, c *client.Client, path string) []byte {
	t.Helper()
	r, err := c.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func TestClientRoundTrips(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	cl := newClient(c, "hdfs")
	const bs = 4096
	for _, size := range []int{0, 1, 511, 512, 513, bs - 1, bs, bs + 1, 3*bs + 100} {
		data := randomBytes(size, int64(size))
		path := "/rt/f" + strconv.Itoa(size)
		writeFile(t, cl, path, data, client.CreateOptions{BlockSize: bs, Replication: 3})
		if got := readFile(t, cl, path); !bytes.Equal(got, data) {
			t.Fatalf("size %d: read %d bytes back, different", size, len(got))
		}
		st, err := cl.Stat(context.Background(), path)
		if err != nil || st.Length != int64(size) {
			t.Fatalf("size %d: stat %+v %v", size, st, err)
		}
	}
	// Append adds at the end.
	data := randomBytes(5000, 1)
	writeFile(t, cl, "/rt/app", data[:3000], client.CreateOptions{BlockSize: bs})
	w, err := cl.Append(context.Background(), "/rt/app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[3000:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, cl, "/rt/app"); !bytes.Equal(got, data) {
		t.Fatalf("after append: %d bytes, different", len(got))
	}
	// A second writer of an open file is refused.
	w1, err := cl.Create(context.Background(), "/rt/busy", client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := newClient(c, "hdfs")
	if _, err := other.Create(context.Background(), "/rt/busy", client.CreateOptions{Overwrite: true}); !errs.Is(err, errs.AlreadyBeingCreated) {
		t.Fatalf("second writer: %v", err)
	}
	if _, err := other.Append(context.Background(), "/rt/busy"); !errs.Is(err, errs.AlreadyBeingCreated) {
		t.Fatalf("second appender: %v", err)
	}
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	// Checksums: equal for equal bytes written alike, different otherwise.
	same := randomBytes(3*bs+7, 42)
	writeFile(t, cl, "/ck/a", same, client.CreateOptions{BlockSize: bs})
	writeFile(t, cl, "/ck/b", same, client.CreateOptions{BlockSize: bs})
	writeFile(t, cl, "/ck/c", append(append([]byte{}, same[:len(same)-1]...), same[len(same)-1]^1), client.CreateOptions{BlockSize: bs})
	ca, _ := cl.FileChecksum(context.Background(), "/ck/a")
	cb, _ := cl.FileChecksum(context.Background(), "/ck/b")
	cc, _ := cl.FileChecksum(context.Background(), "/ck/c")
	if ca.Bytes == "" || ca != cb || ca == cc {
		t.Fatalf("checksums a=%+v b=%+v c=%+v", ca, cb, cc)
	}
	if ca.Algorithm != "MD5-of-8MD5-of-512CRC32C" || ca.Length != 28 {
		t.Fatalf("algorithm %q length %d", ca.Algorithm, ca.Length)
	}
	writeFile(t, cl, "/ck/empty", nil, client.CreateOptions{})
	ce, _ := cl.FileChecksum(context.Background(), "/ck/empty")
	if ce.Algorithm != "MD5-of-0MD5-of-0CRC32" || ce.Bytes != "00000000000000000000000070bc8f4b72a86921468bf8e8441dce51" {
		t.Fatalf("empty file checksum %+v", ce)
	}
}

// appendBytes appends data to path through the Go client.
func appendBytes(t *testing.T, cl *client.Client, path string, data []byte) {
	t.Helper()
	w, err := cl.Append(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAppendContinuesThePartialBlock: as HDFS's append (without
// NEW_BLOCK), appended bytes fill the file's partial last block under a new
// generation stamp, so an appended file has the blocks — and the file
// checksum — of the same bytes written in one go; with a datanode of the
// last block gone, the append still succeeds, a fourth datanode replacing
// the lost one (replace-datanode-on-failure).
func TestAppendContinuesThePartialBlock(t *testing.T) {
	c := testCluster(t, 4, smallBlocks)
	cl := newClient(c, "hdfs")
	const bs = 64 << 10
	data := randomBytes(2*bs+5000, 9)
	opts := client.CreateOptions{BlockSize: bs, Replication: 3}
	writeFile(t, cl, "/ap/one", data, opts)
	writeFile(t, cl, "/ap/f", data[:1000], opts)
	before := locations(t, c, "/ap/f")[0].Block
	for _, cut := range [][2]int{{1000, 1000}, {1000, 3000}, {3000, bs + 100}, {bs + 100, 2*bs + 5000}} {
		appendBytes(t, cl, "/ap/f", data[cut[0]:cut[1]])
		if got := readFile(t, cl, "/ap/f"); !bytes.Equal(got, data[:cut[1]]) {
			t.Fatalf("after appending up to %d: %d bytes, different", cut[1], len(got))
		}
	}
	lbs := locations(t, c, "/ap/f")
	if len(lbs) != 3 || lbs[0].Block.BlockID != before.BlockID || lbs[0].Block.GenerationStamp <= before.GenerationStamp {
		t.Fatalf("blocks after the appends: %+v (the first was %+v)", lbs, before)
	}
	one, _ := cl.FileChecksum(context.Background(), "/ap/one")
	got, _ := cl.FileChecksum(context.Background(), "/ap/f")
	if one.Bytes == "" || got != one {
		t.Fatalf("checksum of the appended file %+v, of the same bytes written at once %+v", got, one)
	}
	// A datanode of the partial last block is gone (not yet declared
	// dead, so still offered): the append goes on without it.
	last := lbs[len(lbs)-1]
	victim := last.uuids()[0]
	if err := c.KillDatanode(index(t, c, victim)); err != nil {
		t.Fatal(err)
	}
	more := randomBytes(3000, 10)
	appendBytes(t, cl, "/ap/f", more)
	want := append(append([]byte{}, data...), more...)
	if got := readFile(t, cl, "/ap/f"); !bytes.Equal(got, want) {
		t.Fatalf("after the append without a datanode: %d bytes, different", len(got))
	}
	final := locations(t, c, "/ap/f")
	if len(final) != 3 || final[2].Block.BlockID != last.Block.BlockID || final[2].Block.GenerationStamp <= last.Block.GenerationStamp {
		t.Fatalf("last block after the recovered append: %+v, was %+v", final[2].Block, last.Block)
	}
	if holders := final[2].uuids(); len(holders) != 3 || slices.Contains(holders, victim) {
		t.Fatalf("last block on %v after the append without %s: want the two survivors and a replacement", holders, victim)
	}
}

// TestReplaceDatanodeOnFailurePolicy: with no datanode left to replace a
// failed one, HDFS's default policy fails an append (replication 3, two
// survivors) with its message; best effort goes on with the survivors.
func TestReplaceDatanodeOnFailurePolicy(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	cl := newClient(c, "hdfs")
	opts := client.CreateOptions{BlockSize: 64 << 10, Replication: 3}
	data := randomBytes(3000, 11)
	writeFile(t, cl, "/rp/a", data[:1000], opts)
	writeFile(t, cl, "/rp/b", data[:1000], opts)
	if err := c.KillDatanode(index(t, c, locations(t, c, "/rp/a")[0].uuids()[0])); err != nil {
		t.Fatal(err)
	}
	w, err := cl.Append(context.Background(), "/rp/a")
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Write(data[1000:])
	if err == nil {
		err = w.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "Failed to replace a bad datanode on the existing pipeline due to no more good datanodes being available to try") ||
		!strings.Contains(err.Error(), "The current failed datanode replacement policy is DEFAULT") {
		t.Fatalf("append without a replacement datanode: %v", err)
	}
	best := newClient(c, "hdfs")
	best.ReplaceDatanodeBestEffort = true
	appendBytes(t, best, "/rp/b", data[1000:])
	if got := readFile(t, best, "/rp/b"); !bytes.Equal(got, data) {
		t.Fatalf("best-effort append: %d bytes, different", len(got))
	}
}

// TestPipelineCallsRefuseBadInput: updateBlockForPipeline, updatePipeline,
// getAdditionalDatanode and reportBadBlocks answer RemoteExceptions with HDFS's status codes
// and change nothing when the request is wrong.
func TestPipelineCallsRefuseBadInput(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	lb := newFile(t, c, "/pc/f", 2)
	blk := lb.Block
	u := func(op string) string { return c.MetadataURL + "/api/v1/" + op + "?user.name=hdfs" }
	other := blk
	other.BlockID++
	pool := blk
	pool.BlockPoolID = "BP-0-other"
	for _, tc := range []struct {
		op        string
		body      map[string]any
		code      int
		exception string
	}{
		{"updateBlockForPipeline", map[string]any{"path": "/pc/f", "clientName": "test", "block": other}, 403, "IOException"},
		{"updateBlockForPipeline", map[string]any{"path": "/pc/f", "clientName": "intruder", "block": blk}, 403, "LeaseExpiredException"},
		{"updateBlockForPipeline", map[string]any{"path": "/pc/f", "clientName": "test", "block": pool}, 400, "IllegalArgumentException"},
		{"updateBlockForPipeline", map[string]any{"path": "/pc/none", "clientName": "test", "block": blk}, 404, "FileNotFoundException"},
		{"updateBlockForPipeline", map[string]any{"path": "/pc/f", "clientName": "test", "block": blk, "extra": 1}, 400, "IllegalArgumentException"},
		{"updatePipeline", map[string]any{"path": "/pc/f", "clientName": "test", "oldBlock": blk, "newBlock": blk}, 403, "IOException"},
		{"getAdditionalDatanode", map[string]any{"path": "/pc/f", "clientName": "test", "block": blk, "existing": lb.uuids(), "numAdditionalNodes": 0}, 400, "IllegalArgumentException"},
		{"getAdditionalDatanode", map[string]any{"path": "/pc/f", "clientName": "test", "block": other, "existing": lb.uuids(), "numAdditionalNodes": 1}, 403, "IOException"},
		{"reportBadBlocks", map[string]any{"blocks": []any{}}, 400, "IllegalArgumentException"},
		{"reportBadBlocks", map[string]any{"blocks": []any{map[string]any{"block": pool, "locations": []any{map[string]any{"uuid": "x"}}}}}, 400, "IllegalArgumentException"},
		{"reportBadBlocks", map[string]any{"blocks": []any{map[string]any{"block": blk, "locations": []any{}}}}, 400, "IllegalArgumentException"},
	} {
		b, _ := json.Marshal(tc.body)
		code, _, body := curlL(t, "POST", u(tc.op), b)
		if code != tc.code || !bytes.Contains(body, []byte(`"exception":"`+tc.exception+`"`)) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.op, b, code, body, tc.code, tc.exception)
		}
	}
	// Nothing changed: the block keeps its stamp, and a good call works.
	if got := locations(t, c, "/pc/f"); len(got) != 1 || got[0].Block.GenerationStamp != blk.GenerationStamp {
		t.Fatalf("blocks after refused calls: %+v, want stamp %d", got, blk.GenerationStamp)
	}
	var add located
	if code := call(t, "POST", u("getAdditionalDatanode"), map[string]any{"path": "/pc/f", "clientName": "test", "block": blk, "existing": lb.uuids(), "numAdditionalNodes": 1}, &add); code != 200 || len(add.Locations) != 1 || slices.Contains(lb.uuids(), add.Locations[0].UUID) {
		t.Fatalf("getAdditionalDatanode: %d %+v (existing %v)", code, add, lb.uuids())
	}
}
