package packet

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// writes records each Write, and whether it was handed the writer's own
// memory (first is the first byte of each packet written).
type writes struct {
	calls [][]byte
	first []*byte
}

func (w *writes) Write(p []byte) (int, error) {
	w.calls = append(w.calls, bytes.Clone(p))
	w.first = append(w.first, &p[0])
	return len(p), nil
}

// TestBodyWritesWholePackets: each packet written reaches the transport as
// one Write of the writer's own bytes (not a copy), the end marker last; a
// body closed by its writer with an error ends with it; a write that is
// not one whole packet is refused with ErrMalformed on both sides; a body
// its reader closed fails the writer's next Write; Read (a transport
// without WriteTo) gets the same bytes. PutHeader builds in place the
// packet Append builds.
func TestBodyWritesWholePackets(t *testing.T) {
	data := [][]byte{bytes.Repeat([]byte("a"), MaxData), bytes.Repeat([]byte("b"), 700)}
	var packets [][]byte
	for _, d := range data {
		buf := make([]byte, HeaderRoom+len(d))
		copy(buf[HeaderRoom:], d)
		p := PutHeader(buf)
		if !bytes.Equal(p, Append(nil, d)) {
			t.Fatalf("PutHeader built %d bytes unlike Append's packet of %d", len(p), len(Append(nil, d)))
		}
		packets = append(packets, p)
	}
	packets = append(packets, AppendEnd(nil))

	body, pw := NewBody()
	go func() {
		for _, p := range packets {
			if _, err := pw.Write(p); err != nil {
				t.Error(err)
			}
		}
		pw.Close()
	}()
	var w writes
	n, err := body.WriteTo(&w)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.calls) != len(packets) {
		t.Fatalf("%d writes, want %d", len(w.calls), len(packets))
	}
	var total int64
	for i, p := range packets {
		if !bytes.Equal(w.calls[i], p) {
			t.Errorf("write %d: %d bytes, want packet %d (%d bytes)", i, len(w.calls[i]), i, len(p))
		}
		if w.first[i] != &p[0] {
			t.Errorf("write %d was a copy of the packet, not the packet", i)
		}
		total += int64(len(p))
	}
	if n != total {
		t.Errorf("WriteTo counted %d bytes, want %d", n, total)
	}

	body, pw = NewBody()
	broken := errors.New("downstream gone")
	go func() {
		_, _ = pw.Write(packets[0])
		pw.CloseWithError(broken)
	}()
	if _, err := body.WriteTo(io.Discard); !errors.Is(err, broken) {
		t.Fatalf("a body closed with an error: %v, want %v", err, broken)
	}

	body, pw = NewBody()
	refused := make(chan error, 1)
	go func() {
		_, err := pw.Write(AppendHeader(nil, data[0])) // the header alone
		refused <- err
	}()
	if _, err := body.WriteTo(io.Discard); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a write of a header alone: %v, want ErrMalformed", err)
	}
	if err := <-refused; !errors.Is(err, ErrMalformed) {
		t.Fatalf("the writer of a header alone got %v, want ErrMalformed", err)
	}

	body, pw = NewBody()
	gone := errors.New("request failed")
	body.CloseWithError(gone)
	if _, err := pw.Write(packets[1]); !errors.Is(err, gone) {
		t.Fatalf("a write to a body its reader closed: %v, want %v", err, gone)
	}

	body, pw = NewBody()
	go func() {
		for _, p := range packets {
			_, _ = pw.Write(p)
		}
		pw.Close()
	}()
	got, err := io.ReadAll(io.LimitReader(body, 1<<30))
	if err != nil || !bytes.Equal(got, bytes.Join(packets, nil)) {
		t.Fatalf("Read: %d bytes, %v; want the %d bytes written", len(got), err, len(bytes.Join(packets, nil)))
	}
}
