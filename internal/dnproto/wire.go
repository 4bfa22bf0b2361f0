package dnproto

import (
	"encoding/json"
	"errors"
	"math"

	"github.com/granary-fs/granary/internal/wirejson"
)

// The messages of every block written and every location look-up —
// incremental reports and their acknowledgements, placement and location
// requests and their replies, the namespace's block events — are written
// and read without encoding/json's reflection (internal/wirejson): Marshal writes what json.Marshal writes,
// Unmarshal reads that form itself and leaves any other JSON to
// encoding/json, so a message never reads differently.

// Marshal is json.Marshal, for the protocol's messages.
func Marshal(v any) ([]byte, error) {
	if b, ok := appendMsg(nil, v); ok {
		return b, nil
	}
	return json.Marshal(v)
}

// Unmarshal is json.Unmarshal, for the protocol's messages; v points to a
// zero value.
func Unmarshal(data []byte, v any) error {
	err := wirejson.Read(data, v, readMsg)
	if errors.Is(err, wirejson.ErrNotCanonical) {
		return json.Unmarshal(data, v)
	}
	return err
}

func appendMsg(dst []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case IncrementalReport:
		return appendIncrementalReport(dst, &v), true
	case *IncrementalReport:
		return appendIncrementalReport(dst, v), true
	case Ack, *Ack:
		return append(dst, "{}"...), true
	case LocationsRequest:
		return appendLocationsRequest(dst, &v), true
	case *LocationsRequest:
		return appendLocationsRequest(dst, v), true
	case LocationsReply:
		return appendLocationsReply(dst, &v), true
	case *LocationsReply:
		return appendLocationsReply(dst, v), true
	case ChooseTargetsRequest:
		return appendChooseTargetsRequest(dst, &v), true
	case *ChooseTargetsRequest:
		return appendChooseTargetsRequest(dst, v), true
	case ChooseTargetsReply:
		return appendDatanodes(append(dst, `{"targets":`...), v.Targets, "}"), true
	case *ChooseTargetsReply:
		return appendDatanodes(append(dst, `{"targets":`...), v.Targets, "}"), true
	case BlockEvents:
		return appendBlockEvents(dst, &v), true
	case *BlockEvents:
		return appendBlockEvents(dst, v), true
	}
	return dst, false
}

