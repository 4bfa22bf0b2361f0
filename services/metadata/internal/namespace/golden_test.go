package namespace

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/granary-fs/granary/internal/golden"
)

// TestGoldenFiles: every edit op and an image, decoded from the bytes
// committed in testdata/golden and encoded again byte for byte
// (docs/formats/edit-log.md, docs/formats/fsimage.md).
func TestGoldenFiles(t *testing.T) {
	for i, op := range allOps() {
		data := golden.Check(t, fmt.Sprintf("op%02d-%v.bin", i, op.Code()), EncodeOp(op))
		decoded, err := DecodeOp(op.Code(), data)
		if err != nil {
			t.Fatalf("%v: %v", op.Code(), err)
		}
		if !reflect.DeepEqual(decoded, op) || !bytes.Equal(EncodeOp(decoded), data) {
			t.Fatalf("%v: the golden bytes decode to %#v", op.Code(), decoded)
		}
	}

	// An image with a directory under quota, a closed file with a block,
	// a file under construction after an append, and a retried call.
	ns, _ := newTestNS()
	ctx := context.Background()
	if err := ns.Mkdirs(ctx, super, "/a", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := ns.SetQuota(ctx, super, "/a", 100, QuotaDontSet); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Create(call(1), super, "/a/f", CreateOptions{ClientName: "w", Mode: -1}); err != nil {
		t.Fatal(err)
	}
	b, err := ns.AddBlock(ctx, "/a/f", "w", nil)
	if err != nil {
		t.Fatal(err)
	}
	b.NumBytes = 42
	if err := ns.Complete(ctx, super, "/a/f", "w", &b); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Append(ctx, super, "/a/f", "w2", "10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	img := golden.Check(t, "image.bin", image(t, ns))
	loaded, err := LoadImage(Config{Superuser: "hdfs"}, img, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again := image(t, loaded); !bytes.Equal(again, img) {
		t.Fatal("the golden image does not encode again byte for byte")
	}
	// The same namespace in the version-2 format (no sections) still
	// loads, and is written in the current one.
	v2, err := os.ReadFile(filepath.Join("testdata", "golden", "image-v2.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if old, err := LoadImage(Config{Superuser: "hdfs"}, v2, nil); err != nil || !bytes.Equal(image(t, old), img) {
		t.Fatalf("the version-2 golden image: %v, or it loads as another namespace", err)
	}

	// A file whose truncate is being recovered (flagTruncating).
	ns, _ = newTestNS()
	writeBlocks(t, ns, "/t", 700)
	if done, err := ns.Truncate(ctx, super, "/t", 300, "DFSClient_7", "10.0.0.7"); err != nil || done {
		t.Fatalf("truncate = %v, %v", done, err)
	}
	img = golden.Check(t, "image-truncating.bin", image(t, ns))
	if loaded, err = LoadImage(Config{Superuser: "hdfs"}, img, nil); err != nil {
		t.Fatal(err)
	}
	if again := image(t, loaded); !bytes.Equal(again, img) || len(loaded.Truncating()) != 1 {
		t.Fatal("the golden image of a truncate in progress does not load or encode again byte for byte")
	}
}
