package packet

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Body is a packet stream written into a pipe, as the body of an HTTP
// request. Its WriteTo, which the HTTP transport's copy uses, hands the
// transport one whole packet per write: one chunk of the chunked encoding,
// and one system call when the transport's write buffer holds a packet
// (WriteBufferSize), instead of io.Copy's 32 KiB pieces, each a chunk with
// its own small writes.
type Body struct{ *io.PipeReader }

// BufferSize is a write buffer that holds a whole packet with its chunk
// framing: an HTTP transport sending Bodies should have it
// (http.Transport.WriteBufferSize).
const BufferSize = 128 << 10

// NewBody returns a body reading the packets written to the returned pipe.
func NewBody() (Body, *io.PipeWriter) {
	pr, pw := io.Pipe()
	return Body{pr}, pw
}

// WriteTo copies the packets (and the end marker) to w, each with one
// Write, until the pipe is closed: at a packet's boundary that is the end
// (nil), anywhere else an error (the pipe's own when closed with one).
func (b Body) WriteTo(w io.Writer) (int64, error) {
	buf := *bufs.Get().(*[]byte)
	defer bufs.Put(&buf)
	var n int64
	for {
		if _, err := io.ReadFull(b.PipeReader, buf[:4]); err != nil {
			if err == io.EOF {
				return n, nil
			}
			return n, err
		}
		size := int(binary.BigEndian.Uint32(buf[:4]))
		total := 4
		if size > 0 {
			if size > MaxData {
				return n, fmt.Errorf("%w: packet of %d bytes", ErrMalformed, size)
			}
			total += 4*((size+ChunkSize-1)/ChunkSize) + size
			if _, err := io.ReadFull(b.PipeReader, buf[4:total]); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
		}
		m, err := w.Write(buf[:total])
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
}
