package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/packet"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/datanode"
)

// blockRequest sends method to a datanode's block API and returns the
// status and the RemoteException name (empty on success).
func blockRequest(t *testing.T, method, url string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", packet.ContentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ RemoteException struct{ Exception string } }
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.RemoteException.Exception
}

func packets(data []byte) []byte {
	var b []byte
	for len(data) > 0 {
		n := min(len(data), packet.MaxData)
		b = packet.Append(b, data[:n])
		data = data[n:]
	}
	return packet.AppendEnd(b)
}

// TestFinalizedReplicaIsNotOverwritten: a block PUT for a replica the
// datanode holds finalized under the same or a newer generation stamp is
// refused (HDFS's ReplicaAlreadyExistsException) and the replica keeps its
// bytes; a PUT may not store more than the block size it names.
func TestFinalizedReplicaIsNotOverwritten(t *testing.T) {
	c := testCluster(t, 1, smallBlocks)
	cl := newClient(c, "hdfs")
	data := randomBytes(10_000, 21)
	writeFile(t, cl, "/own/f", data, client.CreateOptions{BlockSize: 1 << 20, Replication: 1})
	lb := locations(t, c, "/own/f")[0]
	other := randomBytes(10_000, 22)
	for _, gs := range []int64{lb.Block.GenerationStamp, lb.Block.GenerationStamp - 1} {
		url := fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s&gs=%d", c.DatanodeURLs[0], lb.Block.BlockID, lb.Block.BlockPoolID, gs)
		if code, exc := blockRequest(t, "PUT", url, packets(other)); code != 403 || exc != "ReplicaAlreadyExistsException" {
			t.Fatalf("PUT over a finalized replica (stamp %d): %d %s, want 403 ReplicaAlreadyExistsException", gs, code, exc)
		}
	}
	if got := readFile(t, cl, "/own/f"); !bytes.Equal(got, data) {
		t.Fatal("the replica's bytes changed")
	}
	// A made-up block larger than the block size it names is refused and
	// not stored.
	url := fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s&gs=1001&blocksize=4096", c.DatanodeURLs[0], lb.Block.BlockID+1000, lb.Block.BlockPoolID)
	if code, exc := blockRequest(t, "PUT", url, packets(other)); code != 403 || exc != "IOException" {
		t.Fatalf("PUT of 10,000 bytes with blocksize 4096: %d %s, want 403 IOException", code, exc)
	}
	get := fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s", c.DatanodeURLs[0], lb.Block.BlockID+1000, lb.Block.BlockPoolID)
	if code, exc := blockRequest(t, "GET", get, nil); code != 403 || exc != "ReplicaNotFoundException" {
		t.Fatalf("the refused block was stored: GET answered %d %s", code, exc)
	}
}

// TestStoppedStreamKeepsTheReplica: a pipeline's block PUT (one that
// follows the acknowledgements) whose stream stops before its end marker
// (the writer went away) leaves the replica finalized at the length
// received, for the pipeline recovery; a plain PUT (a transfer) that stops,
// or one with a bad CRC, leaves nothing.
func TestStoppedStreamKeepsTheReplica(t *testing.T) {
	c := testCluster(t, 1, smallBlocks)
	data := randomBytes(3*packet.MaxData+100, 24)
	stream := packets(data)
	stream = stream[:len(stream)-4] // no end marker
	bpid := c.Metadata.BlockPoolID()
	put := fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s&gs=1001", c.DatanodeURLs[0], int64(1<<40), bpid)
	req, err := http.NewRequest("PUT", put, bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", packet.ContentType)
	req.Header.Set("Accept", packet.AcksContentType)
	resp0, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// The acknowledgements end with the error: the stream broke.
	ar := packet.NewAckReader(resp0.Body)
	var last byte
	var lastBody []byte
	for {
		kind, _, body, err := ar.Next()
		if err != nil {
			break
		}
		last, lastBody = kind, body
	}
	resp0.Body.Close()
	if resp0.StatusCode != 200 || last != packet.AckError || !bytes.Contains(lastBody, []byte(`"IOException"`)) {
		t.Fatalf("a stream without its end marker: %d, last acknowledgement %q %s", resp0.StatusCode, last, lastBody)
	}
	get := fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s", c.DatanodeURLs[0], int64(1<<40), bpid)
	resp, err := http.Get(get)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("the stopped stream's replica: %d, %d bytes of %d", resp.StatusCode, len(got), len(data))
	}
	bad := packets(data[:1000])
	bad[4] ^= 0xff // the first CRC
	for i, body := range [][]byte{bad, stream} {
		id := int64(1<<40 + 1 + i)
		put = fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s&gs=1001", c.DatanodeURLs[0], id, bpid)
		if code, _ := blockRequest(t, "PUT", put, body); code != 403 {
			t.Fatalf("a plain PUT of a bad stream: %d", code)
		}
		get = fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s", c.DatanodeURLs[0], id, bpid)
		if code, exc := blockRequest(t, "GET", get, nil); code != 403 || exc != "ReplicaNotFoundException" {
			t.Fatalf("the bad stream's replica was kept: %d %s", code, exc)
		}
	}
}

