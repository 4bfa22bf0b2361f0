package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/pgtest"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/datanode"
	"github.com/granary-fs/granary/services/metadata"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fsCluster starts a cluster (3 datanodes, alice its superuser, config
// adjusting the metadata service) and returns it with functions running
// `granary fs` against it as alice.
func fsCluster(t *testing.T, config func(*metadata.Config)) (c *cluster.Cluster, run func(args ...string) (int, string, string), must func(args ...string) string) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	c, err := cluster.Start(ctx, cluster.Config{
		DataDir: filepath.Join(dir, "cluster"), DatabaseURL: pgtest.NewDatabase(t), MetadataAddr: "127.0.0.1:0",
		CoordinatorAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0", Datanodes: 3,
		DatanodeAddrs: []string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"},
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metadata: func(m *metadata.Config) {
			m.Superuser = "alice"
			m.MinBlockSize = 1024
			if config != nil {
				config(m)
			}
		},
		Coordinator: func(c *coordinator.Config) { c.HeartbeatInterval = 100 * time.Millisecond },
		Datanode: func(i int, c *datanode.Config) {
			c.HeartbeatInterval = 100 * time.Millisecond
			if i == 0 {
				c.DataDirs[0] = "[SSD]" + c.DataDirs[0] // a storage type from the directory's prefix
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	t.Setenv("HADOOP_USER_NAME", "alice")
	run = func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := fsCmd(ctx, append([]string{"-fs", c.MetadataURL}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	must = func(args ...string) string {
		t.Helper()
		code, out, errs := run(args...)
		if code != 0 {
			t.Fatalf("granary fs %v: exit %d: %s", args, code, errs)
		}
		return out
	}
	return c, run, must
}

func TestFsShell(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	c, run, must := fsCluster(t, nil)
	local := filepath.Join(dir, "local.bin")
	data := make([]byte, 200_000)
	rand.New(rand.NewSource(1)).Read(data)
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	must("-mkdir", "-p", "/user/alice/d")
	must("-put", local, "/user/alice/d/")
	if code, _, errs := run("-put", local, "/user/alice/d/"); code != 1 || errs != "put: `/user/alice/d/local.bin': File exists\n" {
		t.Fatalf("second put: %d %q", code, errs)
	}
	// -f replaces through a ._COPYING_ file that does not stay; -d writes
	// in place.
	small := filepath.Join(dir, "small.txt")
	if err := os.WriteFile(small, []byte("replaced\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("-put", "-f", small, "/user/alice/d/local.bin")
	must("-put", "-d", small, "/user/alice/d/direct.txt")
	if out := must("-cat", "/user/alice/d/local.bin", "/user/alice/d/direct.txt"); out != "replaced\nreplaced\n" {
		t.Fatalf("after put -f and -d: %q", out)
	}
	if out := must("-ls", "-C", "/user/alice/d"); strings.Contains(out, "_COPYING_") {
		t.Fatalf("a ._COPYING_ file stayed: %q", out)
	}
	must("-rm", "/user/alice/d/direct.txt")
	must("-put", "-f", local, "/user/alice/d/local.bin")
	out := must("-ls", "/user/alice/d")
	if !regexp.MustCompile(`^Found 1 items\n-rw-r--r--   3 alice supergroup     200000 \d{4}-\d\d-\d\d \d\d:\d\d /user/alice/d/local.bin\n$`).MatchString(out) {
		t.Fatalf("ls output:\n%s", out)
	}
	back := filepath.Join(dir, "back.bin")
	must("-get", "/user/alice/d/local.bin", back)
	if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
		t.Fatal("-get returned different bytes")
	}
	if out := must("-cat", "/user/alice/d/local.bin"); out != string(data) {
		t.Fatal("-cat returned different bytes")
	}
	if out := must("-count", "/user/alice"); out != "           2            1             200000 /user/alice\n" {
		t.Fatalf("count: %q", out)
	}
	if out := must("-count", "-v", "/user/alice"); out != "   DIR_COUNT   FILE_COUNT       CONTENT_SIZE PATHNAME\n           2            1             200000 /user/alice\n" {
		t.Fatalf("count -v: %q", out)
	}
	if out := must("-count", "-q", "-v", "/user/alice"); !strings.HasPrefix(out, "       QUOTA       REM_QUOTA     SPACE_QUOTA REM_SPACE_QUOTA    DIR_COUNT   FILE_COUNT       CONTENT_SIZE PATHNAME\n") {
		t.Fatalf("count -q -v: %q", out)
	}
	if out := must("-stat", "%n %b %r %F", "/user/alice/d/local.bin"); out != "local.bin 200000 3 regular file\n" {
		t.Fatalf("stat: %q", out)
	}
	// chmod and chown: octal and symbolic modes, -R over a tree.
	must("-mkdir", "-p", "/user/alice/m/n")
	must("-touchz", "/user/alice/m/n/f")
	must("-chmod", "-R", "700", "/user/alice/m")
	must("-chmod", "-R", "go+rX,u-w", "/user/alice/m")
	must("-chmod", "+t", "/user/alice/m")
	if out := must("-stat", "%a %u:%g", "/user/alice/m", "/user/alice/m/n", "/user/alice/m/n/f"); out != "1555 alice:supergroup\n555 alice:supergroup\n555 alice:supergroup\n" {
		t.Fatalf("modes after chmod -R: %q", out)
	}
	must("-chown", "-R", "bob:staff", "/user/alice/m")
	if out := must("-stat", "%u:%g", "/user/alice/m/n/f"); out != "bob:staff\n" {
		t.Fatalf("owner after chown -R: %q", out)
	}
	// -ls aligns owner and group columns as Hadoop's Ls; -C names only,
	// -d the directory itself, -S by size, -r reversed.
	must("-chown", "alice:supergroup", "/user/alice/m")
	must("-put", local, "/user/alice/m/big")
	out = must("-ls", "/user/alice/m")
	if !regexp.MustCompile(`^Found 2 items\n-rw-r--r--   3 alice supergroup +200000 \S+ \S+ /user/alice/m/big\ndr-xr-xr-x   - bob   staff +0 \S+ \S+ /user/alice/m/n\n$`).MatchString(out) {
		t.Fatalf("ls with two owners: %q", out)
	}
	if out := must("-ls", "-C", "-S", "-r", "/user/alice/m"); out != "/user/alice/m/n\n/user/alice/m/big\n" {
		t.Fatalf("ls -C -S -r: %q", out)
	}
	if out := must("-ls", "-d", "-C", "/user/alice/m"); out != "/user/alice/m\n" {
		t.Fatalf("ls -d -C: %q", out)
	}
	if code, _, errs := run("-chmod", "u+z", "/user/alice/m"); code != 1 || errs != "chmod: chmod : mode 'u+z' does not match the expected pattern.\n" {
		t.Fatalf("a bad mode: %d %q", code, errs)
	}
	if out := must("-checksum", "/user/alice/d/local.bin"); !strings.HasPrefix(out, "/user/alice/d/local.bin\tMD5-of-0MD5-of-512CRC32C\t") {
		t.Fatalf("checksum: %q", out)
	}
	if out := must("-setrep", "2", "/user/alice/d/local.bin"); out != "Replication 2 set: /user/alice/d/local.bin\n" {
		t.Fatalf("setrep: %q", out)
	}
	// On a directory, setrep changes every file under it; -w waits, a dot
	// per look, until every block has that many replicas.
	defer func(d time.Duration) { setrepWait = d }(setrepWait)
	setrepWait = 50 * time.Millisecond
	out = must("-setrep", "-w", "1", "/user/alice/d")
	if !regexp.MustCompile(`^Replication 1 set: /user/alice/d/local\.bin\nWaiting for /user/alice/d/local\.bin \.\.\.(\nWARNING: the waiting time may be long for DECREASING the number of replications\.\n)?\.* done\n$`).MatchString(out) {
		t.Fatalf("setrep -w on a directory: %q", out)
	}
	if lbs, err := client.New(c.MetadataURL, "alice").BlockLocations(ctx, "/user/alice/d/local.bin"); err != nil || len(lbs.LocatedBlocks) == 0 || len(lbs.LocatedBlocks[0].Locations) != 1 {
		t.Fatalf("after setrep -w 1: %+v %v", lbs, err)
	}
	must("-touchz", "/user/alice/empty")
	if code, _, _ := run("-test", "-z", "/user/alice/empty"); code != 0 {
		t.Fatal("-test -z of an empty file failed")
	}
	if code, _, _ := run("-test", "-e", "/user/alice/nope"); code != 1 {
		t.Fatal("-test -e of a missing file succeeded")
	}
	must("-appendToFile", local, "/user/alice/log")
	must("-appendToFile", local, "/user/alice/log")
	if out := must("-tail", "/user/alice/log"); out != string(data[len(data)-1024:]) {
		t.Fatal("-tail is not the last kilobyte")
	}
	must("-mv", "/user/alice/log", "/user/alice/log2")
	if code, _, errs := run("-rm", "/user/alice/d"); code != 1 || errs != "rm: `/user/alice/d': Is a directory\n" {
		t.Fatalf("rm of a directory: %d %q", code, errs)
	}
	if out := must("-rm", "-r", "/user/alice/d"); out != "Deleted /user/alice/d\n" {
		t.Fatalf("rm -r: %q", out)
	}
	if code, _, errs := run("-ls", "/user/alice/d"); code != 1 || errs != "ls: `/user/alice/d': No such file or directory\n" {
		t.Fatalf("ls of a deleted path: %d %q", code, errs)
	}
	// Hadoop's generic options: -D fs.defaultFS names the service, other
	// keys set the client up or are ignored; a -D without key=value is a
	// usage error.
	var gout, gerr bytes.Buffer
	if code := fsCmd(ctx, []string{"-D", "fs.defaultFS=" + c.MetadataURL, "-Ddfs.client.block.write.replace-datanode-on-failure.policy=NEVER",
		"-D", "io.file.buffer.size=4096", "-ls", "/user/alice"}, &gout, &gerr); code != 0 || !strings.Contains(gout.String(), "/user/alice/log") {
		t.Fatalf("-D options: exit %d: %s %s", code, gout.String(), gerr.String())
	}
	if code := fsCmd(ctx, []string{"-D", "fs.defaultFS", "-ls", "/"}, &gout, &gerr); code != 2 {
		t.Fatalf("-D without a value: exit %d", code)
	}
	// -tail -f follows what is appended (-s: the interval in ms) until
	// interrupted; a directory is refused.
	tailCtx, stopTail := context.WithCancel(ctx)
	var tailOut syncBuffer
	tailDone := make(chan int, 1)
	go func() {
		tailDone <- fsCmd(tailCtx, []string{"-fs", c.MetadataURL, "-tail", "-f", "-s", "50", "/user/alice/log2"}, &tailOut, &tailOut)
	}()
	more := filepath.Join(dir, "more.txt")
	if err := os.WriteFile(more, []byte("appended while followed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("-appendToFile", more, "/user/alice/log2")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.HasSuffix(tailOut.String(), "appended while followed\n") {
		if time.Now().After(deadline) {
			t.Fatalf("tail -f did not show the appended line: %q", tailOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopTail()
	if code := <-tailDone; code != 0 {
		t.Fatalf("tail -f ended with %d", code)
	}
	if code, _, errs := run("-tail", "/user/alice"); code != 1 || errs != "tail: `/user/alice': Is a directory\n" {
		t.Fatalf("tail of a directory: %d %q", code, errs)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFsRmUsesTheTrash: with fs.trash.interval set on the service, -rm
// moves paths to the user's trash as Hadoop's shell does; -skipTrash and
// paths inside the trash are deleted for good; a path containing the trash
// is refused.
func TestFsRmUsesTheTrash(t *testing.T) {
	_, run, must := fsCluster(t, func(m *metadata.Config) { m.TrashInterval = 60 })
	must("-mkdir", "-p", "/user/alice/d", "/tmp")
	must("-touchz", "/user/alice/d/f", "/user/alice/g", "/tmp/t")
	if out := must("-rm", "/user/alice/d/f"); out != "Moved: '/user/alice/d/f' to trash at: /user/alice/.Trash/Current/user/alice/d/f\n" {
		t.Fatalf("rm with trash: %q", out)
	}
	must("-test", "-e", "/user/alice/.Trash/Current/user/alice/d/f")
	// The same name again: the time in milliseconds is appended.
	must("-touchz", "/user/alice/d/f")
	if out := must("-rm", "/user/alice/d/f"); !regexp.MustCompile(`^Moved: '/user/alice/d/f' to trash at: /user/alice/\.Trash/Current/user/alice/d/f\d{13}\n$`).MatchString(out) {
		t.Fatalf("rm of a name already in the trash: %q", out)
	}
	if out := must("-rm", "/tmp/t"); out != "Moved: '/tmp/t' to trash at: /user/alice/.Trash/Current/tmp/t\n" {
		t.Fatalf("rm outside home: %q", out)
	}
	if out := must("-rm", "-skipTrash", "/user/alice/g"); out != "Deleted /user/alice/g\n" {
		t.Fatalf("rm -skipTrash: %q", out)
	}
	if code, _, errs := run("-rm", "-r", "/user/alice"); code != 1 || !strings.Contains(errs, `Cannot move "/user/alice" to the trash, as it contains the trash. Consider using -skipTrash option`) {
		t.Fatalf("rm of the home directory: %d %q", code, errs)
	}
	if out := must("-rm", "-r", "/user/alice/.Trash"); out != "Deleted /user/alice/.Trash\n" {
		t.Fatalf("rm of the trash itself: %q", out)
	}
	if code, _, _ := run("-test", "-e", "/user/alice/.Trash"); code != 1 {
		t.Fatal("the trash is still there")
	}
}

func TestChmodModes(t *testing.T) {
	for _, c := range []struct {
		mode     string
		existing int
		dir      bool
		want     int
	}{
		{"755", 0o644, false, 0o755}, {"1777", 0o755, true, 0o1777}, {"0644", 0o1777, true, 0o644}, {"+755", 0o600, false, 0o755},
		{"u+x", 0o644, false, 0o744}, {"go-w", 0o666, false, 0o644}, {"a=r", 0o755, false, 0o444}, {"=rw", 0o700, false, 0o666},
		{"+t", 0o777, true, 0o1777}, {"o-t", 0o1777, true, 0o777}, {"u-t", 0o1777, true, 0o1777},
		{"a+X", 0o644, false, 0o644}, {"a+X", 0o644, true, 0o755}, {"a+X", 0o744, false, 0o755},
		{"u+x,g+w", 0o600, false, 0o720}, {"ug=rw,o-r", 0o777, false, 0o663},
	} {
		spec, ok := parseChmod(c.mode)
		if !ok {
			t.Fatalf("%q refused", c.mode)
		}
		if got := spec.apply(c.existing, c.dir); got != c.want {
			t.Errorf("chmod %s on %o (dir %v) = %o, want %o", c.mode, c.existing, c.dir, got, c.want)
		}
	}
	for _, bad := range []string{"abc", "8", "u+z", "2755", "u+", "o=", "u+x,", "77"} {
		if _, ok := parseChmod(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestFsPathsAsHadoopTypesThem: relative paths are taken from the user's
// home directory, and hdfs://, webhdfs:// and http:// URIs name the
// cluster, in -fs, in fs.defaultFS and in path arguments.
func TestFsPathsAsHadoopTypesThem(t *testing.T) {
	c, run, must := fsCluster(t, nil)
	hostport := strings.TrimPrefix(c.MetadataURL, "http://")
	local := filepath.Join(t.TempDir(), "a.txt")
	if err := os.WriteFile(local, []byte("relative\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("-mkdir", "-p", "docs/sub")
	must("-put", local, "f")
	must("-put", local, "docs/sub")
	if out := must("-cat", "hdfs://"+hostport+"/user/alice/f"); out != "relative\n" {
		t.Fatalf("-cat of an hdfs:// URI: %q", out)
	}
	if out := must("-cat", "webhdfs://"+hostport+"/user/alice/docs/sub/a.txt"); out != "relative\n" {
		t.Fatalf("-cat of a webhdfs:// URI: %q", out)
	}
	if out := must("-stat", "%n %b", "f"); out != "f 9\n" {
		t.Fatalf("-stat of a relative path: %q", out)
	}
	// Output names paths as they were typed, as Hadoop's shell does.
	if out := must("-ls", "-C"); out != "docs\nf\n" {
		t.Fatalf("-ls with no path lists the home directory by bare names: %q", out)
	}
	if out := must("-ls", "-C", "docs"); out != "docs/sub\n" {
		t.Fatalf("-ls -C docs: %q", out)
	}
	if out := must("-ls", "-C", "hdfs://"+hostport+"/user/alice/docs"); out != "hdfs://"+hostport+"/user/alice/docs/sub\n" {
		t.Fatalf("-ls -C of a URI: %q", out)
	}
	if code, _, errb := run("-cat", "nope"); code != 1 || errb != "cat: `nope': No such file or directory\n" {
		t.Fatalf("-cat of a missing relative path: %d %q", code, errb)
	}
	ctx := context.Background()
	for _, fsArgs := range [][]string{{"-fs", "hdfs://" + hostport}, {"-fs", "webhdfs://" + hostport}, {"-D", "fs.defaultFS=hdfs://" + hostport}} {
		var out, errb bytes.Buffer
		if code := fsCmd(ctx, append(fsArgs, "-cat", "f"), &out, &errb); code != 0 || out.String() != "relative\n" {
			t.Fatalf("%v -cat f: %d %q %q", fsArgs, code, out.String(), errb.String())
		}
	}
	if code, _, errb := run("-cat", "hdfs://elsewhere:8020/user/alice/f"); code != 1 || !strings.Contains(errb, "Wrong FS: hdfs://elsewhere:8020/user/alice/f") {
		t.Fatalf("a path on another cluster: %d %q", code, errb)
	}
	for _, h := range []string{"--help", "-help", "-h", "-usage"} {
		var out, errb bytes.Buffer
		if code := fsCmd(ctx, []string{h}, &out, &errb); code != 0 || !strings.Contains(out.String(), "-ls") {
			t.Fatalf("granary fs %s: %d %q %q", h, code, out.String(), errb.String())
		}
	}
}

// TestFsMoreCommands: the hdfs dfs commands granary fs lacked: -cp, -head,
// -truncate, -concat, -getmerge, -rmdir, -find, -df, -moveFromLocal,
// -moveToLocal, -expunge.
func TestFsMoreCommands(t *testing.T) {
	c, run, must := fsCluster(t, nil)
	ctx := context.Background()
	cl := client.New(c.MetadataURL, "alice")
	data := make([]byte, 2000)
	rand.New(rand.NewSource(5)).Read(data)
	write := func(p string, b []byte) {
		t.Helper()
		w, err := cl.Create(ctx, p, client.CreateOptions{BlockSize: 1024})
		if err == nil {
			_, err = w.Write(b)
		}
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			t.Fatalf("writing %s: %v", p, err)
		}
	}
	must("-mkdir", "-p", "/m/dir")
	write("/m/a", data)

	must("-cp", "/m/a", "/m/b")
	if out := must("-cat", "/m/b"); out != string(data) {
		t.Fatal("-cp copied other bytes")
	}
	if code, _, errb := run("-cp", "/m/a", "/m/b"); code != 1 || !strings.Contains(errb, "File exists") {
		t.Fatalf("-cp onto an existing file: %d %q", code, errb)
	}
	must("-chmod", "600", "/m/a")
	must("-cp", "-f", "-p", "/m/a", "/m/b")
	if out := must("-ls", "/m/b"); !strings.HasPrefix(out, "-rw------- ") {
		t.Fatalf("-cp -p kept no permission: %q", out)
	}

	if out := must("-head", "/m/a"); out != string(data[:1024]) {
		t.Fatalf("-head printed %d bytes, want the first 1024", len(out))
	}
	if code, _, errb := run("-head", "/m/dir"); code != 1 || !strings.Contains(errb, "Is a directory") {
		t.Fatalf("-head of a directory: %d %q", code, errb)
	}

	must("-truncate", "-w", "1500", "/m/b")
	if out := must("-stat", "%b", "/m/b"); out != "1500\n" {
		t.Fatalf("-truncate -w 1500: length %q", out)
	}

	write("/m/t", data[:1024])
	write("/m/c1", data[:1024])
	write("/m/c2", data[:500])
	must("-concat", "/m/t", "/m/c1", "/m/c2")
	if out := must("-stat", "%b", "/m/t"); out != "2548\n" {
		t.Fatalf("-concat: target length %q, want 2548", out)
	}
	if code, _, _ := run("-test", "-e", "/m/c1"); code == 0 {
		t.Fatal("-concat left a source behind")
	}

	write("/m/dir/2", []byte("two"))
	write("/m/dir/1", []byte("one"))
	merged := filepath.Join(t.TempDir(), "merged")
	must("-getmerge", "-nl", "/m/dir", merged)
	if b, err := os.ReadFile(merged); err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("-getmerge -nl: %q %v", b, err)
	}

	if code, _, errb := run("-rmdir", "/m/dir"); code != 1 || !strings.Contains(errb, "Directory is not empty") {
		t.Fatalf("-rmdir of a non-empty directory: %d %q", code, errb)
	}
	must("-rmdir", "--ignore-fail-on-non-empty", "/m/dir")
	if code, _, errb := run("-rmdir", "/m/a"); code != 1 || !strings.Contains(errb, "Is not a directory") {
		t.Fatalf("-rmdir of a file: %d %q", code, errb)
	}
	must("-mkdir", "/m/empty")
	must("-rmdir", "/m/empty")
	if code, _, _ := run("-test", "-e", "/m/empty"); code == 0 {
		t.Fatal("-rmdir left the empty directory")
	}

	if out := must("-find", "/m", "-name", "?"); !sameLines(out, "/m\n/m/a\n/m/b\n/m/t\n/m/dir/1\n/m/dir/2\n") {
		t.Fatalf("-find -name '?': %q", out)
	}
	if out := must("-find", "/m", "-iname", "DIR"); out != "/m/dir\n" {
		t.Fatalf("-find -iname DIR: %q", out)
	}

	if out := must("-df", "-h"); !strings.Contains(out, "Filesystem") || !strings.Contains(out, "hdfs://") {
		t.Fatalf("-df -h: %q", out)
	}

	local := filepath.Join(t.TempDir(), "moving")
	if err := os.WriteFile(local, []byte("moved"), 0o644); err != nil {
		t.Fatal(err)
	}
	must("-moveFromLocal", local, "/m/moved")
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Fatalf("-moveFromLocal kept the local file: %v", err)
	}
	if out := must("-cat", "/m/moved"); out != "moved" {
		t.Fatalf("-moveFromLocal: %q", out)
	}
	if code, _, errb := run("-moveToLocal", "/m/moved", local); code != 1 || !strings.Contains(errb, "Option '-moveToLocal' is not implemented yet.") {
		t.Fatalf("-moveToLocal: %d %q", code, errb)
	}
	if code, out, errb := run("-expunge"); code != 0 || out != "" {
		t.Fatalf("-expunge without a trash: %d %q %q", code, out, errb)
	}
}

// sameLines compares two outputs as sets of lines.
func sameLines(a, b string) bool {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// TestFsFailuresAsHadoop: failures print what Hadoop's shell prints, with
// its exit codes.
func TestFsFailuresAsHadoop(t *testing.T) {
	_, run, must := fsCluster(t, nil)
	must("-mkdir", "-p", "/f/dir", "/f/empty")
	must("-touchz", "/f/a", "/f/b")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-cat", "/f/dir"}, "cat: `/f/dir': Is a directory\n"},
		{[]string{"-checksum", "/f/dir"}, "checksum: `/f/dir': Is a directory\n"},
		{[]string{"-mv", "/f/a", "/f/b", "/missing"}, "mv: `/missing': No such file or directory\n"},
		{[]string{"-mv", "/f/a", "/missing/x"}, "mv: `/missing/x': No such file or directory\n"},
		{[]string{"-touchz", "/missing/x"}, "touchz: `/missing/x': No such file or directory\n"},
	} {
		code, out, errb := run(c.args...)
		if code != 1 || errb != c.want || out != "" {
			t.Errorf("granary fs %v: %d %q %q, want 1 and %q", c.args, code, out, errb, c.want)
		}
	}
	if out := must("-ls", "/f/empty"); out != "" {
		t.Errorf("-ls of an empty directory: %q, want nothing (Hadoop prints no Found 0 items)", out)
	}
	code, out, errb := run("-rm", "-r", "-skipTrash", "/")
	if code != 1 || strings.Contains(out, "Deleted /") || !strings.HasPrefix(errb, "rm: ") {
		t.Errorf("-rm -r /: %d %q %q, want a refusal and no Deleted", code, out, errb)
	}
	if code, _, _ := run("-test", "-e", "/f/a"); code != 0 {
		t.Error("-rm -r / deleted /f/a")
	}
}

// TestAdminCommands: granary admin as hdfs dfsadmin: -report and its
// filters, -printTopology, and the command list.
func TestAdminCommands(t *testing.T) {
	c, _, _ := fsCluster(t, nil)
	ctx := context.Background()
	admin := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := adminCmd(ctx, append([]string{"-fs", c.MetadataURL, "-coordinator", c.CoordinatorURL, "-user", "alice"}, args...), &out)
		return out.String(), err
	}
	var out string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		o, err := admin("-report")
		if out = o; err == nil && strings.Contains(o, "Live datanodes (3):") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("-report never showed 3 live datanodes: %v\n%s", err, o)
		}
	}
	if !strings.Contains(out, "Dead datanodes (0):") || strings.Contains(out, "Decommissioning datanodes") {
		t.Fatalf("-report:\n%s", out)
	}
	if strings.Count(out, "Storage types: SSD (1)\n") != 1 || strings.Count(out, "Storage types: DISK (1)\n") != 2 {
		t.Fatalf("-report does not show the storage types (one SSD datanode, two DISK):\n%s", out)
	}
	out, err := admin("-report", "-dead")
	if err != nil || !strings.Contains(out, "Dead datanodes (0):") || strings.Contains(out, "Live datanodes") || !strings.Contains(out, "Configured Capacity:") {
		t.Fatalf("-report -dead: %v\n%s", err, out)
	}
	out, err = admin("-report", "-decommissioning")
	if err != nil || !strings.Contains(out, "Decommissioning datanodes (0):") || strings.Contains(out, "Live datanodes") {
		t.Fatalf("-report -decommissioning: %v\n%s", err, out)
	}
	out, err = admin("-printTopology")
	if err != nil || !strings.HasPrefix(out, "Rack: /default-rack\n") || strings.Count(out, ") In Service\n") != 3 {
		t.Fatalf("-printTopology: %v\n%s", err, out)
	}
	if err := adminCmd(ctx, nil, &bytes.Buffer{}); err == nil {
		t.Fatal("granary admin with no command succeeded")
	}
}

// TestFsUsage: -usage <cmd> and -help <cmd> print that command's synopsis,
// and every listed command is one the shell runs.
func TestFsUsage(t *testing.T) {
	ctx := context.Background()
	for _, h := range []string{"-usage", "-help"} {
		var out, errb bytes.Buffer
		if code := fsCmd(ctx, []string{h, "rmdir"}, &out, &errb); code != 0 || out.String() != "Usage: granary fs [generic options] -rmdir [--ignore-fail-on-non-empty] <dir>...\n" {
			t.Fatalf("%s rmdir: %d %q %q", h, code, out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := fsCmd(ctx, []string{"-usage", "frob"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "-frob: No such command") {
		t.Fatalf("-usage frob: %d %q", code, errb.String())
	}
	for _, syn := range fsSynopses {
		cmd := strings.Fields(syn)[0]
		if cmd == "-help" || cmd == "-usage" {
			continue
		}
		var out, errb bytes.Buffer
		// No operands: every command refuses or acts, none is unknown.
		fsCmd(ctx, []string{"-fs", "http://127.0.0.1:1", cmd}, &out, &errb)
		if strings.Contains(errb.String(), "Unknown command") {
			t.Errorf("%s is listed but the shell does not know it", cmd)
		}
	}
}

// TestFsFailsOverBetweenMetadataURLs: -fs may list several metadata
// services (HA); one refusing connections is passed over, for reads and
// for writes alike (nothing reached it).
func TestFsFailsOverBetweenMetadataURLs(t *testing.T) {
	c, _, _ := fsCluster(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	local := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(local, []byte("failed over\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := fsCmd(context.Background(), append([]string{"-fs", dead + "," + c.MetadataURL}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	for _, args := range [][]string{{"-mkdir", "-p", "/user/alice/ha"}, {"-put", local, "/user/alice/ha/f"}} {
		if code, _, errs := fs(args...); code != 0 {
			t.Fatalf("granary fs %v with a dead first service: %d %s", args, code, errs)
		}
	}
	if code, out, errs := fs("-cat", "/user/alice/ha/f"); code != 0 || out != "failed over\n" {
		t.Fatalf("-cat: %d %q %s", code, out, errs)
	}
}
