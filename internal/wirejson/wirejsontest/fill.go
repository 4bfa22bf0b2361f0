// Package wirejsontest draws values for the tests of hand-written JSON
// codecs: every field of a value filled, so that a field added to a type
// and not to its codec shows up as a difference from encoding/json.
package wirejsontest

import (
	"math"
	"math/rand/v2"
	"reflect"
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
