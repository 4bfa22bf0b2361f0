package hadooptoken

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Delegation is AbstractDelegationTokenIdentifier (the identifier of
// HDFS_DELEGATION_TOKEN and WEBHDFS delegation tokens). Dates are
// milliseconds since the epoch.
type Delegation struct {
	Owner, Renewer, RealUser string
	IssueDate, MaxDate       int64
	SequenceNumber           int32
	MasterKeyID              int32
}

// delegationVersion is AbstractDelegationTokenIdentifier.VERSION.
const delegationVersion = 0

// Marshal is AbstractDelegationTokenIdentifier.write.
func (d Delegation) Marshal() []byte {
	var w Writer
	w.Byte(delegationVersion)
	w.Text(d.Owner)
	w.Text(d.Renewer)
	w.Text(d.RealUser)
	w.VLong(d.IssueDate)
	w.VLong(d.MaxDate)
	w.VLong(int64(d.SequenceNumber))
	w.VLong(int64(d.MasterKeyID))
	return w.Result()
}

// UnmarshalDelegation is AbstractDelegationTokenIdentifier.readFields.
func UnmarshalDelegation(b []byte) (Delegation, error) {
	r := NewReader(b)
	if v := r.Byte(); r.err == nil && v != delegationVersion {
		return Delegation{}, fmt.Errorf("%w: unknown delegation identifier version %d", ErrMalformed, v)
	}
	d := Delegation{Owner: r.Text(), Renewer: r.Text(), RealUser: r.Text(), IssueDate: r.VLong(), MaxDate: r.VLong()}
	d.SequenceNumber, d.MasterKeyID = int32(r.VLong()), int32(r.VLong())
	return d, r.End()
}

// String is how HDFS names a token in messages:
// "(token for alice: HDFS_DELEGATION_TOKEN owner=alice, renewer=...)".
func (d Delegation) String() string {
	return fmt.Sprintf("owner=%s, renewer=%s, realUser=%s, issueDate=%d, maxDate=%d, sequenceNumber=%d, masterKeyId=%d",
		d.Owner, d.Renewer, d.RealUser, d.IssueDate, d.MaxDate, d.SequenceNumber, d.MasterKeyID)
}

// AccessMode is BlockTokenIdentifier.AccessMode.
type AccessMode string

// The block access modes.
const (
	Read    AccessMode = "READ"
	Write   AccessMode = "WRITE"
	Copy    AccessMode = "COPY"
	Replace AccessMode = "REPLACE"
)

// Block is BlockTokenIdentifier in its Writable ("legacy") form.
type Block struct {
	ExpiryDate  int64 // milliseconds since the epoch
	KeyID       int32
	UserID      string
	BlockPoolID string
	BlockID     int64
	Modes       []AccessMode
}

// Marshal is BlockTokenIdentifier.writeLegacy, with no storage types,
// storage IDs or handshake secret.
func (b Block) Marshal() []byte {
	var w Writer
	w.VLong(b.ExpiryDate)
	w.VLong(int64(b.KeyID))
	w.javaString(b.UserID)
	w.javaString(b.BlockPoolID)
	w.VLong(b.BlockID)
	w.VLong(int64(len(b.Modes)))
	for _, m := range b.Modes {
		w.Text(string(m))
	}
	w.VLong(0) // storage types
	w.VLong(0) // storage IDs
	return w.Result()
}

// UnmarshalBlock is BlockTokenIdentifier.readFieldsLegacy.
func UnmarshalBlock(data []byte) (Block, error) {
	r := NewReader(data)
	b := Block{ExpiryDate: r.VLong(), KeyID: int32(r.VLong()), UserID: r.javaString(), BlockPoolID: r.javaString(), BlockID: r.VLong()}
	n := r.VLong()
	if r.err == nil && (n < 0 || n > 4) {
		return Block{}, fmt.Errorf("%w: %d access modes", ErrMalformed, n)
	}
	for range n {
		m := AccessMode(r.Text())
		if r.err == nil && !slices.Contains([]AccessMode{Read, Write, Copy, Replace}, m) {
			return Block{}, fmt.Errorf("%w: unknown access mode %q", ErrMalformed, m)
		}
		b.Modes = append(b.Modes, m)
	}
	for _, what := range []string{"storage types", "storage IDs"} {
		if len(r.buf) == 0 {
			break
		}
		k := r.VLong()
		if r.err == nil && (k < 0 || k > 64) {
			return Block{}, fmt.Errorf("%w: %d %s", ErrMalformed, k, what)
		}
		for range k {
			r.Text()
		}
	}
	if len(r.buf) > 0 {
		r.Bytes() // handshake secret
	}
	return b, r.End()
}

// Has reports whether the token grants mode.
func (b Block) Has(mode AccessMode) bool { return slices.Contains(b.Modes, mode) }

// String is BlockTokenIdentifier.toString, which HDFS's messages quote.
func (b Block) String() string {
	return fmt.Sprintf("block_token_identifier (expiryDate=%d, keyId=%d, userId=%s, blockPoolId=%s, blockId=%d, access modes=%v)",
		b.ExpiryDate, b.KeyID, b.UserID, b.BlockPoolID, b.BlockID, b.Modes)
}

// javaString is WritableUtils.writeString: a 4-byte length and UTF-8.
func (w *Writer) javaString(s string) {
	w.buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
	w.buf.WriteString(s)
}

func (r *Reader) javaString() string {
	if r.err != nil || len(r.buf) < 4 {
		r.fail("string")
		return ""
	}
	n := int32(binary.BigEndian.Uint32(r.buf))
	r.buf = r.buf[4:]
	if n == -1 {
		return ""
	}
	if n < 0 || int(n) > len(r.buf) {
		r.fail("string")
		return ""
	}
	s := string(r.buf[:n])
	r.buf = r.buf[n:]
	return s
}

// StringStable is HDFS's DelegationTokenIdentifier.toStringStable, what
// `hdfs fetchdt --print` shows.
func (d Delegation) StringStable() string {
	return fmt.Sprintf("%s token %d for %s with renewer %s", KindHDFS, d.SequenceNumber, d.Owner, d.Renewer)
}

// Verbose is HDFS's DelegationTokenIdentifier.toString, what `hdfs
// fetchdt --print --verbose` shows.
func (d Delegation) Verbose() string {
	return fmt.Sprintf("token for %s: %s %s", d.Owner, KindHDFS, d)
}
