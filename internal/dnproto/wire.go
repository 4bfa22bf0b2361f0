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
		return appendChooseTargetsReply(dst, &v), true
	case *ChooseTargetsReply:
		return appendChooseTargetsReply(dst, v), true
	case LocationsReceived:
		return appendLocationsReceived(dst, &v), true
	case *LocationsReceived:
		return appendLocationsReceived(dst, v), true
	case BlockEvents:
		return appendBlockEvents(dst, &v), true
	case *BlockEvents:
		return appendBlockEvents(dst, v), true
	case LocationsChanged:
		return appendLocationsChanged(dst, &v), true
	case *LocationsChanged:
		return appendLocationsChanged(dst, v), true
	}
	return dst, false
}

func appendLocationsChanged(dst []byte, c *LocationsChanged) []byte {
	dst = wirejson.AppendString(dst, `{"instance":`, c.Instance)
	dst = wirejson.AppendUint(dst, `,"from":`, c.From)
	dst = wirejson.AppendUint(dst, `,"to":`, c.To)
	if len(c.Blocks) > 0 {
		dst = wirejson.AppendArray(dst, `,"blocks":`, c.Blocks, appendInt)
	}
	if len(c.Seqs) > 0 {
		dst = wirejson.AppendArray(dst, `,"seqs":`, c.Seqs, appendUint)
	}
	if c.All {
		dst = append(dst, `,"all":true`...)
	}
	return append(dst, '}')
}

func appendBlockEvents(dst []byte, e *BlockEvents) []byte {
	dst = wirejson.AppendBool(dst, `{"safeMode":`, e.SafeMode)
	dst = wirejson.AppendInt(dst, `,"epoch":`, e.Epoch)
	dst = wirejson.AppendInt(dst, `,"seq":`, e.Seq)
	dst = wirejson.AppendInt(dst, `,"prevSeq":`, e.PrevSeq)
	dst = wirejson.AppendArray(dst, `,"events":`, e.Events, func(dst []byte, ev *BlockEvent) []byte {
		dst = wirejson.AppendInt(dst, `{"id":`, ev.ID)
		dst = wirejson.AppendInt(dst, `,"genStamp":`, ev.GenStamp)
		dst = wirejson.AppendInt(dst, `,"numBytes":`, ev.NumBytes)
		dst = wirejson.AppendUint(dst, `,"replication":`, uint64(ev.Replication))
		dst = wirejson.AppendBool(dst, `,"complete":`, ev.Complete)
		dst = wirejson.AppendBool(dst, `,"removed":`, ev.Removed)
		dst = wirejson.AppendInt(dst, `,"inodeId":`, ev.InodeID)
		return append(dst, '}')
	})
	return append(dst, '}')
}

func appendIncrementalReport(dst []byte, r *IncrementalReport) []byte {
	dst = wirejson.AppendString(dst, `{"datanodeUuid":`, r.DatanodeUUID)
	dst = wirejson.AppendString(dst, `,"blockPoolId":`, r.BlockPoolID)
	dst = wirejson.AppendArray(dst, `,"blocks":`, r.Blocks, func(dst []byte, b *ReceivedDeleted) []byte {
		dst = wirejson.AppendInt(dst, `{"block":{"id":`, b.Block.ID)
		dst = wirejson.AppendInt(dst, `,"genStamp":`, b.Block.GenStamp)
		dst = wirejson.AppendInt(dst, `,"numBytes":`, b.Block.NumBytes)
		dst = wirejson.AppendString(dst, `},"status":`, b.Status)
		dst = wirejson.AppendString(dst, `,"storageId":`, b.StorageID)
		return append(dst, '}')
	})
	return append(dst, '}')
}