func appendBlockEvents(dst []byte, e *BlockEvents) []byte {
	dst = wirejson.AppendBool(dst, `{"safeMode":`, e.SafeMode)
	dst = wirejson.AppendInt(dst, `,"epoch":`, e.Epoch)
	dst = wirejson.AppendInt(dst, `,"seq":`, e.Seq)
	dst = wirejson.AppendInt(dst, `,"prevSeq":`, e.PrevSeq)
	dst = append(dst, `,"events":`...)
	if e.Events == nil {
		return append(dst, "null}"...)
	}
	dst = append(dst, '[')
	for i := range e.Events {
		ev := &e.Events[i]
		key := `{"id":`
		if i > 0 {
			key = `,{"id":`
		}
		dst = wirejson.AppendInt(dst, key, ev.ID)
		dst = wirejson.AppendInt(dst, `,"genStamp":`, ev.GenStamp)
		dst = wirejson.AppendInt(dst, `,"numBytes":`, ev.NumBytes)
		dst = wirejson.AppendUint(dst, `,"replication":`, uint64(ev.Replication))
		dst = wirejson.AppendBool(dst, `,"complete":`, ev.Complete)
		dst = wirejson.AppendBool(dst, `,"removed":`, ev.Removed)
		dst = wirejson.AppendInt(dst, `,"inodeId":`, ev.InodeID)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

func appendIncrementalReport(dst []byte, r *IncrementalReport) []byte {
	dst = wirejson.AppendString(dst, `{"datanodeUuid":`, r.DatanodeUUID)
	dst = wirejson.AppendString(dst, `,"blockPoolId":`, r.BlockPoolID)
	dst = append(dst, `,"blocks":`...)
	if r.Blocks == nil {
		return append(dst, "null}"...)
	}
	dst = append(dst, '[')
	for i := range r.Blocks {
		if i > 0 {
			dst = append(dst, ',')
		}
		b := &r.Blocks[i]
		dst = wirejson.AppendInt(dst, `{"block":{"id":`, b.Block.ID)
		dst = wirejson.AppendInt(dst, `,"genStamp":`, b.Block.GenStamp)
		dst = wirejson.AppendInt(dst, `,"numBytes":`, b.Block.NumBytes)
		dst = wirejson.AppendString(dst, `},"status":`, b.Status)
		dst = wirejson.AppendString(dst, `,"storageId":`, b.StorageID)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

func appendLocationsRequest(dst []byte, r *LocationsRequest) []byte {
	dst = appendInts(append(dst, `{"blocks":`...), r.Blocks)
	if r.ClientHost != "" {
		dst = wirejson.AppendString(dst, `,"clientHost":`, r.ClientHost)
	}
	if len(r.GenStamps) > 0 {
		dst = appendInts(append(dst, `,"genStamps":`...), r.GenStamps)
	}
	if r.Newer {
		dst = append(dst, `,"newer":true`...)
	}
	if r.Cache {
		dst = append(dst, `,"cache":true`...)
	}
	return append(dst, '}')
}

func appendLocationsReply(dst []byte, r *LocationsReply) []byte {
	dst = append(dst, `{"blocks":`...)
	if r.Blocks == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range r.Blocks {
			if i > 0 {
				dst = append(dst, ',')
			}
			b := &r.Blocks[i]
			dst = wirejson.AppendInt(dst, `{"id":`, b.ID)
			dst = appendDatanodes(append(dst, `,"locations":`...), b.Locations, "")
			dst = appendInts(append(dst, `,"lengths":`...), b.Lengths)
			if len(b.GenStamps) > 0 {
				dst = appendInts(append(dst, `,"genStamps":`...), b.GenStamps)
			}
			dst = wirejson.AppendBool(dst, `,"corrupt":`, b.Corrupt)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if c := r.Cache; c != nil {
		dst = wirejson.AppendString(dst, `,"cache":{"instance":`, c.Instance)
		dst = wirejson.AppendUint(dst, `,"seq":`, c.Seq)
		dst = wirejson.AppendString(dst, `,"readerRack":`, c.ReaderRack)
		dst = append(dst, `,"cacheable":`...)
		if c.Cacheable == nil {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, '[')
			for i, ok := range c.Cacheable {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = wirejson.AppendBool(dst, "", ok)
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendChooseTargetsRequest(dst []byte, r *ChooseTargetsRequest) []byte {
	dst = wirejson.AppendInt(dst, `{"replication":`, int64(r.Replication))
	dst = wirejson.AppendString(dst, `,"clientHost":`, r.ClientHost)
	if len(r.Exclude) > 0 {
		dst = append(dst, `,"exclude":[`...)
		for i, s := range r.Exclude {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = wirejson.AppendString(dst, "", s)
		}
		dst = append(dst, ']')
	}
	dst = wirejson.AppendInt(dst, `,"blockSize":`, r.BlockSize)
	return append(dst, '}')
}

// appendDatanodes appends ds, then end.
func appendDatanodes(dst []byte, ds []DatanodeInfo, end string) []byte {
	if ds == nil {
		return append(append(dst, "null"...), end...)
	}
	dst = append(dst, '[')
	for i := range ds {
		if i > 0 {
			dst = append(dst, ',')
		}
		d := &ds[i]
		dst = wirejson.AppendString(dst, `{"uuid":`, d.UUID)
		dst = wirejson.AppendString(dst, `,"hostName":`, d.HostName)
		dst = wirejson.AppendString(dst, `,"ipAddr":`, d.IPAddr)
		dst = wirejson.AppendInt(dst, `,"httpPort":`, int64(d.HTTPPort))
		dst = wirejson.AppendString(dst, `,"rack":`, d.Rack)
		if d.StorageID != "" {
			dst = wirejson.AppendString(dst, `,"storageId":`, d.StorageID)
		}
		if d.Decommission {
			dst = append(dst, `,"decommissioning":true`...)
		}
		if d.Decommissioned {
			dst = append(dst, `,"decommissioned":true`...)
		}
		dst = append(dst, '}')
	}
	return append(append(dst, ']'), end...)
}

func appendInts(dst []byte, ns []int64) []byte {
	if ns == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, n := range ns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = wirejson.AppendInt(dst, "", n)
	}
	return append(dst, ']')
}

// readMsg reads one of the messages Marshal writes itself.
func readMsg(d *wirejson.Decoder, v any) (bool, error) {
	var err error
	switch v := v.(type) {
	case *IncrementalReport:
		err = decodeIncrementalReport(d, v)
	case *Ack:
		err = d.Object(func([]byte) error { return wirejson.ErrNotCanonical })
	case *LocationsRequest:
		err = decodeLocationsRequest(d, v)
	case *LocationsReply:
		err = decodeLocationsReply(d, v)
	case *ChooseTargetsRequest:
		err = decodeChooseTargetsRequest(d, v)
	case *ChooseTargetsReply:
		err = d.Object(func(key []byte) error {
			if string(key) != "targets" {
				return wirejson.ErrNotCanonical
			}
			return decodeDatanodes(d, &v.Targets)
		})
	case *BlockEvents:
		err = decodeBlockEvents(d, v)
	default:
		return false, nil
	}
	return true, err
}

func decodeBlockEvents(d *wirejson.Decoder, e *BlockEvents) error {
	return d.Object(func(key []byte) error {
		switch string(key) {
		case "safeMode":
			return d.Bool(&e.SafeMode)
		case "epoch":
			return d.Int64(&e.Epoch)
		case "seq":
			return d.Int64(&e.Seq)
		case "prevSeq":
			return d.Int64(&e.PrevSeq)
		case "events":
			e.Events = []BlockEvent{}
			return d.Array(func() error {
				e.Events = append(e.Events, BlockEvent{})
				ev := &e.Events[len(e.Events)-1]
				return d.Object(func(key []byte) error {
					switch string(key) {
					case "id":
						return d.Int64(&ev.ID)
					case "genStamp":
						return d.Int64(&ev.GenStamp)
					case "numBytes":
						return d.Int64(&ev.NumBytes)
					case "replication":
						var n uint64
						if err := d.Uint64(&n); err != nil || n > math.MaxUint16 {
							return wirejson.ErrNotCanonical
						}
						ev.Replication = uint16(n)
						return nil
					case "complete":
						return d.Bool(&ev.Complete)
					case "removed":
						return d.Bool(&ev.Removed)
					case "inodeId":
						return d.Int64(&ev.InodeID)
					}
					return wirejson.ErrNotCanonical
				})
			})
		}
		return wirejson.ErrNotCanonical
	})
}

func decodeIncrementalReport(d *wirejson.Decoder, r *IncrementalReport) error {
	return d.Object(func(key []byte) error {
		switch string(key) {
		case "datanodeUuid":
			return d.String(&r.DatanodeUUID)
		case "blockPoolId":
			return d.String(&r.BlockPoolID)
		case "blocks":
			r.Blocks = []ReceivedDeleted{}
			return d.Array(func() error {
				r.Blocks = append(r.Blocks, ReceivedDeleted{})
				b := &r.Blocks[len(r.Blocks)-1]
				return d.Object(func(key []byte) error {
					switch string(key) {
					case "block":
						return decodeBlockRef(d, &b.Block)
					case "status":
						return d.String(&b.Status)
					case "storageId":
						return d.String(&b.StorageID)
					}
					return wirejson.ErrNotCanonical
				})
			})
		}
		return wirejson.ErrNotCanonical
	})
}

func decodeBlockRef(d *wirejson.Decoder, b *BlockRef) error {
	return d.Object(func(key []byte) error {
		switch string(key) {
		case "id":
			return d.Int64(&b.ID)
		case "genStamp":
			return d.Int64(&b.GenStamp)
		case "numBytes":
			return d.Int64(&b.NumBytes)
		}
		return wirejson.ErrNotCanonical
	})
}

func decodeLocationsRequest(d *wirejson.Decoder, r *LocationsRequest) error {
	return d.Object(func(key []byte) error {
		switch string(key) {
		case "blocks":
			return decodeInts(d, &r.Blocks)
		case "clientHost":
			return d.String(&r.ClientHost)
		case "genStamps":
			return decodeInts(d, &r.GenStamps)
		case "newer":
			return d.Bool(&r.Newer)
		case "cache":
			return d.Bool(&r.Cache)
		}
		return wirejson.ErrNotCanonical
	})
}

func decodeLocationsReply(d *wirejson.Decoder, r *LocationsReply) error {
	return d.Object(func(key []byte) error {
		switch string(key) {
		case "blocks":
			r.Blocks = []BlockLocation{}
			return d.Array(func() error {
				r.Blocks = append(r.Blocks, BlockLocation{})
				b := &r.Blocks[len(r.Blocks)-1]
				return d.Object(func(key []byte) error {
					switch string(key) {
					case "id":
						return d.Int64(&b.ID)
					case "locations":
						return decodeDatanodes(d, &b.Locations)
					case "lengths":
						return decodeInts(d, &b.Lengths)
					case "genStamps":
						return decodeInts(d, &b.GenStamps)
					case "corrupt":
						return d.Bool(&b.Corrupt)
					}
					return wirejson.ErrNotCanonical
				})
			})
		case "cache":
			c := &LocationCache{}
			r.Cache = c
			return d.Object(func(key []byte) error {
				switch string(key) {
				case "instance":
					return d.String(&c.Instance)
				case "seq":
					return d.Uint64(&c.Seq)
				case "readerRack":
					return d.String(&c.ReaderRack)
				case "cacheable":
					c.Cacheable = []bool{}
					return d.Array(func() error {
						var ok bool
						err := d.Bool(&ok)
						c.Cacheable = append(c.Cacheable, ok)
						return err
					})
				}
				return wirejson.ErrNotCanonical
			})
		}
		return wirejson.ErrNotCanonical
	})
}

func decodeChooseTargetsRequest(d *wirejson.Decoder, r *ChooseTargetsRequest) error {
	return d.Object(func(key []byte) error {
		switch string(key) {
		case "replication":
			return d.Int(&r.Replication)
		case "clientHost":
			return d.String(&r.ClientHost)
		case "exclude":
			r.Exclude = []string{}
			return d.Array(func() error {
				var s string
				err := d.String(&s)
				r.Exclude = append(r.Exclude, s)
				return err
			})
		case "blockSize":
			return d.Int64(&r.BlockSize)
		}
		return wirejson.ErrNotCanonical
	})
}

func decodeDatanodes(d *wirejson.Decoder, ds *[]DatanodeInfo) error {
	*ds = []DatanodeInfo{}
	return d.Array(func() error {
		*ds = append(*ds, DatanodeInfo{})
		n := &(*ds)[len(*ds)-1]
		return d.Object(func(key []byte) error {
			switch string(key) {
			case "uuid":
				return d.String(&n.UUID)
			case "hostName":
				return d.String(&n.HostName)
			case "ipAddr":
				return d.String(&n.IPAddr)
			case "httpPort":
				return d.Int(&n.HTTPPort)
			case "rack":
				return d.String(&n.Rack)
			case "storageId":
				return d.String(&n.StorageID)
			case "decommissioning":
				return d.Bool(&n.Decommission)
			case "decommissioned":
				return d.Bool(&n.Decommissioned)
			}
			return wirejson.ErrNotCanonical
		})
	})
}

func decodeInts(d *wirejson.Decoder, ns *[]int64) error {
	*ns = []int64{}
	return d.Array(func() error {
		var n int64
		err := d.Int64(&n)
		*ns = append(*ns, n)
		return err
	})
}
