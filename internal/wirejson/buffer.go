package wirejson

import (
	"encoding/json"
	"errors"
	"io"
	"sync"
)

// Buffer holds a message being written or read, from a pool: a request
// path that handles many small messages allocates none.
type Buffer struct{ b []byte }

var buffers = sync.Pool{New: func() any { return &Buffer{b: make([]byte, 0, 1024)} }}

// maxPooled bounds the buffers kept for reuse: a large listing's is let go.
const maxPooled = 64 << 10

// Bytes returns the message; it is valid until Release.
func (b *Buffer) Bytes() []byte { return b.b }

// Release gives the buffer back to the pool.
func (b *Buffer) Release() {
	if cap(b.b) <= maxPooled {
		b.b = b.b[:0]
		buffers.Put(b)
	}
}

// Marshal writes v's JSON (Append's, or json.Marshal's for the other
// types) into a pooled buffer.
func Marshal(v any) (*Buffer, error) { return MarshalWith(v, Append) }

// MarshalWith is Marshal with another encoder than Append (ok false: the
// type is not its own, and json.Marshal writes it).
func MarshalWith(v any, appendJSON func(dst []byte, v any) ([]byte, bool)) (*Buffer, error) {
	buf := buffers.Get().(*Buffer)
	if b, ok := appendJSON(buf.b[:0], v); ok {
		buf.b = b
		return buf, nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		buf.Release()
		return nil, err
	}
	buf.b = append(buf.b[:0], j...)
	return buf, nil
}

// ReadDecode reads r to its end and decodes what it read into v (a
// pointer to a zero value): with Decode when it is in canonical form,
// else with fallback (encoding/json with the caller's options) on the
// same bytes. readErr is a failure to read r, err one to decode.
func ReadDecode(r io.Reader, v any, fallback func(data []byte, v any) error) (readErr, err error) {
	buf := buffers.Get().(*Buffer)
	defer buf.Release()
	if buf.b, readErr = readAll(r, buf.b[:0]); readErr != nil {
		return readErr, nil
	}
	if err = Decode(buf.b, v); errors.Is(err, ErrNotCanonical) {
		err = fallback(buf.b, v)
	}
	return nil, err
}

// Unmarshal decodes data into v (a pointer to a zero value): with Decode
// when it is in canonical form, else with json.Unmarshal.
func Unmarshal(data []byte, v any) error {
	if err := Decode(data, v); !errors.Is(err, ErrNotCanonical) {
		return err
	}
	return json.Unmarshal(data, v)
}

// readAll appends what r has to its end to b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