func appendLocationsRequest(dst []byte, r *LocationsRequest) []byte {
	dst = wirejson.AppendArray(dst, `{"blocks":`, r.Blocks, appendInt)
	if r.ClientHost != "" {
		dst = wirejson.AppendString(dst, `,"clientHost":`, r.ClientHost)
	}
	if len(r.GenStamps) > 0 {
		dst = wirejson.AppendArray(dst, `,"genStamps":`, r.GenStamps, appendInt)
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
	dst = wirejson.AppendArray(dst, `{"blocks":`, r.Blocks, func(dst []byte, b *BlockLocation) []byte {
		dst = wirejson.AppendInt(dst, `{"id":`, b.ID)
		dst = wirejson.AppendArray(dst, `,"locations":`, b.Locations, appendDatanode)
		dst = wirejson.AppendArray(dst, `,"lengths":`, b.Lengths, appendInt)
		if len(b.GenStamps) > 0 {
			dst = wirejson.AppendArray(dst, `,"genStamps":`, b.GenStamps, appendInt)
		}
		dst = wirejson.AppendBool(dst, `,"corrupt":`, b.Corrupt)
		return append(dst, '}')
	})
	if c := r.Cache; c != nil {
		dst = wirejson.AppendString(dst, `,"cache":{"instance":`, c.Instance)
		dst = wirejson.AppendUint(dst, `,"seq":`, c.Seq)
		dst = wirejson.AppendString(dst, `,"readerRack":`, c.ReaderRack)
		dst = wirejson.AppendArray(dst, `,"cacheable":`, c.Cacheable, func(dst []byte, ok *bool) []byte { return wirejson.AppendBool(dst, "", *ok) })
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendChooseTargetsRequest(dst []byte, r *ChooseTargetsRequest) []byte {
	dst = appendPlacementFields(append(dst, '{'), &r.Placement)
	if len(r.More) > 0 {
		dst = wirejson.AppendArray(dst, `,"more":`, r.More, func(dst []byte, p *Placement) []byte {
			return append(appendPlacementFields(append(dst, '{'), p), '}')
		})
	}
	return append(dst, '}')
}

// appendPlacementFields appends p's fields, without the braces.
func appendPlacementFields(dst []byte, p *Placement) []byte {
	dst = wirejson.AppendInt(dst, `"replication":`, int64(p.Replication))
	dst = wirejson.AppendString(dst, `,"clientHost":`, p.ClientHost)
	if len(p.Exclude) > 0 {
		dst = wirejson.AppendArray(dst, `,"exclude":`, p.Exclude, func(dst []byte, s *string) []byte { return wirejson.AppendString(dst, "", *s) })
	}
	return wirejson.AppendInt(dst, `,"blockSize":`, p.BlockSize)
}

func appendChooseTargetsReply(dst []byte, r *ChooseTargetsReply) []byte {
	dst = wirejson.AppendArray(dst, `{"targets":`, r.Targets, appendDatanode)
	if len(r.More) > 0 {
		dst = wirejson.AppendArray(dst, `,"more":`, r.More, func(dst []byte, ts *[]DatanodeInfo) []byte {
			return wirejson.AppendArray(dst, "", *ts, appendDatanode)
		})
	}
	return append(dst, '}')
}

// appendDatanode, for wirejson.AppendArray, appends one datanode.
func appendDatanode(dst []byte, d *DatanodeInfo) []byte {
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
	return append(dst, '}')
}

// appendInt and appendUint, for wirejson.AppendArray, append one integer.
func appendInt(dst []byte, n *int64) []byte   { return wirejson.AppendInt(dst, "", *n) }
func appendUint(dst []byte, n *uint64) []byte { return wirejson.AppendUint(dst, "", *n) }

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
		datanodes := func(ts *[]DatanodeInfo) error {
			return wirejson.ReadArray(d, ts, func(n *DatanodeInfo) error { return decodeDatanode(d, n) })
		}
		err = d.Object(func(key []byte) error {
			switch string(key) {
			case "targets":
				return datanodes(&v.Targets)
			case "more":
				return wirejson.ReadArray(d, &v.More, datanodes)
			}
			return wirejson.ErrNotCanonical
		})
	case *LocationsReceived:
		err = d.Object(func(key []byte) error {
			switch string(key) {
			case "request":
				return decodeLocationsRequest(d, &v.Request)
			case "reply":
				return decodeLocationsReply(d, &v.Reply)
			}
			return wirejson.ErrNotCanonical
		})
	case *BlockEvents:
		err = decodeBlockEvents(d, v)
	case *LocationsChanged:
		err = d.Object(func(key []byte) error {
			switch string(key) {
			case "instance":
				return d.String(&v.Instance)
			case "from":
				return d.Uint64(&v.From)
			case "to":
				return d.Uint64(&v.To)
			case "blocks":
				return wirejson.ReadArray(d, &v.Blocks, d.Int64)
			case "seqs":
				return wirejson.ReadArray(d, &v.Seqs, d.Uint64)
			case "all":
				return d.Bool(&v.All)
			}
			return wirejson.ErrNotCanonical
		})
	default:
		return false, nil
	}
	return true, err
}

func appendLocationsReceived(dst []byte, m *LocationsReceived) []byte {
	dst = appendLocationsRequest(append(dst, `{"request":`...), &m.Request)
	return append(appendLocationsReply(append(dst, `,"reply":`...), &m.Reply), '}')
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
			return wirejson.ReadArray(d, &e.Events, func(ev *BlockEvent) error {
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
			return wirejson.ReadArray(d, &r.Blocks, func(b *ReceivedDeleted) error {
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
			return wirejson.ReadArray(d, &r.Blocks, d.Int64)
		case "clientHost":
			return d.String(&r.ClientHost)
		case "genStamps":
			return wirejson.ReadArray(d, &r.GenStamps, d.Int64)
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
			return wirejson.ReadArray(d, &r.Blocks, func(b *BlockLocation) error {
				return d.Object(func(key []byte) error {
					switch string(key) {
					case "id":
						return d.Int64(&b.ID)
					case "locations":
						return wirejson.ReadArray(d, &b.Locations, func(n *DatanodeInfo) error { return decodeDatanode(d, n) })
					case "lengths":
						return wirejson.ReadArray(d, &b.Lengths, d.Int64)
					case "genStamps":
						return wirejson.ReadArray(d, &b.GenStamps, d.Int64)
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
					return wirejson.ReadArray(d, &c.Cacheable, d.Bool)
				}
				return wirejson.ErrNotCanonical
			})
		}
		return wirejson.ErrNotCanonical
	})
}

func decodeChooseTargetsRequest(d *wirejson.Decoder, r *ChooseTargetsRequest) error {
	return d.Object(func(key []byte) error {
		if string(key) == "more" {
			return wirejson.ReadArray(d, &r.More, func(p *Placement) error {
				return d.Object(func(key []byte) error { return decodePlacementField(d, key, p) })
			})
		}
		return decodePlacementField(d, key, &r.Placement)
	})
}

// decodePlacementField reads the value of p's field key.
func decodePlacementField(d *wirejson.Decoder, key []byte, p *Placement) error {
	switch string(key) {
	case "replication":
		return d.Int(&p.Replication)
	case "clientHost":
		return d.String(&p.ClientHost)
	case "exclude":
		return wirejson.ReadArray(d, &p.Exclude, d.String)
	case "blockSize":
		return d.Int64(&p.BlockSize)
	}
	return wirejson.ErrNotCanonical
}

func decodeDatanode(d *wirejson.Decoder, n *DatanodeInfo) error {
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
}
