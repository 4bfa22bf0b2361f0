package dnproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Full block report chunk, binary (docs/nats-protocol.md):
//
//	magic "GRBR" | version 1 | header fields | count | replicas
//
// Header fields are length-prefixed strings (datanode UUID, block pool ID,
// storage ID) and uvarints (lease ID, report ID, chunk index and chunk
// count within the storage's report, flags: 1 = last chunk of the whole
// report, replica count). Replicas are sorted by block ID; each is the uvarint delta of its
// ID from the previous one (the first from 0), then uvarint generation
// stamp, uvarint length and one state byte. A million replicas take about
// 8 MB instead of the 24 MB of HDFS's BlockListAsLongs.

// Replica is one replica in a report.
type Replica struct {
	ID       int64
	GenStamp int64
	NumBytes int64
	State    uint8
}

// ReportChunk is one message of a full block report: one storage's
// replicas, or a part of them.
type ReportChunk struct {
	DatanodeUUID string
	BlockPoolID  string
	StorageID    string
	LeaseID      uint64
	ReportID     uint64
	Index, Count int  // this chunk's index and count within its storage's report
	Last         bool // the last chunk of the whole report (all storages)
	Replicas     []Replica
}

const reportMagic = "GRBR"

// MaxReplicasPerChunk keeps a chunk under NATS's default 1 MB payload
// limit even in the worst case (9+9+9+1 bytes a replica).
const MaxReplicasPerChunk = 32 * 1024

// EncodeChunk encodes c; its replicas are sorted by ID in place.
func EncodeChunk(c *ReportChunk) []byte {
	sort.Slice(c.Replicas, func(i, j int) bool { return c.Replicas[i].ID < c.Replicas[j].ID })
	b := make([]byte, 0, 64+len(c.Replicas)*12)
	b = append(b, reportMagic...)
	b = append(b, 1)
	for _, s := range []string{c.DatanodeUUID, c.BlockPoolID, c.StorageID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	var flags uint64
	if c.Last {
		flags = 1
	}
	for _, v := range []uint64{c.LeaseID, c.ReportID, uint64(c.Index), uint64(c.Count), flags, uint64(len(c.Replicas))} {
		b = binary.AppendUvarint(b, v)
	}
	prev := int64(0)
	for _, r := range c.Replicas {
		b = binary.AppendUvarint(b, uint64(r.ID-prev))
		b = binary.AppendUvarint(b, uint64(r.GenStamp))
		b = binary.AppendUvarint(b, uint64(r.NumBytes))
		b = append(b, r.State)
		prev = r.ID
	}
	return b
}

// ErrBadReport is returned (wrapped) for a chunk that does not decode.
var ErrBadReport = errors.New("malformed block report")

// DecodeChunk decodes a chunk; replicas is reused when it has capacity.
func DecodeChunk(data []byte, replicas []Replica) (*ReportChunk, error) {
	if len(data) < 5 || string(data[:4]) != reportMagic || data[4] != 1 {
		return nil, fmt.Errorf("%w: bad magic or version", ErrBadReport)
	}
	d := data[5:]
	bad := func(what string) (*ReportChunk, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadReport, what)
	}
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(d)
		if n <= 0 {
			return 0, false
		}
		d = d[n:]
		return v, true
	}
	str := func() (string, bool) {
		n, ok := uv()
		if !ok || n > uint64(len(d)) || n > 256 {
			return "", false
		}
		s := string(d[:n])
		d = d[n:]
		return s, true
	}
	c := &ReportChunk{}
	var ok bool
	if c.DatanodeUUID, ok = str(); !ok {
		return bad("datanode UUID")
	}
	if c.BlockPoolID, ok = str(); !ok {
		return bad("block pool ID")
	}
	if c.StorageID, ok = str(); !ok {
		return bad("storage ID")
	}
	var hdr [6]uint64
	for i := range hdr {
		if hdr[i], ok = uv(); !ok {
			return bad("header")
		}
	}
	c.LeaseID, c.ReportID = hdr[0], hdr[1]
	if hdr[3] == 0 || hdr[2] >= hdr[3] || hdr[3] > 1<<20 {
		return bad("chunk index/count")
	}
	c.Index, c.Count = int(hdr[2]), int(hdr[3])
	if hdr[4] > 1 {
		return bad("flags")
	}
	c.Last = hdr[4] == 1
	n := hdr[5]
	if n > uint64(len(d))/4 { // every replica takes at least 4 bytes
		return bad("replica count")
	}
	if uint64(cap(replicas)) >= n {
		replicas = replicas[:n]
	} else {
		replicas = make([]Replica, n)
	}
	prev := int64(0)
	for i := range replicas {
		delta, ok1 := uv()
		gs, ok2 := uv()
		length, ok3 := uv()
		if !ok1 || !ok2 || !ok3 || len(d) == 0 {
			return bad("replica")
		}
		if (i > 0 && delta == 0) || delta > 1<<62 || gs > 1<<62 || length > 1<<62 {
			return bad("replica values")
		}
		id := prev + int64(delta)
		if id < prev {
			return bad("replica ID overflow")
		}
		replicas[i] = Replica{ID: id, GenStamp: int64(gs), NumBytes: int64(length), State: d[0]}
		if d[0] > StateRWR {
			return bad("replica state")
		}
		d = d[1:]
		prev = id
	}
	if len(d) != 0 {
		return bad("trailing bytes")
	}
	c.Replicas = replicas
	return c, nil
}