// TestGoneAndShortReplicasAreReported: a replica whose block file was
// removed, or truncated, behind the datanode's back is reported when a
// read finds it (deleted, or bad), so the coordinator stops offering it
// and restores the replication; reads keep returning the right bytes.
func TestGoneAndShortReplicasAreReported(t *testing.T) {
	for _, damage := range []string{"removed", "truncated"} {
		t.Run(damage, func(t *testing.T) {
			c := testCluster(t, 3, smallBlocks)
			cl := newClient(c, "hdfs")
			data := randomBytes(100_000, 23)
			writeFile(t, cl, "/dmg/f", data, client.CreateOptions{BlockSize: 1 << 20, Replication: 2})
			lb := locations(t, c, "/dmg/f")[0]
			victim := lb.uuids()[0]
			i := index(t, c, victim)
			path := datanode.FinalizedPath(c.DatanodeDir(i), lb.Block.BlockPoolID, lb.Block.BlockID)
			want := "ReplicaNotFoundException"
			if damage == "removed" {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := os.Truncate(path, 4000); err != nil {
					t.Fatal(err)
				}
				want = "ChecksumException"
			}
			url := fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s", c.DatanodeURLs[i], lb.Block.BlockID, lb.Block.BlockPoolID)
			if code, exc := blockRequest(t, "GET", url, nil); code != 403 || exc != want {
				t.Fatalf("direct read of the %s replica: %d %s, want 403 %s", damage, code, exc, want)
			}
			eventually(t, 10*time.Second, "the damaged replica to leave the block's locations", func() bool {
				return !strings.Contains(strings.Join(locations(t, c, "/dmg/f")[0].uuids(), ","), victim)
			})
			eventually(t, 30*time.Second, "two good replicas again", func() bool {
				l := locations(t, c, "/dmg/f")[0].uuids()
				if len(l) != 2 {
					return false
				}
				for _, u := range l {
					fi, err := os.Stat(datanode.FinalizedPath(c.DatanodeDir(index(t, c, u)), lb.Block.BlockPoolID, lb.Block.BlockID))
					if err != nil || fi.Size() != int64(len(data)) {
						return false
					}
				}
				return true
			})
			if got := readFile(t, cl, "/dmg/f"); !bytes.Equal(got, data) {
				t.Fatal("read returned wrong bytes")
			}
		})
	}
}

// TestOpenWithNoReadableReplica: WebHDFS OPEN of a file none of whose
// replicas can be read answers HDFS's BlockMissingException as a
// RemoteException, not an empty reply.
func TestOpenWithNoReadableReplica(t *testing.T) {
	c := testCluster(t, 1, smallBlocks)
	cl := newClient(c, "hdfs")
	writeFile(t, cl, "/lost/f", randomBytes(5000, 24), client.CreateOptions{BlockSize: 1 << 20, Replication: 1})
	lb := locations(t, c, "/lost/f")[0]
	flipByte(t, c, lb, lb.uuids()[0], 100)
	// http.DefaultClient follows the 307 to the datanode.
	code, exc := blockRequest(t, "GET", c.MetadataURL+"/webhdfs/v1/lost/f?op=OPEN&user.name=hdfs", nil)
	if code != 403 || exc != "BlockMissingException" {
		t.Fatalf("OPEN with no readable replica: %d %q, want 403 BlockMissingException", code, exc)
	}
}

