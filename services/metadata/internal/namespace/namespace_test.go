package namespace

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/errs"
)

// recorder is a Journal that keeps ops in memory and commits at once: the
// unit tests here check the domain logic; the edit log's durability is
// tested against PostgreSQL in the store and service tests.
type recorder struct {
	txids []int64
	ops   []Op
}

type done struct{}

func (done) Wait(context.Context) error { return nil }

func (r *recorder) Append(txid int64, op Op, _ []BlockChange) Commit {
	r.txids = append(r.txids, txid)
	r.ops = append(r.ops, op)
	return done{}
}

func newTestNS() (*Namespace, *recorder) {
	clock := time.UnixMilli(1_700_000_000_000)
	ns := New(Config{Superuser: "hdfs", Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock }})
	r := &recorder{}
	ns.SetJournal(r)
	return ns, r
}

var super = &User{Name: "hdfs", Groups: []string{"supergroup"}}

func image(t *testing.T, ns *Namespace) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := ns.WriteImage(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func allOps() []Op {
	return []Op{
		&Mkdir{InodeID: 16386, Path: "/a", Owner: "u", Group: "g", Mode: 0o755, Mtime: 5},
		&Add{InodeID: 16387, Path: "/a/f", Replication: 3, Mtime: 6, Atime: 6, BlockSize: 1 << 27, Owner: "u", Group: "g", Mode: 0o644, ClientName: "c", ClientMachine: "127.0.0.1", Overwrite: true, RPC: CallID{Client: "0f1e", Call: 7}},
		&Close{Path: "/a/f", Mtime: 7, Atime: 8, Blocks: []Block{{ID: 1 << 30, GenStamp: 1001, NumBytes: 42}}},
		&Delete{Path: "/a/f", Mtime: 9},
		&Delete{Path: "/a/g", Mtime: 9, RPC: CallID{Client: "c-1", Call: 1 << 40}},
		&RenameOld{Src: "/a", Dst: "/b", Mtime: 10},
		&SetPermissions{Path: "/b", Mode: 0o1777},
		&SetOwner{Path: "/b", Owner: "x", Group: ""},
		&Times{Path: "/b", Mtime: -1, Atime: 11},
		&SetReplication{Path: "/b/f", Replication: 2},
		&SetQuota{Path: "/b", NS: 10, DS: QuotaDontSet},
		&AddBlock{Path: "/b/f", Last: Block{ID: 1<<30 + 1, GenStamp: 1002}},
		&AddBlock{Path: "/b/f", Penultimate: &Block{ID: 1<<30 + 1, GenStamp: 1002, NumBytes: 7}, Last: Block{ID: 1<<30 + 2, GenStamp: 1003}},
		&UpdateBlocks{Path: "/b/f", Blocks: []Block{{ID: 1 << 30, GenStamp: 1001, NumBytes: 9}}},
		&SetGenstamp{GenStamp: 1004},
		&AppendOp{Path: "/b/f", ClientName: "c2", ClientMachine: "10.0.0.1"},
		&ConcatDelete{Target: "/b/f", Sources: []string{"/b/g", "/b/h"}, Mtime: 12, RPC: CallID{Client: "x", Call: 0}},
		&Truncate{Path: "/b/f", Blocks: []Block{{ID: 1 << 30, GenStamp: 1001, NumBytes: 9}}, Mtime: 13},
		&UpdateMasterKey{Key: DelegationKey{ID: 1, Expiry: 14, Key: []byte{1, 2, 3}}},
		&GetDelegationToken{Token: DelegationToken{Ident: []byte{0, 1, 'a'}, Renewal: 15, Groups: []string{"a", "b"}}},
		&RenewDelegationToken{Ident: []byte{0, 1, 'a'}, Renewal: 16},
		&CancelDelegationToken{Ident: []byte{0, 1, 'a'}},
		&Truncate{Path: "/b/f", Blocks: []Block{{ID: 1 << 30, GenStamp: 1001, NumBytes: 5}}, Mtime: 17, ClientName: "DFSClient_-42", ClientMachine: "10.0.0.3", RecoveryGS: 1005},
	}
}

func TestOpCodecRoundTrip(t *testing.T) {
	for _, op := range allOps() {
		b := EncodeOp(op)
		got, err := DecodeOp(op.Code(), b)
		if err != nil {
			t.Fatalf("%v: %v", op.Code(), err)
		}
		if !reflect.DeepEqual(got, op) {
			t.Fatalf("%v: decoded %#v, want %#v", op.Code(), got, op)
		}
		if _, err := DecodeOp(op.Code(), b[:len(b)-1]); err == nil {
			t.Fatalf("%v: truncated payload decoded", op.Code())
		}
	}
	if _, err := DecodeOp(99, []byte{1}); err == nil {
		t.Fatal("unknown op code decoded")
	}
	// Only the ops of non-idempotent calls carry a call ID (version 2).
	mkdir := EncodeOp(allOps()[0])
	if _, err := DecodeOp(OpMkdir, append([]byte{payloadVersionCall}, mkdir[1:]...)); err == nil {
		t.Fatal("a mkdir with a call ID decoded")
	}
}

func FuzzDecodeOp(f *testing.F) {
	for _, op := range allOps() {
		f.Add(uint8(op.Code()), EncodeOp(op))
	}
	f.Fuzz(func(t *testing.T, code uint8, payload []byte) {
		op, err := DecodeOp(OpCode(code), payload)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes.
		if again := EncodeOp(op); !bytes.Equal(again, payload) {
			t.Fatalf("re-encoding %v: %x != %x", op.Code(), again, payload)
		}
	})
}

// randomWorkload applies n random live mutations, some of which fail.
func randomWorkload(ns *Namespace, seed int64, n int) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(seed))
	path := func() string {
		p := ""
		for d := rng.Intn(3) + 1; d > 0; d-- {
			p += fmt.Sprintf("/%c", 'a'+rng.Intn(4))
		}
		return p
	}
	users := []*User{super, {Name: "alice", Groups: []string{"alice"}}}
	for i := 0; i < n; i++ {
		u := users[rng.Intn(len(users))]
		var err error
		switch rng.Intn(9) {
		case 0, 1:
			err = ns.Mkdirs(ctx, u, path(), -1)
		case 2:
			p := path()
			opts := CreateOptions{Overwrite: rng.Intn(2) == 0, CreateParent: true, Mode: -1, ClientName: "c", BlockSize: 1 << 20}
			var last *Block
			if rng.Intn(2) == 0 {
				if _, last, err = ns.CreateWithBlock(ctx, u, p, opts); err != nil {
					break
				}
				if last != nil {
					last.NumBytes = int64(rng.Intn(1 << 20))
				}
			} else if _, err = ns.Create(ctx, u, p, opts); err != nil {
				break
			}
			for b := rng.Intn(3); b > 0; b-- {
				nb, err := ns.AddBlock(ctx, p, "c", last)
				if err != nil {
					break
				}
				nb.NumBytes = int64(rng.Intn(1 << 20))
				last = &nb
			}
			if last != nil && rng.Intn(4) == 0 {
				if nb, err := ns.UpdateBlockForPipeline(ctx, p, "c", last.ID); err == nil && rng.Intn(2) == 0 {
					nb.NumBytes = last.NumBytes
					if ns.UpdatePipeline(ctx, p, "c", Block{ID: last.ID, GenStamp: last.GenStamp}, nb) == nil {
						last = &nb
					}
				}
			}
			if last != nil && rng.Intn(4) == 0 {
				_ = ns.AbandonBlock(ctx, p, "c", last.ID)
				last, _ = ns.LastBlock(p, "c")
			}
			if rng.Intn(3) > 0 {
				err = ns.Complete(ctx, u, p, "c", last)
			}
		case 3:
			if rng.Intn(3) == 0 {
				p := path()
				if _, err = ns.Append(ctx, u, p, "c", "h"); err == nil {
					if nb, err := ns.AddBlock(ctx, p, "c", lastOf(ns, p)); err == nil {
						nb.NumBytes = 10
						_ = ns.Complete(ctx, u, p, "c", &nb)
					}
				}
				break
			}
			_, err = ns.Delete(ctx, u, path(), rng.Intn(2) == 0)
		case 4:
			_, err = ns.Rename(ctx, u, path(), path())
		case 5:
			err = ns.SetPermission(ctx, u, path(), uint16(rng.Intn(0o1000)))
		case 6:
			err = ns.SetQuota(ctx, u, path(), int64(rng.Intn(20)+1), QuotaDontSet)
		case 7:
			_, err = ns.SetReplication(ctx, u, path(), rng.Intn(5)+1)
		case 8:
			switch rng.Intn(3) {
			case 0:
				err = ns.SetTimes(ctx, u, path(), int64(rng.Intn(1000)), -1)
			case 1:
				err = ns.Concat(ctx, u, path(), []string{path(), path()})
			case 2:
				_, err = ns.Truncate(ctx, u, path(), int64(rng.Intn(1<<21)), "t", "10.0.0.9")
			}
		}
		_ = err // failures are part of the workload: they must log nothing
	}
}

