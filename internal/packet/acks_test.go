package packet

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestAckRecords: every kind of acknowledgement record reads back as
// written; an unknown kind, an oversized body and a cut stream are
// errors.
func TestAckRecords(t *testing.T) {
	var b []byte
	b = AppendAck(b, 65536)
	b = AppendAckRecord(b, AckFailed, []byte("127.0.0.1:9864"))
	b = AppendAck(b, 1<<40)
	b = AppendAckRecord(b, AckResult, []byte(`{"blockId":1}`))
	r := NewAckReader(bytes.NewReader(b))
	for _, want := range []struct {
		kind   byte
		stored int64
		body   string
	}{{AckStored, 65536, ""}, {AckFailed, 0, "127.0.0.1:9864"}, {AckStored, 1 << 40, ""}, {AckResult, 0, `{"blockId":1}`}} {
		kind, n, body, err := r.Next()
		if err != nil || kind != want.kind || n != want.stored || string(body) != want.body {
			t.Fatalf("record %q %d %q %v, want %q %d %q", kind, n, body, err, want.kind, want.stored, want.body)
		}
	}
	if _, _, _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("after the last record: %v", err)
	}
	huge := AppendAckRecord(nil, AckError, nil)
	huge[1] = 0xff // a body length of 4 GiB
	for name, in := range map[string][]byte{"unknown kind": {'Z', 0}, "oversized": huge, "cut": AppendAck(nil, 7)[:5]} {
		if _, _, _, err := NewAckReader(bytes.NewReader(in)).Next(); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
}
