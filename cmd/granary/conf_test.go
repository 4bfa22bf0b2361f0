package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func siteFile(t *testing.T, dir, name string, props ...string) {
	t.Helper()
	body := "<?xml version=\"1.0\"?>\n<configuration>\n"
	for i := 0; i+1 < len(props); i += 2 {
		final := ""
		if strings.HasSuffix(props[i], "!") {
			final = "<final>true</final>"
		}
		body += "  <property><name>" + strings.TrimSuffix(props[i], "!") + "</name><value>" + props[i+1] + "</value>" + final + "</property>\n"
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body+"</configuration>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFsReadsHadoopConf: with HADOOP_CONF_DIR's core-site.xml naming the
// cluster (fs.defaultFS) and hdfs-site.xml setting dfs.replication (through
// ${var}) and dfs.blocksize (final in core-site: hdfs-site cannot change
// it), granary fs -put writes files with them and no -fs; -D overrides the
// files; bad values and bad files are clear errors.
func TestFsReadsHadoopConf(t *testing.T) {
	c, _, _ := fsCluster(t, nil)
	dir := t.TempDir()
	siteFile(t, dir, "core-site.xml", "fs.defaultFS", c.MetadataURL, "dfs.blocksize!", "1m")
	siteFile(t, dir, "hdfs-site.xml", "my.replication", "2", "dfs.replication", "${my.replication}", "dfs.blocksize", "4m", "some.unused.key", "x")
	t.Setenv("HADOOP_CONF_DIR", dir)
	local := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(local, bytes.Repeat([]byte("granary "), 320_000), 0o644); err != nil { // 2.4 MiB
		t.Fatal(err)
	}
	fs := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := fsCmd(context.Background(), args, &out, &errb)
		return code, out.String(), errb.String()
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-put", local, "/conf/a"}, "2 1048576"},
		{[]string{"-D", "dfs.replication=1", "-put", local, "/conf/b"}, "1 1048576"},
		{[]string{"-Ddfs.blocksize=2m", "-put", local, "/conf/c"}, "2 2097152"},
	} {
		code, _, errs := fs(c.args...)
		if code != 0 {
			t.Fatalf("granary fs %v: exit %d: %s", c.args, code, errs)
		}
		if !strings.Contains(errs, "an attempt to override final parameter: dfs.blocksize") {
			t.Fatalf("granary fs %v: no warning for the final dfs.blocksize: %q", c.args, errs)
		}
		path := c.args[len(c.args)-1]
		code, out, errs := fs("-stat", "%r %o", path)
		if code != 0 || strings.TrimSpace(out) != c.want {
			t.Fatalf("-stat of %s: %d %q %s, want %q (replication, block size)", path, code, out, errs, c.want)
		}
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"-D", "dfs.blocksize=12x", "-ls", "/"}, `dfs.blocksize: "12x" is not a size`},
		{[]string{"-D", "dfs.replication=two", "-ls", "/"}, `dfs.replication: "two" is not a replication factor`},
		{[]string{"-D", "dfs.bytes-per-checksum=1024", "-ls", "/"}, "dfs.bytes-per-checksum: 1024 is not supported"},
		{[]string{"-D", "novalue", "-ls", "/"}, "-D novalue: expected key=value"},
		{[]string{"-D", "hadoop.security.authentication=token", "-ls", "/"}, "hadoop.security.authentication is token (from command line): set GRANARY_TOKEN"},
		{[]string{"-D", "hadoop.security.authentication=kerberos", "-ls", "/"}, `hadoop.security.authentication: "kerberos" is not supported`},
	} {
		if code, _, errs := fs(bad.args...); code != 2 || !strings.Contains(errs, bad.want) {
			t.Errorf("granary fs %v: exit %d, %q; want exit 2 and %q", bad.args, code, errs, bad.want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "hdfs-site.xml"), []byte("<configuration>\n<property><name>x</name>\n</configuration>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := fs("-ls", "/"); code != 2 || !strings.Contains(errs, filepath.Join(dir, "hdfs-site.xml")+":3: malformed XML") {
		t.Fatalf("a malformed hdfs-site.xml: exit %d, %q", code, errs)
	}
}
