// Package wirejson writes and reads the messages of the request path's
// hottest routes — the create and complete requests; a file's status, its
// block locations, a new file with its first block, a boolean — without
// encoding/json's reflection.
//
// What Append writes is byte for byte what json.Marshal writes for the same
// value. Decode reads only the canonical form Append writes (keys spelled
// as the struct tags, strings without escapes, integers without fraction
// or exponent, no null); for anything else it returns ErrNotCanonical and
// the caller decodes the same bytes with encoding/json, so what a value
// decodes to never depends on which decoder ran. It must never accept
// input encoding/json would refuse or read differently.
package wirejson

import (
	"encoding/json"
	"strconv"

	"github.com/granary-fs/granary/api"
)

// Append appends v's JSON to dst; false when v is not one of the types
// this package writes (then nothing is appended).
func Append(dst []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case api.LocatedBlocksResponse:
		return appendLocatedBlocksResponse(dst, &v), true
	case *api.LocatedBlocksResponse:
		return appendLocatedBlocksResponse(dst, v), true
	case api.LocatedBlock:
		return appendLocatedBlock(dst, &v), true
	case *api.LocatedBlock:
		return appendLocatedBlock(dst, v), true
	case api.CreateResponse:
		return appendCreateResponse(dst, &v), true
	case *api.CreateResponse:
		return appendCreateResponse(dst, v), true
	case api.FileStatusResponse:
		return appendFileStatusResponse(dst, &v), true
	case *api.FileStatusResponse:
		return appendFileStatusResponse(dst, v), true
	case api.BooleanResponse:
		return appendBooleanResponse(dst, &v), true
	case *api.BooleanResponse:
		return appendBooleanResponse(dst, v), true
	case api.CreateRequest:
		return appendCreateRequest(dst, &v), true
	case *api.CreateRequest:
		return appendCreateRequest(dst, v), true
	case api.CompleteRequest:
		return appendCompleteRequest(dst, &v), true
	case *api.CompleteRequest:
		return appendCompleteRequest(dst, v), true
	}
	return dst, false
}

func appendCreateRequest(dst []byte, r *api.CreateRequest) []byte {
	dst = appendString(dst, `{"path":`, r.Path)
	dst = appendString(dst, `,"clientName":`, r.ClientName)
	dst = appendBool(dst, `,"overwrite":`, r.Overwrite)
	dst = appendBool(dst, `,"createParent":`, r.CreateParent)
	if r.Replication != 0 {
		dst = appendInt(dst, `,"replication":`, int64(r.Replication))
	}
	if r.BlockSize != 0 {
		dst = appendInt(dst, `,"blockSize":`, r.BlockSize)
	}
	if r.Permission != "" {
		dst = appendString(dst, `,"permission":`, r.Permission)
	}
	if r.FirstBlock {
		dst = append(dst, `,"firstBlock":true`...)
	}
	return append(dst, '}')
}

func appendCompleteRequest(dst []byte, r *api.CompleteRequest) []byte {
	dst = appendString(dst, `{"path":`, r.Path)
	dst = appendString(dst, `,"clientName":`, r.ClientName)
	if r.Last != nil {
		dst = append(dst, `,"last":`...)
		dst = appendExtendedBlock(dst, r.Last)
	}
	return append(dst, '}')
}

func appendBooleanResponse(dst []byte, r *api.BooleanResponse) []byte {
	dst = append(dst, `{"boolean":`...)
	return append(strconv.AppendBool(dst, r.Boolean), '}')
}

func appendFileStatusResponse(dst []byte, r *api.FileStatusResponse) []byte {
	dst = append(dst, `{"FileStatus":`...)
	return append(appendFileStatus(dst, &r.FileStatus), '}')
}

func appendCreateResponse(dst []byte, r *api.CreateResponse) []byte {
	dst = append(dst, `{"FileStatus":`...)
	dst = appendFileStatus(dst, &r.FileStatus)
	if r.Block != nil {
		dst = append(dst, `,"block":`...)
		dst = appendLocatedBlock(dst, r.Block)
	}
	return append(dst, '}')
}

