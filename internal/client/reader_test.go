package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/packet"
)

// stream frames block[start:end] as a datanode answers a packet read.
func stream(block []byte, start, end int) []byte {
	var out []byte
	for pos := start; pos < end; pos += packet.MaxData {
		out = packet.Append(out, block[pos:min(end, pos+packet.MaxData)])
	}
	return packet.AppendEnd(out)
}

func TestVerifiedBodyServesTheRange(t *testing.T) {
	block := bytes.Repeat([]byte("granary!"), 20_000) // 160,000 bytes
	for _, r := range []struct{ offset, length int64 }{{0, 160_000}, {0, 1}, {511, 2}, {512, 512}, {100_000, 60_000}, {70_001, 5}} {
		start := r.offset / packet.ChunkSize * packet.ChunkSize
		end := min(int64(len(block)), (r.offset+r.length+packet.ChunkSize-1)/packet.ChunkSize*packet.ChunkSize)
		s := stream(block, int(start), int(end))
		v := &verifiedBody{body: io.NopCloser(bytes.NewReader(s)), pr: packet.NewReaderAt(bytes.NewReader(s), start), skip: r.offset - start, left: r.length, pos: start}
		got, err := io.ReadAll(v)
		if err != nil || !bytes.Equal(got, block[r.offset:r.offset+r.length]) {
			t.Fatalf("offset %d length %d: %d bytes, %v", r.offset, r.length, len(got), err)
		}
		v.Close()
	}
}

func TestVerifiedBodyRefusesBadBytes(t *testing.T) {
	block := bytes.Repeat([]byte("x"), 3000)
	s := stream(block, 0, 3000)
	s[4+4*6+1000] ^= 1 // a data byte of the second chunk, flipped in transit
	v := &verifiedBody{body: io.NopCloser(bytes.NewReader(s)), pr: packet.NewReaderAt(bytes.NewReader(s), 0), left: 3000}
	if _, err := io.ReadAll(v); !errs.Is(err, errs.Checksum) {
		t.Fatalf("a flipped byte: %v, want a checksum error", err)
	}
	// A stream that stops before the range is a short read, not the end.
	short := stream(block, 0, 1024)
	v = &verifiedBody{body: io.NopCloser(bytes.NewReader(short)), pr: packet.NewReaderAt(bytes.NewReader(short), 0), left: 3000}
	if _, err := io.ReadAll(v); err != io.ErrUnexpectedEOF {
		t.Fatalf("a short stream: %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestReaderFetchesLocationsAgain: a block none of whose located replicas
// can be read is looked up again, up to dfs.client.max.block.acquire.failures
// (3) times, as HDFS's chooseDataNode: here the metadata service names a
// datanode that is gone until its third answer, which names the one
// holding the block (as after an append whose new stamp the coordinator
// learns late). The metadata service and the datanode are plain HTTP
// servers answering what the real ones answer.
func TestReaderFetchesLocationsAgain(t *testing.T) {
	block := bytes.Repeat([]byte("retry"), 300)
	dn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", packet.ContentType)
		w.Header().Set("X-Granary-Block-Offset", "0")
		_, _ = w.Write(stream(block, 0, len(block)))
	}))
	defer dn.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // connections to it are refused
	var lookups atomic.Int32
	nn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/blockLocations" {
			http.NotFound(w, r)
			return
		}
		at := gone.Listener.Addr().(*net.TCPAddr)
		if lookups.Add(1) >= 3 {
			at = dn.Listener.Addr().(*net.TCPAddr)
		}
		_ = json.NewEncoder(w).Encode(api.LocatedBlocksResponse{LocatedBlocks: api.LocatedBlocks{
			FileLength: int64(len(block)), IsLastBlockComplete: true,
			LocatedBlocks: []api.LocatedBlock{{
				Block:     api.ExtendedBlock{BlockPoolID: "BP-1", BlockID: 1 << 30, GenerationStamp: 1001, NumBytes: int64(len(block))},
				Locations: []api.DatanodeInfo{{UUID: "dn", IPAddr: at.IP.String(), HTTPPort: at.Port}},
			}},
		}})
	}))
	defer nn.Close()
	r, err := New(nn.URL, "me").Open(context.Background(), "/f")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, block) {
		t.Fatalf("read %d bytes (%v) after %d look-ups", len(got), err, lookups.Load())
	}
	if lookups.Load() != 3 {
		t.Fatalf("%d look-ups, want 3", lookups.Load())
	}
}
