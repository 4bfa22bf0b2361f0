package packet

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/granary-fs/granary/internal/golden"
)

func TestRoundTrip(t *testing.T) {
	var stream []byte
	a := bytes.Repeat([]byte("a"), MaxData)
	b := []byte("tail of 13 b.")
	stream = Append(stream, a)
	stream = Append(stream, b)
	stream = AppendEnd(stream)
	r := NewReader(bytes.NewReader(stream))
	var got []byte
	for {
		data, crcs, raw, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(crcs, Checksums(nil, data)) || len(raw) != 4+len(crcs)+len(data) {
			t.Fatal("checksums or raw bytes wrong")
		}
		got = append(got, data...)
	}
	if !bytes.Equal(got, append(a, b...)) {
		t.Fatal("data differs")
	}
	// A stream cut short is an error, not a clean end.
	if _, _, _, err := NewReader(bytes.NewReader(stream[:100])).Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short stream: %v", err)
	}
	// Nothing may follow a partial chunk.
	bad := AppendEnd(Append(Append(nil, b), a))
	r = NewReader(bytes.NewReader(bad))
	if _, _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := r.Next(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("data after a partial chunk: %v", err)
	}
}

func TestAppendStreamStartsInsideAChunk(t *testing.T) {
	// A replica of 1300 bytes: 236 bytes complete its third chunk, then
	// whole chunks follow and the last packet may end anywhere.
	first, next := bytes.Repeat([]byte("x"), 236), bytes.Repeat([]byte("y"), 1024)
	ok := AppendEnd(Append(Append(Append(nil, first), next), []byte("end")))
	r := NewReaderAt(bytes.NewReader(ok), 1300)
	for i := 0; ; i++ {
		_, _, _, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	// A first packet going past the chunk it starts in is refused, and so
	// is one that leaves it unfinished before more data.
	for _, s := range [][]byte{AppendEnd(Append(nil, bytes.Repeat([]byte("x"), 237))), AppendEnd(Append(Append(nil, first[:100]), next))} {
		r := NewReaderAt(bytes.NewReader(s), 1300)
		var err error
		for err == nil {
			_, _, _, err = r.Next()
		}
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("misaligned append stream: %v", err)
		}
	}
}

// TestStreamGolden: a packet stream (docs/formats/packets.md) — a whole
// packet, a short one, the end — read from the committed bytes, its data
// and CRCs written again byte for byte.
func TestStreamGolden(t *testing.T) {
	full := bytes.Repeat([]byte{0x5a}, 3*512) // whole chunks: only the last packet may end inside one
	var stream []byte
	stream = Append(stream, full)
	stream = Append(stream, []byte("tail"))
	stream = AppendEnd(stream)
	data := golden.Check(t, "stream.bin", stream)
	r := NewReader(bytes.NewReader(data))
	var again []byte
	for {
		d, crcs, _, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(crcs, Checksums(nil, d)) {
			t.Fatal("the golden stream's CRCs do not match its data")
		}
		again = Append(again, d)
	}
	if again = AppendEnd(again); !bytes.Equal(again, data) {
		t.Fatal("the golden stream does not encode again byte for byte")
	}
}
