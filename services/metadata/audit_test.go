package metadata_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAuditLog: every namespace operation that succeeded or was refused
// for permission is one line of HDFS's hdfs-audit.log format.
func TestAuditLog(t *testing.T) {
	db := formatted(t)
	cfg := testConfig(db)
	cfg.AuditLog = filepath.Join(t.TempDir(), "hdfs-audit.log")
	n := start(t, cfg)
	n.boolean("PUT", "/webhdfs/v1/a?op=MKDIRS&user.name=hdfs")
	n.boolean("PUT", "/webhdfs/v1/a?op=RENAME&destination=/b&user.name=hdfs")
	n.want(200, "GET", "/webhdfs/v1/b?op=GETFILESTATUS&user.name=alice", nil)
	n.remote(403, "AccessControlException", "PUT", "/webhdfs/v1/b/x?op=MKDIRS&user.name=bob")
	n.remote(404, "FileNotFoundException", "GET", "/webhdfs/v1/missing?op=GETFILESTATUS&user.name=bob")
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfg.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO FSNamesystem\.audit: (.*)$`)
	var got []string
	for _, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not an audit line: %q", l)
		}
		got = append(got, m[1])
	}
	want := []string{
		"allowed=true\tugi=hdfs (auth:SIMPLE)\tip=/127.0.0.1\tcmd=mkdirs\tsrc=/a\tdst=null\tperm=hdfs:supergroup:rwxr-xr-x\tproto=webhdfs",
		"allowed=true\tugi=hdfs (auth:SIMPLE)\tip=/127.0.0.1\tcmd=rename\tsrc=/a\tdst=/b\tperm=hdfs:supergroup:rwxr-xr-x\tproto=webhdfs",
		"allowed=true\tugi=alice (auth:SIMPLE)\tip=/127.0.0.1\tcmd=getfileinfo\tsrc=/b\tdst=null\tperm=null\tproto=webhdfs",
		"allowed=false\tugi=bob (auth:SIMPLE)\tip=/127.0.0.1\tcmd=mkdirs\tsrc=/b/x\tdst=null\tperm=null\tproto=webhdfs",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
