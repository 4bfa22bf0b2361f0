package cluster_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// curlL sends a request and follows redirects with the body, as curl -L does.
func curlL(t *testing.T, method, url string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestWebHDFSDataRoundTrips(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	base := c.MetadataURL + "/webhdfs/v1"
	const bs = 4096
	for _, size := range []int{0, 1, 511, 512, 513, bs - 1, bs, bs + 1, 3*bs + 17} {
		data := randomBytes(size, int64(size)+100)
		u := fmt.Sprintf("%s/tmp/web/f%d?op=CREATE&user.name=me&blocksize=%d&replication=2&permission=640", base, size, bs)
		code, hdr, body := curlL(t, "PUT", u, data)
		if code != 201 || !strings.HasPrefix(hdr.Get("Location"), "hdfs://") {
			t.Fatalf("CREATE %d bytes: %d %s (Location %q)", size, code, body, hdr.Get("Location"))
		}
		code, _, got := curlL(t, "GET", fmt.Sprintf("%s/tmp/web/f%d?op=OPEN&user.name=me", base, size), nil)
		if code != 200 || !bytes.Equal(got, data) {
			t.Fatalf("OPEN %d bytes: %d, %d bytes back", size, code, len(got))
		}
	}
	// The redirect itself: 307 with a datanode Location, or 200 {Location} with noredirect.
	req, _ := http.NewRequest("PUT", base+"/tmp/web/r?op=CREATE&user.name=me", nil)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 307 || !strings.Contains(resp.Header.Get("Location"), "op=CREATE") || !strings.Contains(resp.Header.Get("Location"), "namenoderpcaddress=") {
		t.Fatalf("CREATE without following: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	code, _, body := curlL(t, "PUT", base+"/tmp/web/r?op=CREATE&user.name=me&noredirect=true", nil)
	var loc struct{ Location string }
	if code != 200 || json.Unmarshal(body, &loc) != nil || !strings.Contains(loc.Location, "/webhdfs/v1/tmp/web/r?") {
		t.Fatalf("noredirect: %d %s", code, body)
	}
	// OPEN with offset and length; APPEND; the checksum.
	data := randomBytes(3*bs+17, 3*bs+17+100)
	code, _, got := curlL(t, "GET", base+fmt.Sprintf("/tmp/web/f%d?op=OPEN&offset=4000&length=300&user.name=me", 3*bs+17), nil)
	if code != 200 || !bytes.Equal(got, data[4000:4300]) {
		t.Fatalf("OPEN offset/length: %d, %d bytes", code, len(got))
	}
	more := randomBytes(5000, 5)
	if code, _, body := curlL(t, "POST", base+fmt.Sprintf("/tmp/web/f%d?op=APPEND&user.name=me", 3*bs+17), more); code != 200 {
		t.Fatalf("APPEND: %d %s", code, body)
	}
	_, _, got = curlL(t, "GET", base+fmt.Sprintf("/tmp/web/f%d?op=OPEN&user.name=me", 3*bs+17), nil)
	if !bytes.Equal(got, append(append([]byte{}, data...), more...)) {
		t.Fatalf("after APPEND: %d bytes, different", len(got))
	}
	code, _, body = curlL(t, "GET", base+"/tmp/web/f1?op=GETFILECHECKSUM&user.name=me", nil)
	var ck struct {
		FileChecksum struct{ Algorithm, Bytes string }
	}
	if code != 200 || json.Unmarshal(body, &ck) != nil || ck.FileChecksum.Algorithm != "MD5-of-0MD5-of-512CRC32C" || len(ck.FileChecksum.Bytes) != 56 {
		t.Fatalf("GETFILECHECKSUM: %d %s", code, body)
	}
	// Errors keep HDFS's shapes.
	if code, _, body := curlL(t, "GET", base+"/tmp/web/none?op=OPEN", nil); code != 404 || !bytes.Contains(body, []byte("FileNotFoundException")) {
		t.Fatalf("OPEN of a missing file: %d %s", code, body)
	}
	if code, _, body := curlL(t, "PUT", base+"/tmp/web/f1?op=CREATE&user.name=me", []byte("x")); code != 403 || !bytes.Contains(body, []byte("FileAlreadyExistsException")) {
		t.Fatalf("CREATE over a file: %d %s", code, body)
	}
	if code, _, body := curlL(t, "GET", base+"/tmp/web/f1?op=OPEN&offset=99&user.name=me", nil); code != 403 {
		t.Fatalf("OPEN past the end: %d %s", code, body)
	}
	if code, _, _ := curlL(t, "GET", base+"/tmp/web/f1?op=OPEN&offset=-1", nil); code != 400 {
		t.Fatalf("OPEN at a negative offset: %d", code)
	}
	code, _, body = curlL(t, "GET", base+"/tmp/web/f1?op=GETFILEBLOCKLOCATIONS&user.name=me", nil)
	if code != 200 || !bytes.Contains(body, []byte(`"BlockLocation":[{"cachedHosts":[]`)) {
		t.Fatalf("GETFILEBLOCKLOCATIONS: %d %s", code, body)
	}
	// The datanode serves only the four data ops.
	if code, _, body := curlL(t, "GET", c.DatanodeURLs[0]+"/webhdfs/v1/tmp/web/f1?op=LISTSTATUS&namenoderpcaddress=x", nil); code != 400 {
		t.Fatalf("LISTSTATUS on a datanode: %d %s", code, body)
	}
}

func TestWebHDFSConcatAndTruncate(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	base := c.MetadataURL + "/webhdfs/v1/tmp/ct"
	const bs = 4096
	var want []byte
	for i, size := range []int{2 * bs, bs, 3000} {
		data := randomBytes(size, int64(i)+500)
		if code, _, body := curlL(t, "PUT", fmt.Sprintf("%s/p%d?op=CREATE&user.name=me&blocksize=%d", base, i, bs), data); code != 201 {
			t.Fatalf("CREATE p%d: %d %s", i, code, body)
		}
		want = append(want, data...)
	}
	if code, _, body := curlL(t, "POST", base+"/p0?op=CONCAT&sources=/tmp/ct/p1,/tmp/ct/p2&user.name=me", nil); code != 200 || len(body) != 0 {
		t.Fatalf("CONCAT: %d %s", code, body)
	}
	if code, _, got := curlL(t, "GET", base+"/p0?op=OPEN&user.name=me", nil); code != 200 || !bytes.Equal(got, want) {
		t.Fatalf("after CONCAT: %d, %d bytes (want %d)", code, len(got), len(want))
	}
	if code, _, _ := curlL(t, "GET", base+"/p1?op=GETFILESTATUS&user.name=me", nil); code != 404 {
		t.Fatalf("a concatenated source still exists: %d", code)
	}
	if code, _, body := curlL(t, "POST", base+"/p0?op=CONCAT&sources=/tmp/ct/none&user.name=me", nil); code != 404 {
		t.Fatalf("CONCAT of a missing source: %d %s", code, body)
	}
	// Truncate on a block boundary (true), then inside a block (false, as
	// HDFS answers when the cut block needs recovery), to the same length
	// (true) and to 0 (true).
	for _, step := range []struct {
		n    int
		want string
	}{{3 * bs, "true"}, {2*bs + 1000, "false"}, {2*bs + 1000, "true"}, {10, "false"}, {0, "true"}} {
		n := step.n
		code, _, body := curlL(t, "POST", fmt.Sprintf("%s/p0?op=TRUNCATE&newlength=%d&user.name=me", base, n), nil)
		if code != 200 || string(body) != `{"boolean":`+step.want+`}` {
			t.Fatalf("TRUNCATE to %d: %d %s, want {\"boolean\":%s}", n, code, body, step.want)
		}
		var st struct{ FileStatus struct{ Length int64 } }
		if code := call(t, "GET", base+"/p0?op=GETFILESTATUS&user.name=me", nil, &st); code != 200 || st.FileStatus.Length != int64(n) {
			t.Fatalf("after TRUNCATE to %d the file is %d bytes long (%d)", n, st.FileStatus.Length, code)
		}
		if !isClosed(t, c, "/tmp/ct/p0") {
			t.Fatalf("after TRUNCATE to %d the file is not closed: an HDFS client told false would wait", n)
		}
		if code, _, got := curlL(t, "GET", base+"/p0?op=OPEN&user.name=me", nil); code != 200 || !bytes.Equal(got, want[:n]) {
			t.Fatalf("after TRUNCATE to %d: %d, %d bytes", n, code, len(got))
		}
	}
	if code, _, body := curlL(t, "POST", base+"/p0?op=TRUNCATE&newlength=99&user.name=me", nil); code != 400 || !bytes.Contains(body, []byte("Cannot truncate to a larger file size")) {
		t.Fatalf("TRUNCATE past the end: %d %s", code, body)
	}
}
