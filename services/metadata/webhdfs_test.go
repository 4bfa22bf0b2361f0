package metadata_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// lastTxID reads the committed txid from /metrics.
func (n *node) lastTxID() string {
	n.t.Helper()
	_, body := n.call("GET", "/metrics", nil)
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "granary_metadata_last_txid "); ok {
			return v
		}
	}
	n.t.Fatal("no granary_metadata_last_txid in /metrics")
	return ""
}

// unchanged runs fn and checks that no edit was committed meanwhile.
func (n *node) unchanged(fn func()) {
	n.t.Helper()
	before := n.lastTxID()
	fn()
	if after := n.lastTxID(); after != before {
		n.t.Fatalf("a refused request changed the namespace: txid %s -> %s", before, after)
	}
}

func (n *node) boolean(method, path string) bool {
	n.t.Helper()
	var b struct{ Boolean *bool }
	n.want(http.StatusOK, method, path, &b)
	if b.Boolean == nil {
		n.t.Fatalf("%s %s: no boolean in answer", method, path)
	}
	return *b.Boolean
}

func (n *node) status(path, user string) map[string]any {
	n.t.Helper()
	var st struct{ FileStatus map[string]any }
	n.want(http.StatusOK, "GET", "/webhdfs/v1"+path+"?op=GETFILESTATUS&user.name="+user, &st)
	return st.FileStatus
}

func (n *node) touch(path, user string) {
	n.t.Helper()
	body := fmt.Sprintf(`{"path":%q,"clientName":"test-client","createParent":true}`, path)
	code, b := n.call("POST", "/api/v1/create?user.name="+user, strings.NewReader(body))
	if code != http.StatusOK {
		n.t.Fatalf("create %s: %d %s", path, code, b)
	}
	code, b = n.call("POST", "/api/v1/complete?user.name="+user, strings.NewReader(fmt.Sprintf(`{"path":%q,"clientName":"test-client"}`, path)))
	if code != http.StatusOK {
		n.t.Fatalf("complete %s: %d %s", path, code, b)
	}
}