func appendFileStatus(dst []byte, s *api.FileStatus) []byte {
	dst = appendInt(dst, `{"accessTime":`, s.AccessTime)
	dst = appendInt(dst, `,"blockSize":`, s.BlockSize)
	dst = appendInt(dst, `,"childrenNum":`, int64(s.ChildrenNum))
	dst = appendInt(dst, `,"fileId":`, s.FileID)
	dst = appendString(dst, `,"group":`, s.Group)
	dst = appendInt(dst, `,"length":`, s.Length)
	dst = appendInt(dst, `,"modificationTime":`, s.ModificationTime)
	dst = appendString(dst, `,"owner":`, s.Owner)
	dst = appendString(dst, `,"pathSuffix":`, s.PathSuffix)
	dst = appendString(dst, `,"permission":`, s.Permission)
	dst = appendInt(dst, `,"replication":`, int64(s.Replication))
	dst = appendInt(dst, `,"storagePolicy":`, int64(s.StoragePolicy))
	dst = appendString(dst, `,"type":`, s.Type)
	return append(dst, '}')
}

func appendLocatedBlocksResponse(dst []byte, r *api.LocatedBlocksResponse) []byte {
	lbs := &r.LocatedBlocks
	dst = appendInt(dst, `{"LocatedBlocks":{"fileLength":`, lbs.FileLength)
	dst = appendBool(dst, `,"isUnderConstruction":`, lbs.IsUnderConstruction)
	dst = append(dst, `,"locatedBlocks":`...)
	if lbs.LocatedBlocks == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range lbs.LocatedBlocks {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendLocatedBlock(dst, &lbs.LocatedBlocks[i])
		}
		dst = append(dst, ']')
	}
	dst = appendBool(dst, `,"isLastBlockComplete":`, lbs.IsLastBlockComplete)
	return append(dst, "}}"...)
}

func appendLocatedBlock(dst []byte, lb *api.LocatedBlock) []byte {
	dst = append(dst, `{"block":`...)
	dst = appendExtendedBlock(dst, &lb.Block)
	dst = appendInt(dst, `,"startOffset":`, lb.StartOffset)
	dst = append(dst, `,"locations":`...)
	if lb.Locations == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range lb.Locations {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendDatanodeInfo(dst, &lb.Locations[i])
		}
		dst = append(dst, ']')
	}
	dst = appendBool(dst, `,"isCorrupt":`, lb.IsCorrupt)
	if lb.BlockToken != nil {
		dst = appendString(dst, `,"blockToken":{"urlString":`, lb.BlockToken.URLString)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendExtendedBlock(dst []byte, b *api.ExtendedBlock) []byte {
	if b.BlockPoolID != "" {
		dst = appendString(dst, `{"blockPoolId":`, b.BlockPoolID)
		dst = appendInt(dst, `,"blockId":`, b.BlockID)
	} else {
		dst = appendInt(dst, `{"blockId":`, b.BlockID)
	}
	dst = appendInt(dst, `,"generationStamp":`, b.GenerationStamp)
	dst = appendInt(dst, `,"numBytes":`, b.NumBytes)
	return append(dst, '}')
}

func appendDatanodeInfo(dst []byte, d *api.DatanodeInfo) []byte {
	dst = appendString(dst, `{"uuid":`, d.UUID)
	dst = appendString(dst, `,"hostName":`, d.HostName)
	dst = appendString(dst, `,"ipAddr":`, d.IPAddr)
	dst = appendInt(dst, `,"infoPort":`, int64(d.HTTPPort))
	dst = appendString(dst, `,"networkLocation":`, d.Rack)
	return append(dst, '}')
}

// appendInt, appendBool and appendString append key (the punctuation and
// quoted name before a value) and the value.
func appendInt(dst []byte, key string, n int64) []byte {
	return strconv.AppendInt(append(dst, key...), n, 10)
}

func appendBool(dst []byte, key string, b bool) []byte {
	return strconv.AppendBool(append(dst, key...), b)
}

func appendString(dst []byte, key, s string) []byte {
	dst = append(dst, key...)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			// What encoding/json escapes, or replaces (invalid UTF-8),
			// is left to it.
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
