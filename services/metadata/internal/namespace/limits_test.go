package namespace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/granary-fs/granary/internal/errs"
)

// deepPath is a path of depth levels named d0, d1, ...
func deepPath(depth int) string {
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, "/d%d", i)
	}
	return b.String()
}

func TestPathLengthAndDepthLimits(t *testing.T) {
	ctx := context.Background()
	ns, rec := newTestNS()
	tooLong := func(op string, err error) {
		t.Helper()
		want := op + ": Pathname too long.  Limit 8000 characters, 1000 levels."
		if !errors.Is(err, errs.E(errs.IO, "")) || err.Error() != want {
			t.Fatalf("got %v, want IOException %q", err, want)
		}
	}
	if err := ns.Mkdirs(ctx, super, deepPath(1000), -1); err != nil {
		t.Fatalf("mkdirs of 1000 levels (HDFS's MAX_PATH_DEPTH): %v", err)
	}
	if got := len(rec.ops); got != 1000 {
		t.Fatalf("mkdirs of 1000 levels logged %d ops, want one per directory", got)
	}
	logged := len(rec.ops)
	tooLong("mkdirs", ns.Mkdirs(ctx, super, deepPath(1001), -1))
	// 8000 characters pass, 8001 do not (HDFS's MAX_PATH_LENGTH).
	long := "/" + strings.Repeat(strings.Repeat("x", 199)+"/", 39) + strings.Repeat("y", 198)
	if len(long) != 7999 {
		t.Fatalf("test path has %d characters", len(long))
	}
	if err := ns.Mkdirs(ctx, super, long+"z", -1); err != nil {
		t.Fatalf("mkdirs of 8000 characters: %v", err)
	}
	logged = len(rec.ops)
	tooLong("mkdirs", ns.Mkdirs(ctx, super, long+"zz", -1))
	// Java counts UTF-16 code units: 7,999 characters "é", about 16,000
	// bytes, pass.
	if err := ns.Mkdirs(ctx, super, "/"+strings.Repeat(strings.Repeat("é", 100)+"/", 79)+strings.Repeat("é", 19), -1); err != nil {
		t.Fatalf("mkdirs of 7999 UTF-16 characters: %v", err)
	}
	logged = len(rec.ops)
	_, err := ns.Create(ctx, super, deepPath(1001), CreateOptions{CreateParent: true, ClientName: "c"})
	tooLong("create", err)
	if _, err := ns.Create(ctx, super, "/f", CreateOptions{ClientName: "c"}); err != nil {
		t.Fatal(err)
	}
	logged = len(rec.ops)
	_, err = ns.Rename(ctx, super, "/f", deepPath(999)+"/a/b")
	tooLong("rename", err)
	// A name of 256 bytes is refused as a rename's target, naming the
	// directory (HDFS's dfs.namenode.fs-limits.max-component-length); 255
	// pass.
	if err := ns.Mkdirs(ctx, super, "/dir", -1); err != nil {
		t.Fatal(err)
	}
	logged = len(rec.ops)
	_, err = ns.Rename(ctx, super, "/f", "/dir/"+strings.Repeat("n", 256))
	if want := "The maximum path component name limit of " + strings.Repeat("n", 256) + " in directory /dir is exceeded: limit=255 length=256"; !errors.Is(err, errs.E(errs.PathComponentTooLong, "")) || err.Error() != want {
		t.Fatalf("rename to a 256-byte name: %v, want PathComponentTooLongException %q", err, want)
	}
	if len(rec.ops) != logged {
		t.Fatalf("refused operations logged %d ops", len(rec.ops)-logged)
	}
	if ok, err := ns.Rename(ctx, super, "/f", "/dir/"+strings.Repeat("n", 255)); !ok || err != nil {
		t.Fatalf("rename to a 255-byte name: %v, %v", ok, err)
	}
}

func TestNamesThatAreNotUTF8AreRefused(t *testing.T) {
	ctx := context.Background()
	ns, rec := newTestNS()
	invalid := errs.E(errs.InvalidPath, "")
	if err := ns.Mkdirs(ctx, super, "/a\xffb", -1); !errors.Is(err, invalid) {
		t.Fatalf("mkdirs of a name that is not UTF-8: %v, want InvalidPathException", err)
	}
	if _, err := ns.Create(ctx, super, "/ok/\xc3", CreateOptions{CreateParent: true, ClientName: "c"}); !errors.Is(err, invalid) {
		t.Fatalf("create of a name that is not UTF-8: %v, want InvalidPathException", err)
	}
	if len(rec.ops) != 0 {
		t.Fatalf("refused operations logged %d ops", len(rec.ops))
	}
	if err := ns.Mkdirs(ctx, super, "/ünïcødé/日本", -1); err != nil {
		t.Fatalf("valid UTF-8 names: %v", err)
	}
}

// TestMkdirParentShortcutFollowsTheTree: a Mkdir finds its parent through
// the directory the previous op created; any other op in between (a delete
// or rename of that directory) must make it resolve the path again. The
// replayed tree must equal the live one.
func TestMkdirParentShortcutFollowsTheTree(t *testing.T) {
	ctx := context.Background()
	live, rec := newTestNS()
	steps := []func() error{
		func() error { return live.Mkdirs(ctx, super, "/a/b", -1) },
		func() error { _, err := live.Delete(ctx, super, "/a/b", true); return err },
		func() error { return live.Mkdirs(ctx, super, "/a/b/c", -1) },
		func() error { return live.Mkdirs(ctx, super, "/x/y", -1) },
		func() error { _, err := live.Rename(ctx, super, "/x/y", "/x/w"); return err },
		func() error { return live.Mkdirs(ctx, super, "/x/y/q", -1) },
		func() error { return live.Mkdirs(ctx, super, "/x/y/q/r", -1) },
		func() error { return live.Mkdirs(ctx, super, deepPath(300), -1) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	for _, p := range []string{"/a/b/c", "/x/w", "/x/y/q/r", deepPath(300)} {
		if st, err := live.GetFileInfo(super, p); err != nil || !st.IsDir {
			t.Fatalf("%s: %+v, %v", p, st, err)
		}
	}
	if _, err := live.GetFileInfo(super, "/x/w/q"); err == nil {
		t.Fatal("/x/w/q exists: a mkdir went into the renamed directory")
	}
	replayed := replay(t, rec)
	if !bytes.Equal(image(t, live), image(t, replayed)) {
		t.Fatal("replayed tree differs from the live tree")
	}
}

// BenchmarkMkdirsDeep: one mkdirs creating every level of a deep path; the
// time per level stays flat as the depth grows (it grew with the depth
// when each level resolved its whole path again).
func BenchmarkMkdirsDeep(b *testing.B) {
	for _, depth := range []int{250, 500, 1000} {
		p := deepPath(depth)
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			for range b.N {
				ns, _ := newTestNS()
				if err := ns.Mkdirs(context.Background(), super, p, -1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*depth), "ns/level")
		})
	}
}
