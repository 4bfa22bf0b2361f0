package hadoopconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func property(name, value string, final bool) string {
	f := ""
	if final {
		f = "<final>true</final>"
	}
	return "<property><name>" + name + "</name><value>" + value + "</value>" + f + "<description>x</description></property>\n"
}

// TestResources: core-site.xml then hdfs-site.xml, a later file overriding
// an earlier one but not a final key (a warning instead), -D overriding
// everything, ${var} from keys and ${env.*} from the environment.
func TestResources(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "core-site.xml", `<?xml version="1.0"?>
<?xml-stylesheet type="text/xsl" href="configuration.xsl"?>
<!-- a comment -->
<configuration>
`+property("fs.defaultFS", "hdfs://nn:8020", false)+property("dfs.replication", "2", true)+property("base.dir", "/data/${user.name}", false)+property("dfs.blocksize", "64m", false)+`</configuration>`)
	write(t, dir, "hdfs-site.xml", `<configuration>
`+property("dfs.replication", "3", false)+property("dfs.blocksize", "1m", false)+property("user.name", "alice", false)+
		property("dfs.datanode.data.dir", "[SSD]${base.dir}/1,${base.dir}/2", false)+property("home", "${env.GRANARY_TEST_HOME}", false)+
		property("fallback", "${env.GRANARY_TEST_UNSET:-none}", false)+property("loop", "${loop}x", false)+property("left", "${nothing.here}", false)+`</configuration>`)
	t.Setenv("GRANARY_TEST_HOME", "/home/a")
	c := New()
	var warnings []string
	c.Warn = func(m string) { warnings = append(warnings, m) }
	files := FilesIn(dir)
	if len(files) != 2 || !strings.HasSuffix(files[0], "core-site.xml") {
		t.Fatalf("FilesIn = %v", files)
	}
	for _, f := range files {
		if err := c.AddFile(f); err != nil {
			t.Fatal(err)
		}
	}
	for key, want := range map[string]string{
		"fs.defaultFS": "hdfs://nn:8020", "dfs.replication": "2", "dfs.blocksize": "1m",
		"dfs.datanode.data.dir": "[SSD]/data/alice/1,/data/alice/2", "home": "/home/a", "fallback": "none", "left": "${nothing.here}",
	} {
		if got, ok, err := c.Get(key); !ok || err != nil || got != want {
			t.Errorf("%s = %q %v %v, want %q", key, got, ok, err, want)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "an attempt to override final parameter: dfs.replication") {
		t.Fatalf("warnings %v", warnings)
	}
	if _, _, err := c.Get("loop"); err == nil || !strings.Contains(err.Error(), "Variable substitution depth too large: 20") {
		t.Fatalf("a self-referencing value: %v", err)
	}
	if src := c.Source("dfs.blocksize"); src != filepath.Join(dir, "hdfs-site.xml") {
		t.Fatalf("source of dfs.blocksize: %q", src)
	}
	if n, ok, err := c.Bytes("dfs.blocksize"); !ok || err != nil || n != 1<<20 {
		t.Fatalf("dfs.blocksize = %d %v %v", n, ok, err)
	}
	c.Set("dfs.replication", "1", SourceCommandLine)
	if v := c.Value("dfs.replication"); v != "1" || c.Source("dfs.replication") != SourceCommandLine {
		t.Fatalf("-D over a final key: %q from %q", v, c.Source("dfs.replication"))
	}
}

func TestSizesAndDurations(t *testing.T) {
	for in, want := range map[string]int64{"134217728": 128 << 20, "128m": 128 << 20, "1g": 1 << 30, "512K": 512 << 10, "2t": 2 << 40, " 1k ": 1024} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "12x", "1.5g", "m", "9999999e"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
	for _, c := range []struct {
		in   string
		unit time.Duration
		want time.Duration
	}{{"3", time.Second, 3 * time.Second}, {"3s", time.Millisecond, 3 * time.Second}, {"30000", time.Millisecond, 30 * time.Second},
		{"10m", time.Second, 10 * time.Minute}, {"250ms", time.Second, 250 * time.Millisecond}, {"1d", time.Second, 24 * time.Hour}, {"5H", time.Second, 5 * time.Hour}} {
		if got, err := ParseDuration(c.in, c.unit); err != nil || got != c.want {
			t.Errorf("ParseDuration(%q, %v) = %v, %v; want %v", c.in, c.unit, got, err, c.want)
		}
	}
	if _, err := ParseDuration("3 weeks", time.Second); err == nil {
		t.Error("a duration with an unknown unit was accepted")
	}
}

// TestBadFiles: malformed XML and a final key declared twice are errors
// naming the file and the line.
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct{ body, want string }{
		"broken.xml": {"<configuration>\n<property><name>a</name><value>1</value>\n</configuration>", "broken.xml:3: malformed XML"},
		"twice.xml":  {"<configuration>\n" + property("a", "1", true) + property("a", "2", false) + "</configuration>", "twice.xml:3: a is declared again (first at line 2) and is final"},
		"root.xml":   {"<conf></conf>", "root.xml:1: the root element is <conf>"},
		"noname.xml": {"<configuration>\n\n<property><value>1</value></property></configuration>", "noname.xml:3: a property without a <name>"},
		"notxml.xml": {"dfs.replication=2", "no <configuration> element"},
	} {
		err := New().AddFile(write(t, dir, name, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}