// replay replays what rec logged into a new namespace, each op
// round-tripped through the codec as the edit log does.
func replay(t *testing.T, rec *recorder) *Namespace {
	t.Helper()
	replayed := New(Config{Superuser: "hdfs"})
	for i, op := range rec.ops {
		decoded, err := DecodeOp(op.Code(), EncodeOp(op))
		if err != nil {
			t.Fatal(err)
		}
		if err := replayed.Replay(rec.txids[i], decoded); err != nil {
			t.Fatalf("replay of txid %d (%v): %v", rec.txids[i], op.Code(), err)
		}
	}
	return replayed
}

func TestReplayReproducesTheTree(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		live, rec := newTestNS()
		randomWorkload(live, seed, 3000)
		if len(rec.ops) == 0 {
			t.Fatal("workload logged nothing")
		}
		replayed := replay(t, rec)
		if !bytes.Equal(image(t, live), image(t, replayed)) {
			t.Fatalf("seed %d: replayed tree differs from the live tree", seed)
		}
		checkBlockCount(t, "live", live)
		checkBlockCount(t, "replayed", replayed)
	}
}

// checkBlockCount compares the complete-block counter safe mode reads with
// a count of the tree.
func checkBlockCount(t *testing.T, what string, ns *Namespace) {
	t.Helper()
	_, _, want := countKinds(ns.root)
	if got := ns.CompleteBlocks(); got != want {
		t.Fatalf("%s namespace: CompleteBlocks() = %d, the tree holds %d complete blocks", what, got, want)
	}
}