// TestAdminEndpointsNeedTheSuperuser: the coordinator's and datanodes'
// administrative endpoints answer AccessControlException to anyone but
// the superuser, as HDFS's dfsadmin operations; a datanode checks doas as
// the metadata service does and follows namenoderpcaddress only to its
// cluster's metadata service.
func TestAdminEndpointsNeedTheSuperuser(t *testing.T) {
	c := testCluster(t, 1, nil)
	uuid := c.Datanodes[0].UUID()
	dn := c.DatanodeURLs[0]
	for _, who := range []string{"", "?user.name=bob", "?user.name=bob&doas=hdfs"} {
		for _, req := range []struct{ method, url string }{
			{"POST", c.CoordinatorURL + "/api/v1/datanodes/" + uuid + "/decommission"},
			{"POST", c.CoordinatorURL + "/api/v1/datanodes/" + uuid + "/recommission"},
			{"POST", c.CoordinatorURL + "/api/v1/admin/refreshNodes"},
			{"GET", c.CoordinatorURL + "/api/v1/admin/metasave"},
			{"POST", dn + "/api/v1/admin/triggerBlockReport"},
			{"POST", dn + "/api/v1/admin/refreshNamenodes"},
			{"POST", dn + "/api/v1/admin/shutdown"},
		} {
			if code, exc := blockRequest(t, req.method, req.url+who, nil); code != 403 || exc != "AccessControlException" {
				t.Fatalf("%s %s%s: %d %s, want 403 AccessControlException", req.method, req.url, who, code, exc)
			}
		}
	}
	if v, code := datanodeView(t, c, uuid); code != 200 || v.AdminState != "NORMAL" {
		t.Fatalf("the datanode after refused admin calls: %d %+v", code, v)
	}
	if code, exc := blockRequest(t, "POST", dn+"/api/v1/admin/triggerBlockReport?user.name=hdfs", nil); code != 200 {
		t.Fatalf("triggerBlockReport as the superuser: %d %s", code, exc)
	}
	nn := strings.TrimPrefix(c.MetadataURL, "http://")
	// doas is the superuser's only.
	if code, exc := blockRequest(t, "GET", dn+"/webhdfs/v1/tmp?op=OPEN&user.name=bob&doas=alice&namenoderpcaddress="+nn, nil); code != 403 || exc != "AccessControlException" {
		t.Fatalf("datanode WebHDFS with bob doas alice: %d %s, want 403 AccessControlException", code, exc)
	}
	// An address that is not the metadata service's is never fetched.
	if code, exc := blockRequest(t, "GET", dn+"/webhdfs/v1/tmp/x?op=OPEN&user.name=hdfs&namenoderpcaddress=127.0.0.1:1", nil); code != 400 || exc != "IllegalArgumentException" {
		t.Fatalf("datanode WebHDFS with a made-up namenoderpcaddress: %d %s, want 400 IllegalArgumentException", code, exc)
	}
	cl := newClient(c, "hdfs")
	writeFile(t, cl, "/adm/f", []byte("through the datanode"), client.CreateOptions{Replication: 1})
	if code, exc := blockRequest(t, "GET", dn+"/webhdfs/v1/adm/f?op=OPEN&user.name=hdfs&namenoderpcaddress="+nn, nil); code != 200 {
		t.Fatalf("datanode WebHDFS OPEN with the metadata service's address: %d %s", code, exc)
	}
}

