package hadooptoken

import (
	"bytes"
	"errors"
	"testing"
)

// TestVLong checks WritableUtils' encoding at its boundaries against bytes
// worked out from WritableUtils.writeVLong by hand.
func TestVLong(t *testing.T) {
	for _, c := range []struct {
		v    int64
		want []byte
	}{
		{0, []byte{0}},
		{127, []byte{127}},
		{-112, []byte{0x90}},
		{128, []byte{0x8f, 0x80}},
		{-113, []byte{0x87, 0x70}},
		{256, []byte{0x8e, 0x01, 0x00}},
		{1700000000000, []byte{0x8a, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00}},
		{-1 << 63, []byte{0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	} {
		var w Writer
		w.VLong(c.v)
		if !bytes.Equal(w.Result(), c.want) {
			t.Errorf("VLong(%d) = % x, want % x", c.v, w.Result(), c.want)
		}
		r := NewReader(w.Result())
		if got := r.VLong(); got != c.v || r.End() != nil {
			t.Errorf("read back %d: %d, %v", c.v, got, r.End())
		}
	}
}

func TestTokenRoundTrip(t *testing.T) {
	id := Delegation{Owner: "alice", Renewer: "yarn", RealUser: "", IssueDate: 1700000000000, MaxDate: 1700604800000, SequenceNumber: 7, MasterKeyID: 3}
	key := []byte("0123456789abcdef")
	tok := Token{Identifier: id.Marshal(), Password: Password(id.Marshal(), key), Kind: KindWebHDFS, Service: "127.0.0.1:9870"}
	s := tok.Encode()
	for _, c := range s {
		if c == '+' || c == '/' || c == '=' {
			t.Fatalf("%q is not URL-safe unpadded base64", s)
		}
	}
	back, err := Decode(s + "==")
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalDelegation(back.Identifier)
	if err != nil || got != id || back.Kind != tok.Kind || back.Service != tok.Service || !bytes.Equal(back.Password, tok.Password) {
		t.Fatalf("round trip: %+v %+v %v", back, got, err)
	}
	for _, bad := range []string{"", "!!", s[:len(s)-3], s + "AAAA"} {
		if _, err := Decode(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestBlockIdentifier(t *testing.T) {
	b := Block{ExpiryDate: 1700000000000, KeyID: -5, UserID: "bob", BlockPoolID: "BP-1-127.0.0.1-1", BlockID: 1 << 30, Modes: []AccessMode{Read, Copy}}
	got, err := UnmarshalBlock(b.Marshal())
	if err != nil || got.String() != b.String() || !got.Has(Read) || got.Has(Write) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := UnmarshalBlock(b.Marshal()[:10]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
}