func TestCreateWithBlock(t *testing.T) {
	ctx := context.Background()
	ns, rec := newTestNS()
	opts := CreateOptions{CreateParent: true, Mode: -1, ClientName: "c", BlockSize: 1 << 20, Replication: 2}
	st, b, err := ns.CreateWithBlock(ctx, super, "/d/f", opts)
	if err != nil || b == nil {
		t.Fatalf("CreateWithBlock = %v, %v", b, err)
	}
	if !st.UnderConstruction || st.Length != 0 || st.Replication != 2 {
		t.Fatalf("status %+v", st)
	}
	if last, err := ns.LastBlock("/d/f", "c"); err != nil || last == nil || last.ID != b.ID || last.GenStamp != b.GenStamp {
		t.Fatalf("LastBlock = %v, %v; want block %d", last, err, b.ID)
	}
	n := len(rec.ops)
	if n < 3 || rec.ops[n-2].Code() != OpAdd || rec.ops[n-1].Code() != OpAddBlock {
		t.Fatalf("logged %v, want ... OP_ADD, OP_ADD_BLOCK", rec.ops)
	}
	// The block is the one addBlock would have allocated: complete closes
	// it, under its own stamp only.
	b.NumBytes = 100
	wrong := *b
	wrong.GenStamp++
	if err := ns.Complete(ctx, super, "/d/f", "c", &wrong); !errs.Is(err, errs.IO) || !strings.Contains(err.Error(), "mismatching GS") {
		t.Fatalf("complete with another stamp: %v", err)
	}
	if err := ns.Complete(ctx, super, "/d/f", "c", b); err != nil {
		t.Fatal(err)
	}
	if st, _ := ns.GetFileInfo(super, "/d/f"); st.Length != 100 || st.UnderConstruction {
		t.Fatalf("after complete: %+v", st)
	}
	// A refused create allocates nothing.
	before := len(rec.ops)
	if _, b, err := ns.CreateWithBlock(ctx, super, "/d/f", opts); !errs.Is(err, errs.FileAlreadyExists) || b != nil {
		t.Fatalf("second create = %v, %v; want FileAlreadyExistsException", b, err)
	}
	if len(rec.ops) != before {
		t.Fatalf("a refused create logged %v", rec.ops[before:])
	}
	// A space quota too small for one block: the file is created without
	// it and addBlock reports the quota, as in HDFS.
	if err := ns.Mkdirs(ctx, super, "/q", -1); err != nil {
		t.Fatal(err)
	}
	if err := ns.SetQuota(ctx, super, "/q", QuotaDontSet, 1<<20); err != nil {
		t.Fatal(err)
	}
	st, b, err = ns.CreateWithBlock(ctx, super, "/q/f", opts)
	if err != nil || b != nil || !st.UnderConstruction {
		t.Fatalf("create under a small quota = %+v, %v, %v; want the file without a block", st, b, err)
	}
	if _, err := ns.AddBlock(ctx, "/q/f", "c", nil); !errs.Is(err, errs.DSQuotaExceeded) {
		t.Fatalf("addBlock under the quota: %v, want DSQuotaExceededException", err)
	}
}

