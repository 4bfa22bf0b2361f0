// Package hadooptoken reads and writes Hadoop's security tokens byte for
// byte: the Writable encodings (WritableUtils' variable-length integers,
// Text), Token's URL string (URL-safe base64 of identifier, password, kind
// and service), the delegation-token identifier of
// AbstractDelegationTokenIdentifier and the block-token identifier of
// BlockTokenIdentifier, and their HmacSHA1 passwords. Hadoop's own tools
// (`hdfs fetchdt`, `hadoop dtutil print`) read what it writes.
package hadooptoken

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed token")

// Token kinds Granary issues, as HDFS names them.
const (
	KindWebHDFS  = "WEBHDFS delegation"  // WebHdfsConstants.WEBHDFS_TOKEN_KIND
	KindSWebHDFS = "SWEBHDFS delegation" // over https
	KindHDFS     = "HDFS_DELEGATION_TOKEN"
	KindBlock    = "HDFS_BLOCK_TOKEN"
)

// IsDelegation reports whether kind is a delegation token a metadata
// service issues (over WebHDFS, HTTPS or RPC's kind).
func IsDelegation(kind string) bool {
	return kind == KindWebHDFS || kind == KindSWebHDFS || kind == KindHDFS
}

// Token is org.apache.hadoop.security.token.Token.
type Token struct {
	Identifier []byte
	Password   []byte
	Kind       string
	Service    string
}

// Encode is Token.encodeToUrlString: commons-codec's URL-safe base64
// without padding of the Writable form.
func (t Token) Encode() string {
	var w Writer
	w.Bytes(t.Identifier)
	w.Bytes(t.Password)
	w.Text(t.Kind)
	w.Text(t.Service)
	return base64.RawURLEncoding.EncodeToString(w.buf.Bytes())
}

// Decode is Token.decodeFromUrlString; padded and unpadded input are both
// accepted, as commons-codec does.
func Decode(s string) (Token, error) {
	raw, err := base64.RawURLEncoding.DecodeString(trimPad(s))
	if err != nil {
		return Token{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	r := NewReader(raw)
	t := Token{Identifier: r.Bytes(), Password: r.Bytes(), Kind: r.Text(), Service: r.Text()}
	if err := r.End(); err != nil {
		return Token{}, err
	}
	return t, nil
}

func trimPad(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}

// Password is SecretManager.createPassword: HmacSHA1 of the identifier
// under the key.
func Password(identifier, key []byte) []byte {
	m := hmac.New(sha1.New, key)
	m.Write(identifier)
	return m.Sum(nil)
}

// Writer appends Hadoop Writable encodings.
type Writer struct{ buf bytes.Buffer }

// Result is what was written so far.
func (w *Writer) Result() []byte { return w.buf.Bytes() }

// Byte writes one byte (DataOutput.writeByte).
func (w *Writer) Byte(b byte) { w.buf.WriteByte(b) }

// VLong is WritableUtils.writeVLong (writeVInt is the same encoding).
func (w *Writer) VLong(i int64) {
	if i >= -112 && i <= 127 {
		w.buf.WriteByte(byte(i))
		return
	}
	l := -112
	if i < 0 {
		i ^= -1
		l = -120
	}
	for tmp := i; tmp != 0; tmp >>= 8 {
		l--
	}
	w.buf.WriteByte(byte(int8(l)))
	if l < -120 {
		l = -(l + 120)
	} else {
		l = -(l + 112)
	}
	for idx := l; idx != 0; idx-- {
		w.buf.WriteByte(byte(i >> ((idx - 1) * 8)))
	}
}

// Bytes writes a vint length and the bytes (Token's identifier, password).
func (w *Writer) Bytes(b []byte) {
	w.VLong(int64(len(b)))
	w.buf.Write(b)
}

// Text is Text.write: a vint length and UTF-8.
func (w *Writer) Text(s string) {
	w.VLong(int64(len(s)))
	w.buf.WriteString(s)
}

// Reader decodes Hadoop Writable encodings; the first error sticks.
type Reader struct {
	buf []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

func (r *Reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated %s", ErrMalformed, what)
	}
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil || len(r.buf) < 1 {
		r.fail("byte")
		return 0
	}
	b := r.buf[0]
	r.buf = r.buf[1:]
	return b
}

// VLong is WritableUtils.readVLong.
func (r *Reader) VLong() int64 {
	first := int8(r.Byte())
	if r.err != nil {
		return 0
	}
	var n int
	switch {
	case first >= -112:
		return int64(first)
	case first < -120:
		n = -119 - int(first)
	default:
		n = -111 - int(first)
	}
	if len(r.buf) < n-1 {
		r.fail("vlong")
		return 0
	}
	var i int64
	for _, b := range r.buf[:n-1] {
		i = i<<8 | int64(b)
	}
	r.buf = r.buf[n-1:]
	if first < -120 || first >= -112 && first < 0 {
		i ^= -1
	}
	return i
}

func (r *Reader) length() int {
	n := r.VLong()
	if r.err == nil && (n < 0 || n > int64(len(r.buf))) {
		r.fail("length")
		return 0
	}
	return int(n)
}

// Bytes reads a vint length and the bytes.
func (r *Reader) Bytes() []byte {
	n := r.length()
	if r.err != nil {
		return nil
	}
	b := bytes.Clone(r.buf[:n])
	r.buf = r.buf[n:]
	return b
}

// Text reads a Text.
func (r *Reader) Text() string { return string(r.Bytes()) }

// End reports the first error, or one for bytes left over.
func (r *Reader) End() error {
	if r.err == nil && len(r.buf) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.buf))
	}
	return r.err
}