func TestWebHDFSMkdirsAndFileStatus(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	if !n.boolean("PUT", "/webhdfs/v1/a/b/c?op=MKDIRS&user.name=hdfs") {
		t.Fatal("MKDIRS answered false")
	}
	if !n.boolean("PUT", "/webhdfs/v1/a/b/c?op=MKDIRS&user.name=hdfs") {
		t.Fatal("MKDIRS of an existing directory answered false")
	}
	n.boolean("PUT", "/webhdfs/v1/p?op=MKDIRS&permission=700&user.name=hdfs")

	// Exact shape: keys sorted as HDFS's JsonUtil writes them.
	_, raw := n.call("GET", "/webhdfs/v1/a?op=GETFILESTATUS", nil)
	var generic map[string]map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range generic["FileStatus"] {
		keys = append(keys, k)
	}
	want := []string{"accessTime", "blockSize", "childrenNum", "fileId", "group", "length", "modificationTime", "owner", "pathSuffix", "permission", "replication", "storagePolicy", "type"}
	if !sameSet(keys, want) {
		t.Fatalf("FileStatus keys %v, want %v", keys, want)
	}
	if !bytes.HasPrefix(raw, []byte(`{"FileStatus":{"accessTime":0,"blockSize":0,"childrenNum":1,"fileId":16386,"group":"supergroup","length":0,"modificationTime":`)) {
		t.Fatalf("GETFILESTATUS body %s", raw)
	}
	st := n.status("/a", "bob")
	for k, v := range map[string]any{"type": "DIRECTORY", "owner": "hdfs", "permission": "755", "pathSuffix": "", "replication": 0.0, "length": 0.0} {
		if st[k] != v {
			t.Fatalf("%s = %v, want %v (%v)", k, st[k], v, st)
		}
	}
	if st := n.status("/p", "hdfs"); st["permission"] != "700" {
		t.Fatalf("permission %v", st["permission"])
	}
	if st := n.status("/", "hdfs"); st["fileId"] != 16385.0 || st["childrenNum"] != 2.0 {
		t.Fatalf("root status %v", st)
	}

	msg := n.remote(404, "FileNotFoundException", "GET", "/webhdfs/v1/nope?op=GETFILESTATUS")
	if msg != "File does not exist: /nope" {
		t.Fatalf("message %q", msg)
	}
	n.touch("/a/file", "hdfs")
	n.unchanged(func() {
		n.remote(403, "FileAlreadyExistsException", "PUT", "/webhdfs/v1/a/file?op=MKDIRS&user.name=hdfs")
		n.remote(403, "ParentNotDirectoryException", "PUT", "/webhdfs/v1/a/file/x?op=MKDIRS&user.name=hdfs")
		n.remote(403, "AccessControlException", "PUT", "/webhdfs/v1/bobdir?op=MKDIRS&user.name=bob")
		n.remote(403, "AccessControlException", "GET", "/webhdfs/v1/p/x?op=GETFILESTATUS&user.name=bob")
		n.remote(403, "PathComponentTooLongException", "PUT", "/webhdfs/v1/"+strings.Repeat("x", 256)+"?op=MKDIRS&user.name=hdfs")
		// HDFS's MAX_PATH_DEPTH (1000 levels) and MAX_PATH_LENGTH (8000).
		n.remote(403, "IOException", "PUT", "/webhdfs/v1"+strings.Repeat("/d", 1001)+"?op=MKDIRS&user.name=hdfs")
		n.remote(403, "IOException", "PUT", "/webhdfs/v1"+strings.Repeat("/"+strings.Repeat("x", 200), 40)+"?op=MKDIRS&user.name=hdfs")
		for _, bad := range []string{"/a/../b", "/a/./b", "/a//b", "/a%00b", "/a:b", "/a%FFb", "/%C3"} {
			n.remote(400, "InvalidPathException", "PUT", "/webhdfs/v1"+bad+"?op=MKDIRS&user.name=hdfs")
		}
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/q?op=MKDIRS&permission=999&user.name=hdfs")
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/q?op=MKDIRS&permission=rwx&user.name=hdfs")
	})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

func TestWebHDFSListStatus(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	for _, name := range []string{"c", "a", "b"} {
		n.boolean("PUT", "/webhdfs/v1/d/"+name+"?op=MKDIRS&user.name=hdfs")
	}
	n.touch("/d/f", "hdfs")
	var ls struct {
		FileStatuses struct{ FileStatus []map[string]any }
	}
	n.want(200, "GET", "/webhdfs/v1/d?op=LISTSTATUS", &ls)
	var got []string
	for _, fs := range ls.FileStatuses.FileStatus {
		got = append(got, fs["pathSuffix"].(string)+":"+fs["type"].(string))
	}
	if want := []string{"a:DIRECTORY", "b:DIRECTORY", "c:DIRECTORY", "f:FILE"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("LISTSTATUS %v, want %v", got, want)
	}
	f := ls.FileStatuses.FileStatus[3]
	if f["replication"] != 3.0 || f["blockSize"] != 134217728.0 || f["permission"] != "644" || f["length"] != 0.0 {
		t.Fatalf("file status %v", f)
	}
	n.want(200, "GET", "/webhdfs/v1/d/f?op=LISTSTATUS", &ls)
	if len(ls.FileStatuses.FileStatus) != 1 || ls.FileStatuses.FileStatus[0]["pathSuffix"] != "" {
		t.Fatalf("LISTSTATUS of a file: %v", ls)
	}
	n.want(200, "GET", "/webhdfs/v1/d/a?op=LISTSTATUS", &ls)
	if len(ls.FileStatuses.FileStatus) != 0 {
		t.Fatalf("empty directory listed %v", ls)
	}
	if body := n.want(200, "GET", "/webhdfs/v1/d/a?op=LISTSTATUS", nil); string(body) != `{"FileStatuses":{"FileStatus":[]}}` {
		t.Fatalf("empty listing body %s", body)
	}
	n.remote(404, "FileNotFoundException", "GET", "/webhdfs/v1/missing?op=LISTSTATUS")
	n.boolean("PUT", "/webhdfs/v1/private?op=MKDIRS&permission=700&user.name=hdfs")
	n.remote(403, "AccessControlException", "GET", "/webhdfs/v1/private?op=LISTSTATUS&user.name=bob")
}

func TestWebHDFSListStatusBatch(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	const total = 2500
	var wg sync.WaitGroup
	errc := make(chan error, total)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 16 {
				req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/webhdfs/v1/big/e%05d?op=MKDIRS&user.name=hdfs", n.base, i), nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errc <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errc <- fmt.Errorf("mkdir e%05d: %s", i, resp.Status)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	startAfter := ""
	seen := 0
	for _, wantRemaining := range []float64{1500, 500, 0} {
		var page struct {
			DirectoryListing struct {
				PartialListing struct {
					FileStatuses struct{ FileStatus []map[string]any }
				} `json:"partialListing"`
				RemainingEntries float64 `json:"remainingEntries"`
			}
		}
		n.want(200, "GET", "/webhdfs/v1/big?op=LISTSTATUS_BATCH&startAfter="+startAfter, &page)
		list := page.DirectoryListing.PartialListing.FileStatuses.FileStatus
		if page.DirectoryListing.RemainingEntries != wantRemaining {
			t.Fatalf("remainingEntries %v, want %v", page.DirectoryListing.RemainingEntries, wantRemaining)
		}
		for _, fs := range list {
			if want := fmt.Sprintf("e%05d", seen); fs["pathSuffix"] != want {
				t.Fatalf("entry %d is %v, want %s", seen, fs["pathSuffix"], want)
			}
			seen++
		}
		startAfter = list[len(list)-1]["pathSuffix"].(string)
	}
	if seen != total {
		t.Fatalf("listed %d entries, want %d", seen, total)
	}
}

func TestWebHDFSDelete(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	n.boolean("PUT", "/webhdfs/v1/tmp?op=MKDIRS&permission=1777&user.name=hdfs")
	n.want(200, "PUT", "/webhdfs/v1/tmp?op=SETPERMISSION&permission=1777&user.name=hdfs", nil)
	n.touch("/tmp/alice-file", "alice")
	n.boolean("PUT", "/webhdfs/v1/full/sub?op=MKDIRS&user.name=hdfs")
	n.touch("/full/sub/f", "hdfs")

	n.unchanged(func() {
		n.remote(403, "PathIsNotEmptyDirectoryException", "DELETE", "/webhdfs/v1/full?op=DELETE&user.name=hdfs")
		n.remote(403, "PathIsNotEmptyDirectoryException", "DELETE", "/webhdfs/v1/full?op=DELETE&recursive=false&user.name=hdfs")
		n.remote(403, "AccessControlException", "DELETE", "/webhdfs/v1/tmp/alice-file?op=DELETE&user.name=bob")
		n.remote(403, "AccessControlException", "DELETE", "/webhdfs/v1/full?op=DELETE&recursive=true&user.name=bob")
		n.remote(400, "IllegalArgumentException", "DELETE", "/webhdfs/v1/full?op=DELETE&recursive=maybe&user.name=hdfs")
		if n.boolean("DELETE", "/webhdfs/v1/missing?op=DELETE&user.name=hdfs") {
			t.Fatal("DELETE of a missing path answered true")
		}
		if n.boolean("DELETE", "/webhdfs/v1/?op=DELETE&recursive=true&user.name=hdfs") {
			t.Fatal("DELETE of / answered true")
		}
	})
	n.status("/full/sub/f", "hdfs")
	if !n.boolean("DELETE", "/webhdfs/v1/tmp/alice-file?op=DELETE&user.name=alice") {
		t.Fatal("owner could not delete in a sticky directory")
	}
	if !n.boolean("DELETE", "/webhdfs/v1/full?op=DELETE&recursive=true&user.name=hdfs") {
		t.Fatal("recursive DELETE answered false")
	}
	n.remote(404, "FileNotFoundException", "GET", "/webhdfs/v1/full/sub/f?op=GETFILESTATUS")
}

func TestWebHDFSRename(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	n.boolean("PUT", "/webhdfs/v1/src/inner?op=MKDIRS&user.name=hdfs")
	n.boolean("PUT", "/webhdfs/v1/dstdir?op=MKDIRS&user.name=hdfs")
	n.touch("/f1", "hdfs")
	n.touch("/f2", "hdfs")

	n.unchanged(func() {
		for _, q := range []string{
			"/f1?op=RENAME&destination=/f2",             // onto an existing file
			"/src?op=RENAME&destination=/src/inner/x",   // into its own subtree
			"/missing?op=RENAME&destination=/elsewhere", // no source
			"/f1?op=RENAME&destination=/nodir/f1",       // no destination parent
		} {
			if n.boolean("PUT", "/webhdfs/v1"+q+"&user.name=hdfs") {
				t.Fatalf("RENAME %s answered true", q)
			}
		}
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/f1?op=RENAME&user.name=hdfs")
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/f1?op=RENAME&destination=relative&user.name=hdfs")
		n.remote(400, "InvalidPathException", "PUT", "/webhdfs/v1/f1?op=RENAME&destination=/a/../b&user.name=hdfs")
		n.remote(403, "AccessControlException", "PUT", "/webhdfs/v1/f1?op=RENAME&destination=/f3&user.name=bob")
	})
	if !n.boolean("PUT", "/webhdfs/v1/f1?op=RENAME&destination=/f3&user.name=hdfs") {
		t.Fatal("RENAME answered false")
	}
	n.remote(404, "FileNotFoundException", "GET", "/webhdfs/v1/f1?op=GETFILESTATUS")
	n.status("/f3", "hdfs")
	// Into an existing directory: the source moves inside it.
	if !n.boolean("PUT", "/webhdfs/v1/src?op=RENAME&destination=/dstdir&user.name=hdfs") {
		t.Fatal("RENAME into a directory answered false")
	}
	n.status("/dstdir/src/inner", "hdfs")
}

func TestWebHDFSQuotas(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	n.boolean("PUT", "/webhdfs/v1/q?op=MKDIRS&user.name=hdfs")
	n.touch("/file", "hdfs")
	n.unchanged(func() {
		n.remote(403, "AccessControlException", "PUT", "/webhdfs/v1/q?op=SETQUOTA&namespacequota=3&user.name=bob")
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/q?op=SETQUOTA&namespacequota=0&user.name=hdfs")
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/q?op=SETQUOTA&user.name=hdfs")
		n.remote(403, "PathIsNotDirectoryException", "PUT", "/webhdfs/v1/file?op=SETQUOTA&namespacequota=3&user.name=hdfs")
		n.remote(404, "FileNotFoundException", "PUT", "/webhdfs/v1/none?op=SETQUOTA&namespacequota=3&user.name=hdfs")
	})
	n.want(200, "PUT", "/webhdfs/v1/q?op=SETQUOTA&namespacequota=3&storagespacequota=1048576&user.name=hdfs", nil)
	n.boolean("PUT", "/webhdfs/v1/q/a?op=MKDIRS&user.name=hdfs")
	n.boolean("PUT", "/webhdfs/v1/q/b?op=MKDIRS&user.name=hdfs")
	n.unchanged(func() {
		n.remote(403, "NSQuotaExceededException", "PUT", "/webhdfs/v1/q/c?op=MKDIRS&user.name=hdfs")
		n.remote(403, "NSQuotaExceededException", "PUT", "/webhdfs/v1/file?op=RENAME&destination=/q/f&user.name=hdfs")
	})
	var qu struct{ QuotaUsage map[string]any }
	n.want(200, "GET", "/webhdfs/v1/q?op=GETQUOTAUSAGE", &qu)
	if qu.QuotaUsage["fileAndDirectoryCount"] != 3.0 || qu.QuotaUsage["quota"] != 3.0 || qu.QuotaUsage["spaceQuota"] != 1048576.0 || qu.QuotaUsage["spaceConsumed"] != 0.0 {
		t.Fatalf("QuotaUsage %v", qu)
	}
	var cs struct{ ContentSummary map[string]any }
	n.want(200, "GET", "/webhdfs/v1/q?op=GETCONTENTSUMMARY", &cs)
	want := map[string]any{"directoryCount": 3.0, "fileCount": 0.0, "length": 0.0, "quota": 3.0, "spaceConsumed": 0.0, "spaceQuota": 1048576.0, "typeQuota": map[string]any{}}
	if !reflect.DeepEqual(cs.ContentSummary, want) {
		t.Fatalf("ContentSummary %v, want %v", cs.ContentSummary, want)
	}
	n.want(200, "PUT", "/webhdfs/v1/q?op=SETQUOTA&namespacequota=-1&storagespacequota=-1&user.name=hdfs", nil)
	n.boolean("PUT", "/webhdfs/v1/q/c?op=MKDIRS&user.name=hdfs")
	n.want(200, "GET", "/webhdfs/v1/?op=GETCONTENTSUMMARY", &cs)
	if cs.ContentSummary["directoryCount"] != 5.0 || cs.ContentSummary["fileCount"] != 1.0 || cs.ContentSummary["quota"] != -1.0 {
		t.Fatalf("root ContentSummary %v", cs)
	}
	n.want(200, "GET", "/webhdfs/v1/file?op=GETCONTENTSUMMARY", &cs)
	if cs.ContentSummary["directoryCount"] != 0.0 || cs.ContentSummary["fileCount"] != 1.0 {
		t.Fatalf("file ContentSummary %v", cs)
	}
}

func TestWebHDFSSetters(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	n.boolean("PUT", "/webhdfs/v1/home/alice?op=MKDIRS&user.name=hdfs")
	n.want(200, "PUT", "/webhdfs/v1/home/alice?op=SETOWNER&owner=alice&group=alice&user.name=hdfs", nil)
	n.touch("/home/alice/f", "alice")

	// SETPERMISSION: the owner may; the answer is an empty 200.
	if body := n.want(200, "PUT", "/webhdfs/v1/home/alice/f?op=SETPERMISSION&permission=600&user.name=alice", nil); len(body) != 0 {
		t.Fatalf("SETPERMISSION body %q", body)
	}
	if st := n.status("/home/alice/f", "alice"); st["permission"] != "600" || st["owner"] != "alice" || st["group"] != "alice" {
		t.Fatalf("status %v", st)
	}
	n.want(200, "PUT", "/webhdfs/v1/home/alice?op=SETPERMISSION&permission=1777&user.name=alice", nil)
	if st := n.status("/home/alice", "alice"); st["permission"] != "1777" {
		t.Fatalf("sticky permission %v", st["permission"])
	}
	n.unchanged(func() {
		n.remote(403, "AccessControlException", "PUT", "/webhdfs/v1/home/alice/f?op=SETPERMISSION&permission=777&user.name=bob")
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/home/alice/f?op=SETPERMISSION&permission=8&user.name=alice")
		n.remote(404, "FileNotFoundException", "PUT", "/webhdfs/v1/home/alice/none?op=SETPERMISSION&permission=600&user.name=alice")
		n.remote(403, "AccessControlException", "PUT", "/webhdfs/v1/home/alice/f?op=SETOWNER&owner=bob&user.name=alice")
		n.remote(403, "AccessControlException", "PUT", "/webhdfs/v1/home/alice/f?op=SETOWNER&group=staff&user.name=alice")
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/home/alice/f?op=SETOWNER&user.name=hdfs")
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/home/alice/f?op=SETTIMES&modificationtime=soon&user.name=alice")
		n.remote(404, "FileNotFoundException", "PUT", "/webhdfs/v1/home/alice/none?op=SETTIMES&modificationtime=5&user.name=alice")
		n.remote(403, "IOException", "PUT", "/webhdfs/v1/home/alice/f?op=SETREPLICATION&replication=0&user.name=alice")
		n.remote(403, "IOException", "PUT", "/webhdfs/v1/home/alice/f?op=SETREPLICATION&replication=513&user.name=alice")
		n.remote(403, "AccessControlException", "PUT", "/webhdfs/v1/home/alice/f?op=SETREPLICATION&replication=2&user.name=bob")
		if n.boolean("PUT", "/webhdfs/v1/home/alice?op=SETREPLICATION&replication=2&user.name=alice") {
			t.Fatal("SETREPLICATION on a directory answered true")
		}
	})
	n.want(200, "PUT", "/webhdfs/v1/home/alice/f?op=SETOWNER&owner=bob&user.name=hdfs", nil)
	n.want(200, "PUT", "/webhdfs/v1/home/alice/f?op=SETTIMES&modificationtime=1234567&accesstime=7654321&user.name=hdfs", nil)
	if !n.boolean("PUT", "/webhdfs/v1/home/alice/f?op=SETREPLICATION&replication=2&user.name=hdfs") {
		t.Fatal("SETREPLICATION answered false")
	}
	st := n.status("/home/alice/f", "hdfs")
	if st["owner"] != "bob" || st["modificationTime"] != 1234567.0 || st["accessTime"] != 7654321.0 || st["replication"] != 2.0 {
		t.Fatalf("status after setters %v", st)
	}
}

func TestWebHDFSInfoOpsAndBadRequests(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	if body := n.want(200, "GET", "/webhdfs/v1/?op=GETHOMEDIRECTORY&user.name=bob", nil); string(body) != `{"Path":"/user/bob"}` {
		t.Fatalf("GETHOMEDIRECTORY %s", body)
	}
	if body := n.want(200, "GET", "/webhdfs/v1/?op=GETTRASHROOT&user.name=bob", nil); string(body) != `{"Path":"/user/bob/.Trash"}` {
		t.Fatalf("GETTRASHROOT %s", body)
	}
	if body := n.want(200, "GET", "/webhdfs/v1/?op=GETHOMEDIRECTORY", nil); string(body) != `{"Path":"/user/dr.who"}` {
		t.Fatalf("anonymous GETHOMEDIRECTORY %s", body)
	}
	want := `{"FsServerDefaults":{"blockSize":134217728,"bytesPerChecksum":512,"checksumType":2,"defaultStoragePolicyId":7,"encryptDataTransfer":false,"fileBufferSize":4096,"keyProviderUri":"","replication":3,"trashInterval":0,"writePacketSize":65536}}`
	if body := n.want(200, "GET", "/webhdfs/v1/?op=GETSERVERDEFAULTS", nil); string(body) != want {
		t.Fatalf("GETSERVERDEFAULTS %s", body)
	}
	n.unchanged(func() {
		msg := n.remote(400, "IllegalArgumentException", "GET", "/webhdfs/v1/?op=FROB")
		if msg != `Invalid value for webhdfs parameter "op": No enum constant org.apache.hadoop.hdfs.web.resources.GetOpParam.Op.FROB` {
			t.Fatalf("unknown op message %q", msg)
		}
		n.remote(400, "IllegalArgumentException", "GET", "/webhdfs/v1/x?op=MKDIRS&user.name=hdfs")
		// A known parameter with a bad value is still refused.
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/x?op=MKDIRS&frobnicate=1&permission=x&user.name=hdfs")
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/x?user.name=hdfs")
		n.remote(400, "UnsupportedOperationException", "PUT", "/webhdfs/v1/x?op=CREATESYMLINK&user.name=hdfs")
		n.remote(403, "AccessControlException", "PUT", "/webhdfs/v1/x?op=MKDIRS&user.name=bob&doas=hdfs")
		n.remote(404, "FileNotFoundException", "GET", "/no/such/endpoint")
	})
	// Unknown parameters are ignored, as HDFS ignores them (fsspec sends
	// tempdir on every CREATE), and a parameter given twice takes its first
	// value (Jersey's getFirst).
	n.boolean("PUT", "/webhdfs/v1/unknown?op=MKDIRS&tempdir=/tmp&frobnicate=1&user.name=hdfs")
	n.boolean("PUT", "/webhdfs/v1/twice?op=MKDIRS&permission=750&permission=700&user.name=hdfs")
	if st := n.status("/twice", "hdfs"); st["permission"] != "750" {
		t.Fatalf("permission given twice: %v, want the first (750)", st["permission"])
	}
	// Delegation tokens with security off, as HDFS: none is issued, so
	// none can be renewed or cancelled.
	if body := n.want(200, "GET", "/webhdfs/v1/?op=GETDELEGATIONTOKEN&renewer=yarn&user.name=bob", nil); string(body) != `{"Token":null}` {
		t.Fatalf("GETDELEGATIONTOKEN with simple authentication: %s", body)
	}
	n.unchanged(func() {
		n.remote(403, "InvalidToken", "PUT", "/webhdfs/v1/?op=RENEWDELEGATIONTOKEN&token=HAAEaGRmcw&user.name=bob")
		n.remote(403, "InvalidToken", "PUT", "/webhdfs/v1/?op=CANCELDELEGATIONTOKEN&token=HAAEaGRmcw&user.name=bob")
		n.remote(400, "IllegalArgumentException", "PUT", "/webhdfs/v1/?op=RENEWDELEGATIONTOKEN&user.name=bob")
	})
	// The service serves its own contract.
	if body := n.want(200, "GET", "/openapi.json", nil); !bytes.Contains(body, []byte(`"openapi": "3.0`)) || !bytes.Contains(body, []byte("/webhdfs/v1/{path}")) {
		t.Fatalf("/openapi.json: %.200s", body)
	}
	if body := n.want(200, "GET", "/openapi.yaml", nil); !bytes.Contains(body, []byte("openapi: 3.0")) {
		t.Fatalf("/openapi.yaml: %.200s", body)
	}
	// And Swagger UI for it, with its assets embedded (the UI's own files are
	// not part of the API contract, so they are fetched past the checker).
	req, _ := http.NewRequest("GET", n.base+"/docs", nil)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode != 301 || resp.Header.Get("Location") != "/docs/index.html" {
		t.Fatalf("/docs: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, asset := range []string{"/docs/index.html", "/docs/swagger-ui-bundle.js"} {
		req, _ = http.NewRequest("GET", n.base+asset, nil)
		resp, err = http.DefaultTransport.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", asset, resp, err)
		}
		resp.Body.Close()
	}
	// The superuser may act as another user.
	n.boolean("PUT", "/webhdfs/v1/asbob?op=MKDIRS&user.name=hdfs")
	n.want(200, "PUT", "/webhdfs/v1/asbob?op=SETOWNER&owner=bob&user.name=hdfs", nil)
	n.boolean("PUT", "/webhdfs/v1/asbob/x?op=MKDIRS&user.name=hdfs&doas=bob")
	if st := n.status("/asbob/x", "bob"); st["owner"] != "bob" {
		t.Fatalf("doas owner %v", st["owner"])
	}
}

func TestNativeCreateComplete(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	create := func(user, body string) (int, []byte) {
		return n.call("POST", "/api/v1/create?user.name="+user, strings.NewReader(body))
	}
	code, body := create("hdfs", `{"path":"/dir/new","clientName":"c1","createParent":true,"replication":2,"blockSize":2097152,"permission":"600"}`)
	if code != 200 {
		t.Fatalf("create: %d %s", code, body)
	}
	var st struct{ FileStatus map[string]any }
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if st.FileStatus["replication"] != 2.0 || st.FileStatus["blockSize"] != 2097152.0 || st.FileStatus["permission"] != "600" || st.FileStatus["type"] != "FILE" {
		t.Fatalf("created %v", st)
	}
	n.unchanged(func() {
		for _, c := range []struct {
			body, exception string
			code            int
		}{
			{`{"path":"/dir/new","clientName":"c2"}`, "AlreadyBeingCreatedException", 403},
			{`{"path":"/dir/new","clientName":"c2","overwrite":true}`, "AlreadyBeingCreatedException", 403},
			{`{"path":"/nodir/x","clientName":"c2"}`, "FileNotFoundException", 404},
			{`{"path":"/dir","clientName":"c2"}`, "FileAlreadyExistsException", 403},
			{`{"path":"relative","clientName":"c2"}`, "InvalidPathException", 400},
			{`{"path":"/dir/y","clientName":"c2","blockSize":1024}`, "IOException", 403},
			{`{"path":"/dir/y","clientName":"c2","replication":600}`, "IOException", 403},
			{`{"path":"/dir/y","clientName":"c2","permission":"9"}`, "IllegalArgumentException", 400},
			{`{"path":"/dir/y"}`, "IllegalArgumentException", 400},
			{`{"path":"/dir/y","clientName":"c2","bogus":1}`, "IllegalArgumentException", 400},
			{`not json`, "IllegalArgumentException", 400},
		} {
			code, body := create("hdfs", c.body)
			var e struct{ RemoteException struct{ Exception string } }
			_ = json.Unmarshal(body, &e)
			if code != c.code || e.RemoteException.Exception != c.exception {
				t.Fatalf("create %s: %d %s, want %d %s", c.body, code, body, c.code, c.exception)
			}
		}
		code, body := n.call("POST", "/api/v1/complete?user.name=hdfs", strings.NewReader(`{"path":"/dir/new","clientName":"c2"}`))
		if code != 403 || !strings.Contains(string(body), "LeaseExpiredException") {
			t.Fatalf("complete by another client: %d %s", code, body)
		}
	})
	code, body = n.call("POST", "/api/v1/complete?user.name=hdfs", strings.NewReader(`{"path":"/dir/new","clientName":"c1"}`))
	if code != 200 || string(body) != `{"boolean":true}` {
		t.Fatalf("complete: %d %s", code, body)
	}
	code, body = create("hdfs", `{"path":"/dir/new","clientName":"c2"}`)
	if code != 403 || !strings.Contains(string(body), "FileAlreadyExistsException") {
		t.Fatalf("create over a closed file: %d %s", code, body)
	}
	code, body = create("hdfs", `{"path":"/dir/new","clientName":"c2","overwrite":true}`)
	if code != 200 {
		t.Fatalf("overwrite: %d %s", code, body)
	}
}

func TestSafeModeAdmin(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	var sm struct {
		On      bool
		Message string
	}
	n.want(200, "GET", "/api/v1/admin/safemode", &sm)
	if sm.On {
		t.Fatalf("a fresh namespace with no blocks is in safe mode: %s", sm.Message)
	}
	n.remote(403, "AccessControlException", "POST", "/api/v1/admin/safemode/enter?user.name=bob")
	n.want(200, "POST", "/api/v1/admin/safemode/enter?user.name=hdfs", &sm)
	if !sm.On || !strings.Contains(sm.Message, "turned on manually") {
		t.Fatalf("after enter: %+v", sm)
	}
	n.unchanged(func() {
		msg := n.remote(403, "SafeModeException", "PUT", "/webhdfs/v1/x?op=MKDIRS&user.name=hdfs")
		if !strings.HasPrefix(msg, "Cannot create directory /x. Name node is in safe mode.") {
			t.Fatalf("SafeModeException message %q", msg)
		}
		n.remote(403, "SafeModeException", "DELETE", "/webhdfs/v1/x?op=DELETE&user.name=hdfs")
	})
	// Reads keep working in safe mode.
	n.status("/", "bob")
	var saved struct{ TxID int64 }
	n.want(200, "POST", "/api/v1/admin/saveNamespace?user.name=hdfs", &saved)
	n.want(200, "POST", "/api/v1/admin/safemode/leave?user.name=hdfs", &sm)
	if sm.On {
		t.Fatalf("after leave: %+v", sm)
	}
	n.remote(403, "IOException", "POST", "/api/v1/admin/saveNamespace?user.name=hdfs")
	n.want(200, "POST", "/api/v1/admin/safemode/wait?user.name=hdfs", &sm)
	n.remote(400, "IllegalArgumentException", "POST", "/api/v1/admin/safemode/sideways?user.name=hdfs")
	n.boolean("PUT", "/webhdfs/v1/x?op=MKDIRS&user.name=hdfs")
}

// TestNativeRequestBodies: a native call's body is read the same whether
// it is in the form the Go client writes or any other valid JSON (keys in
// another order or case, escapes, white space), and a body that is not
// valid, names a key the request does not have, or is too large is a 400
// IllegalArgumentException that changes nothing.
func TestNativeRequestBodies(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	for _, body := range []string{
		`{"path":"/bodies/a","clientName":"c1","overwrite":false,"createParent":true,"replication":2}`,
		"{ \"REPLICATION\" : 2,\n\"createparent\":true, \"clientName\":\"c1\", \"path\":\"/bodies/\\u0062\" }",
	} {
		code, b := n.call("POST", "/api/v1/create?user.name=hdfs", strings.NewReader(body))
		if code != http.StatusOK {
			t.Fatalf("create %s: %d %s", body, code, b)
		}
	}
	for _, p := range []string{"/bodies/a", "/bodies/b"} {
		if st := n.status(p, "hdfs"); st["replication"] != float64(2) {
			t.Fatalf("%s: replication %v, want 2 (the body's)", p, st["replication"])
		}
		code, b := n.call("POST", "/api/v1/complete?user.name=hdfs", strings.NewReader(`{"clientName":"c1","path":"`+p+`"}`))
		if code != http.StatusOK || !strings.Contains(string(b), `"boolean":true`) {
			t.Fatalf("complete %s: %d %s", p, code, b)
		}
	}
	for _, body := range []string{
		`{"path":"/bodies/c","clientName":"c1","createParent":true,"colour":"red"}`,
		`{"path":"/bodies/c","clientName":"c1","createParent":true,"replication":"2"}`,
		`{"path":"/bodies/c","clientName":"c1","createParent":true,"replication":2.5}`,
		`{"path":"/bodies/c","clientName":"c1","createParent":tru}`,
		`{"path":"/bodies/c","clientName":"c1"`,
		`{"path":"/bodies/c","clientName":"c1","createParent":true,"permission":"` + strings.Repeat("7", 2<<20) + `"}`,
	} {
		code, b := n.call("POST", "/api/v1/create?user.name=hdfs", strings.NewReader(body))
		if code != http.StatusBadRequest || !strings.Contains(string(b), "IllegalArgumentException") {
			t.Fatalf("create %.80s: %d %s, want 400 IllegalArgumentException", body, code, b)
		}
	}
	n.remote(http.StatusNotFound, "FileNotFoundException", "GET", "/webhdfs/v1/bodies/c?op=GETFILESTATUS&user.name=hdfs")
}