func TestPipelineRecoveryStamps(t *testing.T) {
	ctx := context.Background()
	ns, rec := newTestNS()
	opts := CreateOptions{CreateParent: true, Mode: -1, ClientName: "c", BlockSize: 1 << 20, Replication: 3}
	_, b, err := ns.CreateWithBlock(ctx, super, "/p/f", opts)
	if err != nil || b == nil {
		t.Fatal(b, err)
	}
	nb, err := ns.UpdateBlockForPipeline(ctx, "/p/f", "c", b.ID)
	if err != nil || nb.ID != b.ID || nb.GenStamp <= b.GenStamp {
		t.Fatalf("UpdateBlockForPipeline = %+v, %v (block %+v)", nb, err, *b)
	}
	if last := rec.ops[len(rec.ops)-1]; last.Code() != OpSetGenstampV2 {
		t.Fatalf("logged %v, want OP_SET_GENSTAMP_V2", last.Code())
	}
	// Refused: another client, a block that is not the last, a stale old
	// block, a stamp that was never issued.
	if _, err := ns.UpdateBlockForPipeline(ctx, "/p/f", "other", b.ID); !errs.Is(err, errs.LeaseExpired) {
		t.Fatalf("another client: %v", err)
	}
	if _, err := ns.UpdateBlockForPipeline(ctx, "/p/f", "c", b.ID+1); !errs.Is(err, errs.IO) {
		t.Fatalf("not the last block: %v", err)
	}
	stale := *b
	stale.GenStamp--
	nb.NumBytes = 700
	if err := ns.UpdatePipeline(ctx, "/p/f", "c", stale, nb); !errs.Is(err, errs.IO) {
		t.Fatalf("stale old block: %v", err)
	}
	future := nb
	future.GenStamp += 5
	if err := ns.UpdatePipeline(ctx, "/p/f", "c", *b, future); !errs.Is(err, errs.IO) {
		t.Fatalf("a stamp never issued: %v", err)
	}
	before := len(rec.ops)
	if err := ns.UpdatePipeline(ctx, "/p/f", "c", *b, nb); err != nil {
		t.Fatal(err)
	}
	if len(rec.ops) != before+1 || rec.ops[before].Code() != OpUpdateBlocks {
		t.Fatalf("updatePipeline logged %v", rec.ops[before:])
	}
	if last, _ := ns.LastBlock("/p/f", "c"); last == nil || *last != nb {
		t.Fatalf("last block %+v, want %+v", last, nb)
	}
	// The recorded block completes the file; a new block gets a stamp
	// above the recovery's, also after a replay.
	if err := ns.Complete(ctx, super, "/p/f", "c", &nb); err != nil {
		t.Fatal(err)
	}
	replayed := New(Config{Superuser: "hdfs"})
	for i, op := range rec.ops {
		if err := replayed.Replay(rec.txids[i], op); err != nil {
			t.Fatal(err)
		}
	}
	replayed.SetJournal(&recorder{})
	for _, n := range []*Namespace{ns, replayed} {
		_, b2, err := n.CreateWithBlock(ctx, super, "/p/g", opts)
		if err != nil || b2 == nil || b2.GenStamp <= nb.GenStamp {
			t.Fatalf("next block %+v, %v: stamp not above %d", b2, err, nb.GenStamp)
		}
	}
}

