package packet

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// Body is a packet stream handed to an HTTP transport as a request body.
// Its writer (BodyWriter) writes one whole packet (header, CRCs and data
// side by side, or the end marker) per Write, and Write returns once the
// transport has taken it, so the caller may reuse the buffer then — as
// with io.Pipe, but without the pipe's copy: WriteTo, which the
// transport's copy uses, hands each packet to the transport as it is, in
// one Write: one chunk of the chunked encoding, and one system call when
// the transport's write buffer holds a packet (BufferSize).
type Body struct{ p *bodyPipe }

// BodyWriter writes the packets of a Body.
type BodyWriter struct{ p *bodyPipe }

// BufferSize is a write buffer that holds a whole packet with its chunk
// framing: an HTTP transport sending Bodies should have it
// (http.Transport.WriteBufferSize).
const BufferSize = 128 << 10

// HeaderRoom is the most bytes a packet's header (length and CRCs) takes:
// a buffer that keeps this much free before the data can become a whole
// packet in place (PutHeader).
const HeaderRoom = 4 + 4*(MaxData/ChunkSize)

// bodyPipe hands packets from the writer to the reader one at a time: the
// writer offers what is left of its packet and waits for taken, how much
// of it the reader consumed (all of it from WriteTo; what fitted, from
// Read).
type bodyPipe struct {
	wmu    sync.Mutex // one Write at a time
	frames chan []byte
	taken  chan int

	// partial: Read took only part of the last packet offered; its rest,
	// offered next, is not a whole packet.
	partial bool

	once sync.Once
	done chan struct{}
	rerr error // the reader's close, set before done closes
	werr error // the writer's close
}

// NewBody returns a body and the writer of its packets.
func NewBody() (Body, *BodyWriter) {
	p := &bodyPipe{frames: make(chan []byte), taken: make(chan int), done: make(chan struct{})}
	return Body{p}, &BodyWriter{p}
}

// Write sends packet — one whole packet or the end marker — and returns
// once the body's reader has taken all of it, or the error either side
// closed the body with.
func (w *BodyWriter) Write(packet []byte) (int, error) {
	p := w.p
	p.wmu.Lock()
	defer p.wmu.Unlock()
	n := 0
	for len(packet) > 0 {
		select {
		case <-p.done:
			return n, p.writeErr()
		case p.frames <- packet:
			k := <-p.taken
			packet, n = packet[k:], n+k
		}
	}
	return n, nil
}

// Close ends the stream: the reader sees its end after what was written.
func (w *BodyWriter) Close() error { return w.CloseWithError(nil) }

// CloseWithError ends the stream with err for the reader (its end when
// nil).
func (w *BodyWriter) CloseWithError(err error) error {
	w.p.close(nil, err)
	return nil
}

// Close tells the writer the body is no longer read (io.ErrClosedPipe).
func (b Body) Close() error { return b.CloseWithError(nil) }

// CloseWithError tells the writer the body is no longer read, with err
// (io.ErrClosedPipe when nil).
func (b Body) CloseWithError(err error) error {
	if err == nil {
		err = io.ErrClosedPipe
	}
	b.p.close(err, nil)
	return nil
}

// close records the first close, from either side.
func (p *bodyPipe) close(rerr, werr error) {
	p.once.Do(func() {
		p.rerr, p.werr = rerr, werr
		close(p.done)
	})
}

// writeErr is what a Write after the close returns.
func (p *bodyPipe) writeErr() error {
	if p.rerr != nil {
		return p.rerr
	}
	return io.ErrClosedPipe
}

// next waits for the writer's next packet; at the close, the end (EOF),
// the writer's error, or io.ErrClosedPipe when the reader closed it.
func (p *bodyPipe) next() ([]byte, error) {
	select {
	case f := <-p.frames:
		return f, nil
	case <-p.done:
		switch {
		case p.werr != nil:
			return nil, p.werr
		case p.rerr != nil:
			return nil, io.ErrClosedPipe
		}
		return nil, io.EOF
	}
}

// WriteTo writes each packet to w with one Write until the writer closes
// the body: its end (nil) or the writer's error. A Write of the writer
// that is not one whole packet is ErrMalformed, and ends the body.
func (b Body) WriteTo(w io.Writer) (int64, error) {
	p := b.p
	var n int64
	for {
		f, err := p.next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return n, err
		}
		if !p.partial {
			if err := whole(f); err != nil {
				b.CloseWithError(err)
				p.taken <- 0
				return n, err
			}
		}
		p.partial = false
		k, err := w.Write(f)
		n += int64(k)
		if err != nil {
			// The writer's Write returns the error with what was taken.
			b.CloseWithError(err)
			p.taken <- k
			return n, err
		}
		p.taken <- len(f)
	}
}

// Read copies the stream's bytes, for a transport that does not use
// WriteTo.
func (b Body) Read(buf []byte) (int, error) {
	p := b.p
	f, err := p.next()
	if err != nil {
		return 0, err
	}
	k := copy(buf, f)
	p.partial = k < len(f)
	p.taken <- k
	return k, nil
}

// whole checks that f is one packet (or the end marker).
func whole(f []byte) error {
	if len(f) < 4 {
		return fmt.Errorf("%w: a write of %d bytes", ErrMalformed, len(f))
	}
	size := int(binary.BigEndian.Uint32(f))
	if size > MaxData {
		return fmt.Errorf("%w: packet of %d bytes", ErrMalformed, size)
	}
	if want := 4 + 4*((size+ChunkSize-1)/ChunkSize) + size; len(f) != want {
		return fmt.Errorf("%w: a write of %d bytes, not the %d of one packet", ErrMalformed, len(f), want)
	}
	return nil
}

// PutHeader writes the header (length and CRCs) of the packet whose data
// is buf[HeaderRoom:] just before the data, and returns the whole packet:
// the tail of buf.
func PutHeader(buf []byte) []byte {
	data := buf[HeaderRoom:]
	nc := 4 * ((len(data) + ChunkSize - 1) / ChunkSize)
	k := HeaderRoom - 4 - nc
	binary.BigEndian.PutUint32(buf[k:], uint32(len(data)))
	Checksums(buf[k+4:k+4:k+4+nc], data)
	return buf[k:]
}