// TestCorruptMarksSurviveRestarts: a replica reported corrupt stays out of
// the block's locations when the metadata service restarts (the
// coordinator resyncs the namespace) and when the coordinator restarts
// (the datanode reports it again after registering).
func TestCorruptMarksSurviveRestarts(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		smallBlocks(cfg)
		// No block scanner: only the reports under test find the replica.
		dn := cfg.Datanode
		cfg.Datanode = func(i int, c *datanode.Config) { dn(i, c); c.ScanPeriod = -1 }
	})
	cl := newClient(c, "hdfs")
	data := randomBytes(50_000, 25)
	// Replication 3 on 3 datanodes: no healthy copy can replace the corrupt
	// one, so it stays on disk, known corrupt.
	writeFile(t, cl, "/cm/f", data, client.CreateOptions{BlockSize: 1 << 20, Replication: 3})
	lb := locations(t, c, "/cm/f")[0]
	victim := lb.uuids()[0]
	flipByte(t, c, lb, victim, 300)
	url := fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s", c.DatanodeURLs[index(t, c, victim)], lb.Block.BlockID, lb.Block.BlockPoolID)
	if code, exc := blockRequest(t, "GET", url, nil); code != 403 || exc != "ChecksumException" {
		t.Fatalf("direct read of the corrupt replica: %d %s", code, exc)
	}
	notOffered := func() bool {
		l := locations(t, c, "/cm/f")[0].uuids()
		return len(l) == 2 && !strings.Contains(strings.Join(l, ","), victim)
	}
	eventually(t, 10*time.Second, "the corrupt replica to leave the locations", notOffered)
	ctx := context.Background()

	// The metadata service restarts: a new epoch, a namespace resync.
	if err := c.StopMetadata(); err != nil {
		t.Fatal(err)
	}
	if err := c.StartMetadata(ctx); err != nil {
		t.Fatal(err)
	}
	// A block written after the restart is located once the coordinator
	// has resynced; by then the old block's locations are the resynced ones.
	writeFile(t, cl, "/cm/after-metadata", []byte("x"), client.CreateOptions{Replication: 1})
	eventually(t, 20*time.Second, "the coordinator to resync", func() bool {
		return len(locations(t, c, "/cm/after-metadata")[0].uuids()) == 1
	})
	// The coordinator's reconcile pass (every 50 ms here) checks every
	// replica again after a resync: for a second, the corrupt one must
	// never come back.
	consistently(t, time.Second, "the corrupt replica left out after a metadata restart", notOffered)

	// The coordinator restarts: it knows nothing until the datanodes
	// register and report, and the datanode reports the corrupt replica again.
	if err := c.StopCoordinator(); err != nil {
		t.Fatal(err)
	}
	if err := c.StartCoordinator(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "every datanode's full report to the new coordinator", func() bool {
		v, code := datanodeView(t, c, victim)
		return code == 200 && v.Blocks >= 1 && len(locations(t, c, "/cm/f")[0].uuids()) >= 2
	})
	eventually(t, 10*time.Second, "the corrupt replica known again", notOffered)
	consistently(t, time.Second, "the corrupt replica left out after a coordinator restart", notOffered)
	if got := readFile(t, cl, "/cm/f"); !bytes.Equal(got, data) {
		t.Fatal("read returned wrong bytes")
	}
}

// holdsUnnamed says whether process pid ("self": this one) holds a file
// of dir open that has no name (O_TMPFILE, or unlinked): no link to it.
func holdsUnnamed(pid, dir string) bool {
	fds, _ := os.ReadDir(filepath.Join("/proc", pid, "fd"))
	for _, fd := range fds {
		p := filepath.Join("/proc", pid, "fd", fd.Name())
		l, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(l, dir+"/") {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Sys().(*syscall.Stat_t).Nlink == 0 {
			return true
		}
	}
	return false
}

// putAnswer is the answer of a block PUT started by streamPut.
type putAnswer struct {
	resp *http.Response
	err  error
}

// streamPut starts a block PUT (with acknowledgements if acks) whose body
// the caller writes, through the pipe returned, as it goes; its answer
// arrives on the channel.
func streamPut(t *testing.T, url string, acks bool) (*io.PipeWriter, <-chan putAnswer) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest("PUT", url, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", packet.ContentType)
	if acks {
		req.Header.Set("Accept", packet.AcksContentType)
	}
	answered := make(chan putAnswer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			pr.CloseWithError(err)
		}
		answered <- putAnswer{resp, err}
	}()
	return pw, answered
}

