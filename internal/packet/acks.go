package packet

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// AcksContentType is the media type of a block write's answer when the
// writer asks for it (Accept): a stream of acknowledgements sent while the
// packets are still arriving (HDFS's PipelineAck), docs/formats/packets.md.
const AcksContentType = "application/x-granary-acks"

// The kinds of acknowledgement records.
const (
	// AckStored: int64, the length of the block every datanode from this
	// one down the pipeline has stored (a packet is acknowledged once its
	// downstream acknowledged it).
	AckStored byte = 'A'
	// AckFailed: a datanode further down failed (its address); the stream
	// goes on without it.
	AckFailed byte = 'F'
	// AckError: this datanode failed (a RemoteException body); the stream
	// ends.
	AckError byte = 'E'
	// AckResult: the replicas are finalized (a BlockWriteResult); the
	// stream ends.
	AckResult byte = 'R'
)

// maxAckBody bounds the body of an F, E or R record.
const maxAckBody = 1 << 20

// AppendAck appends an AckStored record for length n.
func AppendAck(dst []byte, n int64) []byte {
	dst = append(dst, AckStored)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// AppendAckRecord appends an F, E or R record with its body.
func AppendAckRecord(dst []byte, kind byte, body []byte) []byte {
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	return append(dst, body...)
}

// AckReader reads acknowledgement records.
type AckReader struct{ r *bufio.Reader }

// NewAckReader reads the acknowledgements of r.
func NewAckReader(r io.Reader) *AckReader { return &AckReader{r: bufio.NewReaderSize(r, 4096)} }

// Next returns the next record: its kind and, for AckStored, the length
// stored, or for the others its body.
func (a *AckReader) Next() (kind byte, stored int64, body []byte, err error) {
	if kind, err = a.r.ReadByte(); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, nil, err
	}
	var n [8]byte
	switch kind {
	case AckStored:
		if _, err := io.ReadFull(a.r, n[:]); err != nil {
			return 0, 0, nil, err
		}
		return kind, int64(binary.BigEndian.Uint64(n[:])), nil, nil
	case AckFailed, AckError, AckResult:
		if _, err := io.ReadFull(a.r, n[:4]); err != nil {
			return 0, 0, nil, err
		}
		size := binary.BigEndian.Uint32(n[:4])
		if size > maxAckBody {
			return 0, 0, nil, fmt.Errorf("%w: acknowledgement of %d bytes", ErrMalformed, size)
		}
		body = make([]byte, size)
		if _, err := io.ReadFull(a.r, body); err != nil {
			return 0, 0, nil, err
		}
		return kind, 0, body, nil
	}
	return 0, 0, nil, fmt.Errorf("%w: acknowledgement kind %q", ErrMalformed, kind)
}