func TestAppendChecksTheSpaceQuota(t *testing.T) {
	ctx := context.Background()
	ns, _ := newTestNS()
	opts := CreateOptions{CreateParent: true, Mode: -1, ClientName: "c", BlockSize: 1 << 20, Replication: 2}
	_, b, err := ns.CreateWithBlock(ctx, super, "/q/f", opts)
	if err != nil || b == nil {
		t.Fatal(b, err)
	}
	b.NumBytes = 1000
	if err := ns.Complete(ctx, super, "/q/f", "c", b); err != nil {
		t.Fatal(err)
	}
	// The block at its full size, twice, is 2 MiB: one byte less refuses.
	if err := ns.SetQuota(ctx, super, "/q", QuotaDontSet, 2*(1<<20)-1); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Append(ctx, super, "/q/f", "c2", "h"); !errs.Is(err, errs.DSQuotaExceeded) {
		t.Fatalf("append over the space quota: %v, want DSQuotaExceededException", err)
	}
	if err := ns.SetQuota(ctx, super, "/q", QuotaDontSet, 2*(1<<20)); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Append(ctx, super, "/q/f", "c2", "h"); err != nil {
		t.Fatalf("append within the quota: %v", err)
	}
}

func TestReplayRefusesGaps(t *testing.T) {
	ns := New(Config{Superuser: "hdfs"})
	if err := ns.Replay(2, &Mkdir{InodeID: 16386, Path: "/a", Mode: 0o755}); err == nil {
		t.Fatal("txid 2 accepted after txid 0")
	}
	if err := ns.Replay(1, &Delete{Path: "/missing"}); err == nil {
		t.Fatal("delete of a missing path replayed")
	}
}

