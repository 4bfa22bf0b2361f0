package cluster_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// fsspecPython is Debian's Python, where python3-fsspec installs
// (scripts/test.sh installs the package when it is missing).
const fsspecPython = "/usr/bin/python3"

// TestFsspecClient drives the cluster with Python's fsspec WebHDFS client
// (what pandas, dask and pyarrow reach through webhdfs://), unpatched:
// testdata/fsspec_client.py writes, reads back and compares, and the files
// it wrote are read again here through the Go client.
func TestFsspecClient(t *testing.T) {
	if out, err := exec.Command(fsspecPython, "-c", "import fsspec.implementations.webhdfs, requests").CombinedOutput(); err != nil {
		t.Fatalf("this test needs Debian's python3-fsspec (scripts/test.sh installs it: apt-get install python3-fsspec): %v: %s", err, out)
	}
	c := testCluster(t, 3, nil)
	host, port, _ := strings.Cut(strings.TrimPrefix(c.MetadataURL, "http://"), ":")
	const base = "/tmp/fsspec"
	cmd := exec.Command(fsspecPython, "testdata/fsspec_client.py", host, port, base)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("fsspec client: %v\n%s%s", err, out, stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var sums map[string]string
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sums); err != nil {
		t.Fatalf("fsspec client's last line %q: %v", lines[len(lines)-1], err)
	}
	cl := newClient(c, "alice")
	for _, name := range []string{"big", "multi", "small"} {
		b := readFile(t, cl, base+"/"+name)
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != sums[name] {
			t.Fatalf("%s: the Go client reads sha256 %s, fsspec wrote %s", name, got, sums[name])
		}
	}
	sum, err := cl.FileChecksum(context.Background(), base+"/big")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Bytes != sums["checksum"] {
		t.Fatalf("file checksum: Go client %s, fsspec %s", sum.Bytes, sums["checksum"])
	}
}
