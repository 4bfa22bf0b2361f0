// Package packet is the framing of block data on the write pipeline (HDFS's
// data-transfer packets over HTTP): each packet carries up to 64 KiB of
// data with one CRC32C per 512-byte chunk, so every datanode of the
// pipeline verifies what it stores before it stores it and forwards the
// packet unchanged. docs/formats/packets.md describes the bytes.
package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
)

// Sizes of the framing.
const (
	ChunkSize = 512
	MaxData   = 128 * ChunkSize // 64 KiB
	// ContentType is the media type of a packet stream.
	ContentType = "application/x-granary-packets"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksums returns the CRC32C of each 512-byte chunk of data (the last
// over its partial bytes), appended to dst.
func Checksums(dst, data []byte) []byte {
	for off := 0; off < len(data); off += ChunkSize {
		dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(data[off:min(off+ChunkSize, len(data))], castagnoli))
	}
	return dst
}

// Verify checks data against crcs (one per 512-byte chunk, the last over
// its partial bytes). It returns the index of the first chunk that does not
// match, or -1; a count of CRCs that does not fit data is chunk 0.
func Verify(data, crcs []byte) int {
	chunks := (len(data) + ChunkSize - 1) / ChunkSize
	if len(crcs) != 4*chunks {
		return 0
	}
	for i := 0; i < chunks; i++ {
		if crc32.Checksum(data[i*ChunkSize:min(len(data), (i+1)*ChunkSize)], castagnoli) != binary.BigEndian.Uint32(crcs[4*i:]) {
			return i
		}
	}
	return -1
}

// Append appends one packet (4-byte big-endian data length, the CRCs, the
// data) to dst. Only the last data packet of a stream may hold a partial
// chunk.
func Append(dst, data []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
	dst = Checksums(dst, data)
	return append(dst, data...)
}

// AppendHeader appends a packet's header (length and CRCs) for data, to be
// followed by data itself (a writer can then send data without copying it).
func AppendHeader(dst, data []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
	return Checksums(dst, data)
}

// AppendEnd appends the end-of-stream marker (a packet of length 0).
func AppendEnd(dst []byte) []byte { return binary.BigEndian.AppendUint32(dst, 0) }

// ErrMalformed is returned (wrapped) for a stream that breaks the framing.
var ErrMalformed = errors.New("malformed packet stream")

// Reader reads packets.
type Reader struct {
	r       io.Reader
	buf     []byte
	pos     int64 // the block offset of the next packet's data
	partial bool  // a packet ended inside a chunk: it must be the last
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 4+4*(MaxData/ChunkSize)+MaxData); return &b }}

// NewReader reads packets from r. Release gives its buffer back.
func NewReader(r io.Reader) *Reader { return NewReaderAt(r, 0) }

// NewReaderAt reads packets whose data starts at block offset offset (an
// append to a replica of that length): when offset is inside a chunk, the
// first packet completes that chunk at most.
func NewReaderAt(r io.Reader, offset int64) *Reader {
	return &Reader{r: r, buf: *bufs.Get().(*[]byte), pos: offset}
}

// Release returns the reader's buffer for reuse; the reader is done.
func (p *Reader) Release() {
	if p.buf != nil {
		b := p.buf
		bufs.Put(&b)
		p.buf = nil
	}
}

// Next returns the next packet: its data, its CRCs and its raw bytes (to
// forward), valid until the next call. It returns io.EOF at the end marker
// and io.ErrUnexpectedEOF when the stream stops without one.
func (p *Reader) Next() (data, crcs, raw []byte, err error) {
	if _, err := io.ReadFull(p.r, p.buf[:4]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, nil, err
	}
	n := int(binary.BigEndian.Uint32(p.buf[:4]))
	if n == 0 {
		return nil, nil, nil, io.EOF
	}
	if n > MaxData {
		return nil, nil, nil, fmt.Errorf("%w: packet of %d bytes", ErrMalformed, n)
	}
	if p.partial {
		return nil, nil, nil, fmt.Errorf("%w: data after a partial chunk", ErrMalformed)
	}
	if in := int(p.pos % ChunkSize); in > 0 && in+n > ChunkSize {
		return nil, nil, nil, fmt.Errorf("%w: a packet starting inside a chunk goes past its end", ErrMalformed)
	}
	p.pos += int64(n)
	p.partial = p.pos%ChunkSize != 0
	nc := 4 * ((n + ChunkSize - 1) / ChunkSize)
	total := 4 + nc + n
	if _, err := io.ReadFull(p.r, p.buf[4:total]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, nil, err
	}
	return p.buf[4+nc : total], p.buf[4 : 4+nc], p.buf[:total], nil
}
