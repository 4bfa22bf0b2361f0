package metadata_test

import (
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/localpg"
	"github.com/granary-fs/granary/internal/proctest"
)

// granaryBinary is the granary binary built from this tree.
func granaryBinary(t *testing.T) string { return proctest.Granary(t) }

// process is a metadata service running as its own process.
type process struct {
	cmd  *exec.Cmd
	base string
}

func startProcess(t *testing.T, bin, db string) *process {
	t.Helper()
	port, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "metadata", "-database-url", db, "-nats-url", "", "-http-addr", fmt.Sprintf("127.0.0.1:%d", port),
		"-superuser", "hdfs", "-safemode-extension", "0", "-log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	eventually(t, 60*time.Second, "the metadata process to become ready", func() bool {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

func (p *process) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = p.cmd.Process.Wait()
}

// crashOp is one client operation; done is set when it was acknowledged.
type crashOp struct {
	kind, path, dst string
	acked           bool
}

func do(client *http.Client, method, url, body string) bool {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var buf [256]byte
	n, _ := resp.Body.Read(buf[:])
	return resp.StatusCode == 200 && !strings.Contains(string(buf[:n]), `"boolean":false`)
}

// worker runs rounds of dependent mutations under /w<id> until the server
// dies, recording which were acknowledged. Round k: mkdir /w<id>/d<k>,
// create and close d<k>/f, rename it to d<k>/g, delete d<k-2> recursively.
func worker(client *http.Client, base string, id int, rng *rand.Rand, acked *atomic.Int64) []crashOp {
	var ops []crashOp
	for k := 0; ; k++ {
		dir := fmt.Sprintf("/w%d/d%d", id, k)
		for step := 0; step < 4; step++ {
			var op crashOp
			var ok bool
			switch step {
			case 0:
				op = crashOp{kind: "mkdir", path: dir}
				ok = do(client, "PUT", base+"/webhdfs/v1"+dir+"?op=MKDIRS&user.name=hdfs", "")
			case 1:
				op = crashOp{kind: "file", path: dir + "/f"}
				ok = do(client, "POST", base+"/api/v1/create?user.name=hdfs", fmt.Sprintf(`{"path":%q,"clientName":"w%d"}`, op.path, id)) &&
					do(client, "POST", base+"/api/v1/complete?user.name=hdfs", fmt.Sprintf(`{"path":%q,"clientName":"w%d"}`, op.path, id))
			case 2:
				op = crashOp{kind: "rename", path: dir + "/f", dst: dir + "/g"}
				ok = do(client, "PUT", base+"/webhdfs/v1"+op.path+"?op=RENAME&destination="+op.dst+"&user.name=hdfs", "")
			case 3:
				if k < 2 {
					continue
				}
				op = crashOp{kind: "delete", path: fmt.Sprintf("/w%d/d%d", id, k-2)}
				ok = do(client, "DELETE", base+"/webhdfs/v1"+op.path+"?op=DELETE&recursive=true&user.name=hdfs", "")
			}
			op.acked = ok
			ops = append(ops, op)
			if !ok {
				return ops // the server is gone: stop this worker
			}
			acked.Add(1)
			if rng.Intn(50) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}
}

// expected folds the acknowledged ops of one worker into the paths that
// must exist and those that must not. The last op was not acknowledged and
// may or may not have happened: the paths it touches are left out.
func expected(ops []crashOp) (present, absent map[string]bool) {
	present, absent = map[string]bool{}, map[string]bool{}
	uncertain := map[string]bool{}
	for _, op := range ops {
		if !op.acked {
			uncertain[op.path] = true
			uncertain[op.dst] = true
			continue
		}
		switch op.kind {
		case "mkdir", "file":
			present[op.path] = true
			delete(absent, op.path)
		case "rename":
			delete(present, op.path)
			absent[op.path] = true
			present[op.dst] = true
		case "delete":
			for p := range present {
				if p == op.path || strings.HasPrefix(p, op.path+"/") {
					delete(present, p)
					absent[p] = true
				}
			}
			absent[op.path] = true
		}
	}
	for p := range uncertain {
		for q := range present {
			if q == p || strings.HasPrefix(q, p+"/") || strings.HasPrefix(p, q+"/") {
				delete(present, q)
			}
		}
		for q := range absent {
			if q == p || strings.HasPrefix(q, p+"/") || strings.HasPrefix(p, q+"/") {
				delete(absent, q)
			}
		}
	}
	return present, absent
}

func exists(t *testing.T, base, path string) bool {
	t.Helper()
	resp, err := http.Get(base + "/webhdfs/v1" + path + "?op=GETFILESTATUS&user.name=hdfs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case 200:
		return true
	case 404:
		return false
	}
	t.Fatalf("GETFILESTATUS %s: %s", path, resp.Status)
	return false
}

// TestCrashKeepsAcknowledgedOps kills the metadata process with SIGKILL at a
// random moment while clients mutate, restarts it, and checks that every
// acknowledged operation is there and the tree is consistent; several
// seeds, each a kill and a restart of the same namespace.
func TestCrashKeepsAcknowledgedOps(t *testing.T) {
	bin := granaryBinary(t)
	db := formatted(t)
	const workers = 8
	var allOps [workers][]crashOp
	for seed := int64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewSource(seed))
		p := startProcess(t, bin, db)
		client := &http.Client{Timeout: 30 * time.Second}
		var wg sync.WaitGroup
		var ackedSoFar atomic.Int64
		results := make([][]crashOp, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each round continues the worker's numbering in a fresh subtree.
				results[w] = worker(client, p.base, int(seed)*100+w, rand.New(rand.NewSource(seed*31+int64(w))), &ackedSoFar)
			}()
		}
		// The random moment of the crash: after a random number of acknowledged ops.
		target := int64(200 + rng.Intn(2000))
		eventually(t, time.Minute, fmt.Sprintf("%d acknowledged ops", target), func() bool { return ackedSoFar.Load() >= target })
		p.kill9()
		wg.Wait()
		acked := 0
		for w := 0; w < workers; w++ {
			for _, op := range results[w] {
				if op.acked {
					acked++
				}
			}
			allOps[w] = append(allOps[w], results[w]...)
		}
		if acked < 50 {
			t.Fatalf("seed %d: only %d ops acknowledged before the kill", seed, acked)
		}

		p2 := startProcess(t, bin, db)
		for w := 0; w < workers; w++ {
			present, absent := expected(results[w])
			for path := range present {
				if !exists(t, p2.base, path) {
					t.Fatalf("seed %d: acknowledged %s is missing after the crash", seed, path)
				}
			}
			for path := range absent {
				if exists(t, p2.base, path) {
					t.Fatalf("seed %d: %s was deleted or renamed (acknowledged) but is back", seed, path)
				}
			}
		}
		checkConsistent(t, p2.base)
		p2.kill9()
		t.Logf("seed %d: %d acknowledged ops survived the SIGKILL", seed, acked)
	}
}

// checkConsistent walks the whole tree and compares it with the content
// summary of the root, which the namespace computes independently.
func checkConsistent(t *testing.T, base string) {
	t.Helper()
	var files, dirs int
	var walk func(path string)
	walk = func(path string) {
		var ls struct {
			FileStatuses struct{ FileStatus []map[string]any }
		}
		n := &node{t: t, base: base}
		n.want(200, "GET", "/webhdfs/v1"+path+"?op=LISTSTATUS&user.name=hdfs", &ls)
		dirs++
		for _, fs := range ls.FileStatuses.FileStatus {
			child := strings.TrimSuffix(path, "/") + "/" + fs["pathSuffix"].(string)
			if fs["type"] == "DIRECTORY" {
				walk(child)
			} else {
				files++
			}
		}
	}
	walk("/")
	var cs struct{ ContentSummary map[string]any }
	(&node{t: t, base: base}).want(200, "GET", "/webhdfs/v1/?op=GETCONTENTSUMMARY&user.name=hdfs", &cs)
	if cs.ContentSummary["directoryCount"] != float64(dirs) || cs.ContentSummary["fileCount"] != float64(files) {
		t.Fatalf("walk found %d dirs and %d files; content summary says %v", dirs, files, cs.ContentSummary)
	}
}