func TestImageRoundTrip(t *testing.T) {
	live, _ := newTestNS()
	randomWorkload(live, 42, 3000)
	// Sections of 3 inodes: the image has many, decoded in parallel.
	defer func(n int64) { sectionInodes = n }(sectionInodes)
	sectionInodes = 3
	data := image(t, live)
	if f, d := live.Counts(); f+d < 5*sectionInodes {
		t.Fatalf("only %d inodes: too few sections", f+d)
	}
	loaded, err := LoadImage(Config{Superuser: "hdfs"}, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(image(t, loaded), data) {
		t.Fatal("image of a loaded image differs")
	}
	f1, d1 := live.Counts()
	f2, d2 := loaded.Counts()
	if f1 != f2 || d1 != d2 || live.TxID() != loaded.TxID() {
		t.Fatalf("counts %d/%d txid %d, loaded %d/%d txid %d", f1, d1, live.TxID(), f2, d2, loaded.TxID())
	}
	// Cached quota usage is rebuilt on load.
	for id, n := range live.inodes {
		if n.dir != nil && n.dir.quota != nil {
			if got := loaded.inodes[id].dir.quota; *got != *n.dir.quota {
				t.Fatalf("quota of inode %d: %+v, want %+v", id, *got, *n.dir.quota)
			}
		}
	}
	for i := range data {
		if i%97 != 0 {
			continue
		}
		if _, err := LoadImage(Config{}, data[:i], nil); err == nil {
			t.Fatalf("image truncated at %d bytes loaded", i)
		}
	}
}

func FuzzLoadImage(f *testing.F) {
	ns, _ := newTestNS()
	randomWorkload(ns, 7, 200)
	var b bytes.Buffer
	if _, err := ns.WriteImage(&b); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		loaded, err := LoadImage(Config{Superuser: "hdfs"}, data, nil)
		if err != nil {
			return
		}
		var again bytes.Buffer
		if _, err := loaded.WriteImage(&again); err != nil {
			t.Fatal(err)
		}
	})
}

func lastOf(ns *Namespace, p string) *Block {
	b, _ := ns.LastBlock(p, "c")
	return b
}

// writeBlocks creates path, closed, with blocks of the given lengths.
func writeBlocks(t *testing.T, ns *Namespace, path string, lengths ...int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := ns.Create(ctx, super, path, CreateOptions{CreateParent: true, Mode: -1, ClientName: "w", BlockSize: 1 << 20, Replication: 3}); err != nil {
		t.Fatal(err)
	}
	var prev *Block
	for _, n := range lengths {
		b, err := ns.AddBlock(ctx, path, "w", prev)
		if err != nil {
			t.Fatal(err)
		}
		b.NumBytes = n
		prev = &b
	}
	if err := ns.Complete(ctx, super, path, "w", prev); err != nil {
		t.Fatal(err)
	}
}

