package dnproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/granary-fs/granary/internal/wirejson"
	"github.com/granary-fs/granary/internal/wirejson/wirejsontest"
)

// wireTypes are the messages Marshal and Unmarshal write and read
// themselves.
var wireTypes = []reflect.Type{
	reflect.TypeFor[IncrementalReport](),
	reflect.TypeFor[Ack](),
	reflect.TypeFor[LocationsRequest](),
	reflect.TypeFor[LocationsReply](),
	reflect.TypeFor[ChooseTargetsRequest](),
	reflect.TypeFor[ChooseTargetsReply](),
	reflect.TypeFor[BlockEvents](),
	reflect.TypeFor[LocationsReceived](),
	reflect.TypeFor[LocationsChanged](),
}

func TestMarshalWritesWhatEncodingJSONWrites(t *testing.T) {
	wirejsontest.WritesAsEncodingJSON(t, wireTypes, rand.New(rand.NewPCG(7, 8)), appendMsg)
}

// TestUnmarshalReadsWhatMarshalWrites: decodeMsg reads what Marshal
// writes unless it has a null or an escape, and to what encoding/json
// reads; Unmarshal reads everything as encoding/json does.
func TestUnmarshalReadsWhatMarshalWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, typ := range wireTypes {
		read := 0
		for range 2000 {
			data, _ := Marshal(wirejsontest.Drawn(typ, r).Interface())
			want := reflect.New(typ)
			if err := json.Unmarshal(data, want.Interface()); err != nil {
				t.Fatal(err)
			}
			got := reflect.New(typ)
			err := decodeMsg(data, got.Interface())
			if errors.Is(err, wirejson.ErrNotCanonical) {
				if !got.Elem().IsZero() {
					t.Fatalf("%T left partly decoded", got.Interface())
				}
				if !bytes.Contains(data, []byte("null")) && !bytes.Contains(data, []byte(`\`)) && !bytes.Contains(data, []byte("\xff")) {
					t.Fatalf("canonical input left to encoding/json: %s", data)
				}
			} else if err != nil {
				t.Fatal(err)
			} else {
				read++
				if !reflect.DeepEqual(got.Interface(), want.Interface()) {
					t.Fatalf("%s\ndecodeMsg:     %+v\nencoding/json: %+v", data, got.Elem(), want.Elem())
				}
			}
			again := reflect.New(typ)
			if err := Unmarshal(data, again.Interface()); err != nil || !reflect.DeepEqual(again.Interface(), want.Interface()) {
				t.Fatalf("Unmarshal %s: %+v, %v", data, again.Elem(), err)
			}
		}
		if read < 100 {
			t.Fatalf("%v: only %d of 2000 read by decodeMsg", typ, read)
		}
	}
}

// decodeMsg is what Unmarshal reads itself.
func decodeMsg(data []byte, v any) error { return wirejson.Read(data, v, readMsg) }

// FuzzUnmarshal: whatever decodeMsg reads, encoding/json reads the same
// way.
func FuzzUnmarshal(f *testing.F) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, typ := range wireTypes {
		for range 5 {
			data, _ := Marshal(wirejsontest.Drawn(typ, r).Interface())
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wirejsontest.SameAsEncodingJSON(t, data, wireTypes, decodeMsg, wirejson.ErrNotCanonical)
	})
}

// BenchmarkEncodeReply: a placement reply of three datanodes, encoded
// into a fresh slice (Marshal) and into a pooled buffer (what Call and
// Serve send).
func BenchmarkEncodeReply(b *testing.B) {
	dn := DatanodeInfo{UUID: "3d851e39-466f-482b-b023-dff7d678c579", HostName: "dn1.example.com", IPAddr: "10.0.0.1", HTTPPort: 9864, Rack: "/default-rack", StorageID: "DS-3d851e39-466f-482b-b023-dff7d678c579"}
	reply := ChooseTargetsReply{Targets: []DatanodeInfo{dn, dn, dn}}
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Marshal(reply); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pooled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, err := marshalPooled(reply)
			if err != nil {
				b.Fatal(err)
			}
			buf.Release()
		}
	})
}