// endPut sends the end marker of a PUT started by streamPut and returns
// its answer.
func endPut(t *testing.T, pw *io.PipeWriter, answered <-chan putAnswer) *http.Response {
	t.Helper()
	if _, err := pw.Write(packet.AppendEnd(nil)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	a := <-answered
	if a.err != nil {
		t.Fatal(a.err)
	}
	return a.resp
}

// TestPlainPutWritesUnnamedFiles: a block PUT without acknowledgements
// (a small file's only packet, a transfer) writes its replica into files
// that have no name until it is finalized — nothing of it is acknowledged
// before, and nothing is kept if it stops — and none in rbw/ (where a
// pipeline PUT, which acknowledges as it goes, writes).
func TestPlainPutWritesUnnamedFiles(t *testing.T) {
	c := testCluster(t, 1, smallBlocks)
	bpid := c.Metadata.BlockPoolID()
	rbw := filepath.Join(c.DatanodeDir(0), "current", bpid, "current", "rbw")
	data := randomBytes(packet.MaxData, 31)
	const id = int64(1<<40 + 10)
	inRBW := func() []string {
		m, _ := filepath.Glob(filepath.Join(rbw, fmt.Sprintf("blk_%d*", id)))
		return m
	}
	pw, answered := streamPut(t, fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s&gs=1001", c.DatanodeURLs[0], id, bpid), false)
	stream := packets(data)
	if _, err := pw.Write(stream[:len(stream)-4]); err != nil { // not its end marker yet
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the plain PUT's unnamed files", func() bool { return holdsUnnamed("self", rbw) })
	if f := inRBW(); len(f) != 0 {
		t.Fatalf("a plain PUT's replica has files in rbw/: %v", f)
	}
	resp := endPut(t, pw, answered)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT: %s", resp.Status)
	}
	fin := datanode.FinalizedPath(c.DatanodeDir(0), bpid, id)
	if got, err := os.ReadFile(fin); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("finalized replica: %d bytes, %v", len(got), err)
	}
	if f := inRBW(); len(f) != 0 {
		t.Fatalf("files left in rbw/: %v", f)
	}
}

// TestPlainPutGoesDownPlain: the first datanode of a plain PUT forwards it
// down the pipeline as a plain PUT (the datanodes below write unnamed
// files too, and acknowledge nothing but the result), and the answer
// lists who stored the block and who failed as with acknowledgements: a
// datanode that cannot be reached is reported failed and the block goes
// on without it.
func TestPlainPutGoesDownPlain(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	bpid := c.Metadata.BlockPoolID()
	host := func(u string) string { return strings.TrimPrefix(u, "http://") }
	dead := host(c.DatanodeURLs[2])
	if err := c.StopDatanode(2); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(3*packet.MaxData/2, 41)
	for i, acks := range []bool{false, true} {
		id := int64(1<<40 + 20 + i)
		put := fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s&gs=1001&targets=%s,%s", c.DatanodeURLs[0], id, bpid, host(c.DatanodeURLs[1]), dead)
		pw, answered := streamPut(t, put, acks)
		stream := packets(data)
		if _, err := pw.Write(stream[:len(stream)-4]); err != nil { // not its end marker yet
			t.Fatal(err)
		}
		second := filepath.Join(c.DatanodeDir(1), "current", bpid, "current", "rbw")
		if acks {
			eventually(t, 10*time.Second, "the second datanode's replica in rbw/", func() bool {
				m, _ := filepath.Glob(filepath.Join(second, fmt.Sprintf("blk_%d", id)))
				return len(m) == 1
			})
		} else {
			eventually(t, 10*time.Second, "the second datanode's unnamed replica files", func() bool { return holdsUnnamed("self", second) })
		}
		resp := endPut(t, pw, answered)
		var res api.BlockWriteResult
		if acks {
			ar := packet.NewAckReader(resp.Body)
			for {
				kind, _, body, err := ar.Next()
				if err != nil {
					t.Fatalf("acknowledgements: %v", err)
				}
				if kind == packet.AckResult {
					if err := json.Unmarshal(body, &res); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
		} else if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := []string{host(c.DatanodeURLs[0]), host(c.DatanodeURLs[1])}
		if resp.StatusCode != 200 || strings.Join(res.Stored, ",") != strings.Join(want, ",") || strings.Join(res.Failed, ",") != dead || res.Length != int64(len(data)) {
			t.Fatalf("acknowledgements %v: %d %+v, want stored by %v and %s failed", acks, resp.StatusCode, res, want, dead)
		}
		for dn := range 2 {
			if got, err := os.ReadFile(datanode.FinalizedPath(c.DatanodeDir(dn), bpid, id)); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("acknowledgements %v: datanode %d's replica: %d bytes, %v", acks, dn, len(got), err)
			}
		}
	}
}
