package dnproto

import (
	"reflect"
	"testing"

	"github.com/granary-fs/granary/internal/golden"
)

func sample() *ReportChunk {
	return &ReportChunk{
		DatanodeUUID: "dn-1", BlockPoolID: "BP-1-127.0.0.1-1", StorageID: "DS-1", LeaseID: 7, ReportID: 9, Index: 0, Count: 1, Last: true,
		Replicas: []Replica{{ID: 1<<30 + 5, GenStamp: 1001, NumBytes: 42, State: StateFinalized}, {ID: 1<<30 + 1, GenStamp: 1002, NumBytes: 0, State: StateRBW}},
	}
}

func TestChunkRoundTrip(t *testing.T) {
	c := sample()
	data := EncodeChunk(c)
	got, err := DecodeChunk(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("decoded %+v, want %+v", got, c)
	}
	if got.Replicas[0].ID > got.Replicas[1].ID {
		t.Fatal("replicas not sorted")
	}
	for i := 0; i < len(data); i++ {
		if _, err := DecodeChunk(data[:i], nil); err == nil {
			t.Fatalf("truncated chunk (%d bytes) decoded", i)
		}
	}
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add(EncodeChunk(sample()))
	f.Add([]byte("GRBR\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeChunk(data, nil)
		if err != nil {
			return
		}
		for i := 1; i < len(c.Replicas); i++ {
			if c.Replicas[i].ID <= c.Replicas[i-1].ID {
				t.Fatal("decoded replicas out of order")
			}
		}
		// A decoded chunk re-encodes to something that decodes the same.
		again, err := DecodeChunk(EncodeChunk(c), nil)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

// TestChunkGolden: a block-report chunk (docs/nats-protocol.md) decoded
// from the committed bytes and encoded again byte for byte.
func TestChunkGolden(t *testing.T) {
	data := golden.Check(t, "chunk.bin", EncodeChunk(sample()))
	c, err := DecodeChunk(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again := EncodeChunk(c); string(again) != string(data) {
		t.Fatal("the golden chunk does not encode again byte for byte")
	}
}