func fileBlocks(t *testing.T, ns *Namespace, path string) []Block {
	t.Helper()
	_, blocks, err := ns.Open(super, path)
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

// TestTruncateRecovery: a truncate on a block boundary is done in one
// OP_TRUNCATE; inside a block it is one OP_TRUNCATE that leaves the file
// under construction with the cut block at its new length under its old
// stamp, the recovery's stamp issued, until CommitTruncate closes it with
// one OP_CLOSE. Meanwhile append, create and truncate are refused with
// HDFS's RecoveryInProgressException; replay and the image reproduce
// the state.
func TestTruncateRecovery(t *testing.T) {
	ctx := context.Background()
	ns, rec := newTestNS()
	writeBlocks(t, ns, "/t/f", 1000, 1000, 500)
	if done, err := ns.Truncate(ctx, super, "/t/f", 2000, "a", "h"); err != nil || !done {
		t.Fatalf("truncate on a block boundary = %v, %v", done, err)
	}
	if st, _ := ns.GetFileInfo(super, "/t/f"); st.Length != 2000 || st.UnderConstruction {
		t.Fatalf("after the boundary truncate: %+v", st)
	}
	before := len(rec.ops)
	cut := fileBlocks(t, ns, "/t/f")[1]
	done, err := ns.Truncate(ctx, super, "/t/f", 1300, "DFSClient_1", "10.0.0.1")
	if err != nil || done {
		t.Fatalf("truncate inside a block = %v, %v; want false", done, err)
	}
	if len(rec.ops) != before+1 || rec.ops[before].Code() != OpTruncate {
		t.Fatalf("logged %v, want one OP_TRUNCATE", rec.ops[before:])
	}
	st, _ := ns.GetFileInfo(super, "/t/f")
	if st.Length != 1000 || !st.UnderConstruction {
		t.Fatalf("during the recovery: %+v", st)
	}
	trs := ns.Truncating()
	if len(trs) != 1 {
		t.Fatalf("Truncating() = %+v", trs)
	}
	tr := trs[0]
	if tr.Path != "/t/f" || tr.Block.ID != cut.ID || tr.Block.GenStamp != cut.GenStamp || tr.Block.NumBytes != 300 || tr.NewStamp <= tr.Block.GenStamp {
		t.Fatalf("the recovery %+v", tr)
	}
	checkBlockCount(t, "recovering", ns)
	for what, try := range map[string]func() error{
		"append": func() error { _, err := ns.Append(ctx, super, "/t/f", "b", "h2"); return err },
		"create": func() error {
			_, err := ns.Create(ctx, super, "/t/f", CreateOptions{Overwrite: true, Mode: -1, ClientName: "b"})
			return err
		},
		"truncate": func() error { _, err := ns.Truncate(ctx, super, "/t/f", 10, "b", "h2"); return err },
	} {
		if err := try(); !errs.Is(err, errs.RecoveryInProgress) || !strings.Contains(err.Error(), "another recovery is in progress by DFSClient_1 on 10.0.0.1") {
			t.Fatalf("%s during the recovery: %v", what, err)
		}
	}
	// The image and the edit log both keep the recovery.
	loaded, err := LoadImage(Config{Superuser: "hdfs"}, image(t, ns), nil)
	if err != nil {
		t.Fatal(err)
	}
	for what, other := range map[string]*Namespace{"loaded": loaded, "replayed": replay(t, rec)} {
		if got := other.Truncating(); !reflect.DeepEqual(got, trs) {
			t.Fatalf("%s namespace: Truncating() = %+v, want %+v", what, got, trs)
		}
	}
	// A commit of another recovery changes nothing; the right one closes
	// the file with the block's new stamp.
	stale := tr
	stale.NewStamp++
	if err := ns.CommitTruncate(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if _, ok := ns.TruncatingOf("/t/f"); !ok {
		t.Fatal("a stale commit ended the recovery")
	}
	before = len(rec.ops)
	if err := ns.CommitTruncate(ctx, tr); err != nil {
		t.Fatal(err)
	}
	if len(rec.ops) != before+1 || rec.ops[before].Code() != OpClose {
		t.Fatalf("the commit logged %v, want one OP_CLOSE", rec.ops[before:])
	}
	st, _ = ns.GetFileInfo(super, "/t/f")
	last := fileBlocks(t, ns, "/t/f")[1]
	if st.Length != 1300 || st.UnderConstruction || last.GenStamp != tr.NewStamp || last.NumBytes != 300 {
		t.Fatalf("after the commit: %+v, last block %+v", st, last)
	}
	if len(ns.Truncating()) != 0 {
		t.Fatal("the recovery is still listed")
	}
	checkBlockCount(t, "closed", ns)
	if !bytes.Equal(image(t, ns), image(t, replay(t, rec))) {
		t.Fatal("the replayed tree differs")
	}
	if _, err := ns.Truncate(ctx, super, "/t/f", 1301, "c", "h"); !errs.Is(err, errs.IllegalArgument) {
		t.Fatalf("truncate past the end: %v", err)
	}
	// A file deleted during its recovery leaves no recovery behind.
	if done, err := ns.Truncate(ctx, super, "/t/f", 100, "d", "h"); err != nil || done || len(ns.Truncating()) != 1 {
		t.Fatalf("a second truncate: %v %v, %d recoveries", done, err, len(ns.Truncating()))
	}
	if ok, err := ns.Delete(ctx, super, "/t", true); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if got := ns.Truncating(); len(got) != 0 {
		t.Fatalf("recoveries of a deleted file: %+v", got)
	}
}
