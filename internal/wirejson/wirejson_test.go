package wirejson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/wirejson/wirejsontest"
)

// types are the messages this package writes and reads.
var types = []reflect.Type{
	reflect.TypeFor[api.LocatedBlocksResponse](),
	reflect.TypeFor[api.LocatedBlock](),
	reflect.TypeFor[api.CreateResponse](),
	reflect.TypeFor[api.FileStatusResponse](),
	reflect.TypeFor[api.BooleanResponse](),
	reflect.TypeFor[api.CreateRequest](),
	reflect.TypeFor[api.CompleteRequest](),
	reflect.TypeFor[api.BlockWriteResult](),
}

func TestAppendWritesWhatEncodingJSONWrites(t *testing.T) {
	wirejsontest.WritesAsEncodingJSON(t, types, rand.New(rand.NewPCG(1, 2)), Append)
	if _, ok := Append(nil, api.FileStatuses{}); ok {
		t.Fatal("Append wrote a type it does not know")
	}
}

// TestDecodeReadsWhatAppendWrites: every answer without nil slices or
// strings encoding/json escapes is read by Decode itself, and to what
// encoding/json reads; the others are left to encoding/json.
func TestDecodeReadsWhatAppendWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	left := 0
	for _, typ := range types {
		read := 0
		for range 2000 {
			v := wirejsontest.Drawn(typ, r)
			data, _ := Append(nil, v.Interface())
			got := reflect.New(typ)
			err := Decode(data, got.Interface())
			if errors.Is(err, ErrNotCanonical) {
				left++
				if !got.Elem().IsZero() {
					t.Fatalf("%T left partly decoded after ErrNotCanonical", got.Interface())
				}
				if !bytes.Contains(data, []byte("null")) && !bytes.Contains(data, []byte(`\`)) && !bytes.Contains(data, []byte("\xff")) {
					t.Fatalf("canonical input left to encoding/json: %s", data)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			read++
			want := reflect.New(typ)
			if err := json.Unmarshal(data, want.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Interface(), want.Interface()) {
				t.Fatalf("%s\nDecode:        %+v\nencoding/json: %+v", data, got.Elem(), want.Elem())
			}
		}
		if read < 100 {
			t.Fatalf("%v: only %d of 2000 read by Decode", typ, read)
		}
	}
	if left < 100 {
		t.Fatalf("only %d answers left to encoding/json: the values drawn do not cover them", left)
	}
}

func TestDecodeLeavesTheUnusualToEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"boolean":true} x`,         // trailing data
		`{"Boolean":true}`,           // another case of the key
		`{"boolean":true,"other":1}`, // an unknown key
		`{"boolean":true,"boolean":false}`,
		`{"boolean":null}`,
		`{"FileStatus":{"length":1.0}}`,
		`{"FileStatus":{"length":1e3}}`,
		`{"FileStatus":{"length":01}}`,
		`{"FileStatus":{"length":99999999999999999999}}`,
		`{"FileStatus":{"owner":"a\u0062"}}`,
		"{\"FileStatus\":{\"owner\":\"\xff\"}}",
		`{"LocatedBlocks":{"locatedBlocks":null}}`,
		`{"LocatedBlocks":{"locatedBlocks":[{"locations":[1]}]}}`,
		`{"boolean":tru}`,
		`{"boolean":true`,
		``,
	} {
		for _, v := range []any{&api.BooleanResponse{}, &api.FileStatusResponse{}, &api.LocatedBlocksResponse{}} {
			if err := Decode([]byte(in), v); !errors.Is(err, ErrNotCanonical) {
				t.Errorf("Decode(%q, %T) = %v, want ErrNotCanonical", in, v, err)
			}
		}
	}
	if err := Decode([]byte(" {\n\"boolean\" : true }\r\n\t"), &api.BooleanResponse{}); err != nil {
		t.Errorf("white space: %v", err)
	}
}

// FuzzDecode: whatever Decode reads, encoding/json reads the same way.
func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, typ := range types {
		for range 5 {
			v := wirejsontest.Drawn(typ, r)
			data, _ := Append(nil, v.Interface())
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		wirejsontest.SameAsEncodingJSON(t, data, types, Decode, ErrNotCanonical)
	})
}
