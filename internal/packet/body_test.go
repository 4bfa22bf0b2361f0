package packet

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// writes records each Write.
type writes struct{ calls [][]byte }

func (w *writes) Write(p []byte) (int, error) {
	w.calls = append(w.calls, bytes.Clone(p))
	return len(p), nil
}

// TestBodyWritesWholePackets: the packets written to the pipe in pieces
// (header, then data) reach the writer one whole packet per Write, the end
// marker last; a pipe closed with an error mid-packet ends with it.
func TestBodyWritesWholePackets(t *testing.T) {
	body, pw := NewBody()
	data := [][]byte{bytes.Repeat([]byte("a"), MaxData), bytes.Repeat([]byte("b"), 700)}
	go func() {
		for _, d := range data {
			_, _ = pw.Write(AppendHeader(nil, d))
			_, _ = pw.Write(d)
		}
		_, _ = pw.Write(AppendEnd(nil))
		pw.Close()
	}()
	var w writes
	n, err := body.WriteTo(&w)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{Append(nil, data[0]), Append(nil, data[1]), AppendEnd(nil)}
	if len(w.calls) != len(want) {
		t.Fatalf("%d writes, want %d", len(w.calls), len(want))
	}
	var total int64
	for i := range want {
		if !bytes.Equal(w.calls[i], want[i]) {
			t.Errorf("write %d: %d bytes, want packet %d (%d bytes)", i, len(w.calls[i]), i, len(want[i]))
		}
		total += int64(len(want[i]))
	}
	if n != total {
		t.Errorf("WriteTo counted %d bytes, want %d", n, total)
	}

	body, pw = NewBody()
	broken := errors.New("downstream gone")
	go func() {
		_, _ = pw.Write(AppendHeader(nil, data[0]))
		_, _ = pw.Write(data[0][:100])
		pw.CloseWithError(broken)
	}()
	if _, err := body.WriteTo(io.Discard); !errors.Is(err, broken) {
		t.Fatalf("a pipe closed mid-packet: %v, want %v", err, broken)
	}
}
