// Package wirejsontest serves the tests of hand-written JSON codecs: it
// draws values with every field filled, so that a field added to a type
// and not to its codec shows up as a difference from encoding/json, and
// holds a decoder to what encoding/json reads.
package wirejsontest

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// strs are drawn for strings: the plain ones mostly, and one of those
// encoding/json escapes now and then.
var (
	strs    = []string{"", "dn1", "10.0.0.5", "/default-rack", "BP-1-10.0.0.1-1700000000000", "né", "日本", "HAAEaGRmcwRoZGZz-_"}
	escaped = []string{"a\"b", `back\slash`, "<tag>&amp;", "tab\there", "\x01", "\xff\xfe", "line\u2028sep"}
)

var ints = []int64{0, 1, -1, 1073741825, 134217728, math.MaxInt64, math.MinInt64, 420}

// Fill sets every field of v, reached through structs, slices and
// pointers, to a value drawn from r.
func Fill(v reflect.Value, r *rand.Rand) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			Fill(v.Field(i), r)
		}
	case reflect.String:
		if r.IntN(40) == 0 {
			v.SetString(escaped[r.IntN(len(escaped))])
		} else {
			v.SetString(strs[r.IntN(len(strs))])
		}
	case reflect.Int, reflect.Int64:
		v.SetInt(ints[r.IntN(len(ints))])
	case reflect.Uint64:
		v.SetUint(uint64(ints[r.IntN(len(ints))]))
	case reflect.Uint16:
		v.SetUint(uint64(uint16(ints[r.IntN(len(ints))])))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Slice:
		n := r.IntN(5) - 1 // -1: nil
		if n < 0 {
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			Fill(v.Index(i), r)
		}
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		Fill(v.Elem(), r)
	default:
		panic("Fill: unexpected kind " + v.Kind().String())
	}
}

// Drawn is a pointer to a new value of typ, filled from r.
func Drawn(typ reflect.Type, r *rand.Rand) reflect.Value {
	v := reflect.New(typ)
	Fill(v.Elem(), r)
	return v
}

// SameAsEncodingJSON checks, for each of types, that what decode reads of
// data encoding/json reads the same way, and that a value decode leaves
// to encoding/json (answering notCanonical) is left zero.
func SameAsEncodingJSON(t *testing.T, data []byte, types []reflect.Type, decode func([]byte, any) error, notCanonical error) {
	t.Helper()
	for _, typ := range types {
		got := reflect.New(typ)
		err := decode(data, got.Interface())
		if errors.Is(err, notCanonical) {
			if !got.Elem().IsZero() {
				t.Fatalf("%v left partly decoded", typ)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: the decoder answered %v, not %v", typ, err, notCanonical)
		}
		want := reflect.New(typ)
		if err := json.Unmarshal(data, want.Interface()); err != nil {
			t.Fatalf("%v: the decoder read %q, which encoding/json refuses: %v", typ, data, err)
		}
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Fatalf("%q\ndecoder:       %+v\nencoding/json: %+v", data, got.Elem(), want.Elem())
		}
	}
}

// WritesAsEncodingJSON checks that appendFn appends, after what dst held,
// what json.Marshal writes for values of each of types drawn from r, given
// as values and as pointers.
func WritesAsEncodingJSON(t *testing.T, types []reflect.Type, r *rand.Rand, appendFn func(dst []byte, v any) ([]byte, bool)) {
	t.Helper()
	for _, typ := range types {
		for range 2000 {
			v := Drawn(typ, r)
			for _, x := range []any{v.Interface(), v.Elem().Interface()} {
				want, err := json.Marshal(x)
				if err != nil {
					t.Fatal(err)
				}
				got, ok := appendFn([]byte("prefix"), x)
				if !ok {
					t.Fatalf("%T is not written", x)
				}
				if !bytes.Equal(got, append([]byte("prefix"), want...)) {
					t.Fatalf("%T:\nwritten:       %s\nencoding/json: prefix%s", x, got, want)
				}
			}
		}
	}
}
