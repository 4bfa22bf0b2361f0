// Package wirejson writes and reads the messages of the request path's
// hottest routes — the create and complete requests; a file's status, its
// block locations, a new file with its first block, a boolean, a block
// write's result — without encoding/json's reflection.
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
	case api.BlockWriteResult:
		return appendBlockWriteResult(dst, &v), true
	case *api.BlockWriteResult:
		return appendBlockWriteResult(dst, v), true
	}
	return dst, false
}

func appendBlockWriteResult(dst []byte, r *api.BlockWriteResult) []byte {
	dst = AppendInt(dst, `{"blockId":`, r.BlockID)
	dst = AppendInt(dst, `,"length":`, r.Length)
	dst = AppendArray(dst, `,"stored":`, r.Stored, appendElemString)
	dst = AppendArray(dst, `,"failed":`, r.Failed, appendElemString)
	return append(dst, '}')
}

func appendCreateRequest(dst []byte, r *api.CreateRequest) []byte {
	dst = AppendString(dst, `{"path":`, r.Path)
	dst = AppendString(dst, `,"clientName":`, r.ClientName)
	dst = AppendBool(dst, `,"overwrite":`, r.Overwrite)
	dst = AppendBool(dst, `,"createParent":`, r.CreateParent)
	if r.Replication != 0 {
		dst = AppendInt(dst, `,"replication":`, int64(r.Replication))
	}
	if r.BlockSize != 0 {
		dst = AppendInt(dst, `,"blockSize":`, r.BlockSize)
	}
	if r.Permission != "" {
		dst = AppendString(dst, `,"permission":`, r.Permission)
	}
	if r.FirstBlock {
		dst = append(dst, `,"firstBlock":true`...)
	}
	return append(dst, '}')
}

func appendCompleteRequest(dst []byte, r *api.CompleteRequest) []byte {
	dst = AppendString(dst, `{"path":`, r.Path)
	dst = AppendString(dst, `,"clientName":`, r.ClientName)
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
	dst = AppendInt(dst, `{"accessTime":`, s.AccessTime)
	dst = AppendInt(dst, `,"blockSize":`, s.BlockSize)
	dst = AppendInt(dst, `,"childrenNum":`, int64(s.ChildrenNum))
	dst = AppendInt(dst, `,"fileId":`, s.FileID)
	dst = AppendString(dst, `,"group":`, s.Group)
	dst = AppendInt(dst, `,"length":`, s.Length)
	dst = AppendInt(dst, `,"modificationTime":`, s.ModificationTime)
	dst = AppendString(dst, `,"owner":`, s.Owner)
	dst = AppendString(dst, `,"pathSuffix":`, s.PathSuffix)
	dst = AppendString(dst, `,"permission":`, s.Permission)
	dst = AppendInt(dst, `,"replication":`, int64(s.Replication))
	dst = AppendInt(dst, `,"storagePolicy":`, int64(s.StoragePolicy))
	dst = AppendString(dst, `,"type":`, s.Type)
	return append(dst, '}')
}

func appendLocatedBlocksResponse(dst []byte, r *api.LocatedBlocksResponse) []byte {
	lbs := &r.LocatedBlocks
	dst = AppendInt(dst, `{"LocatedBlocks":{"fileLength":`, lbs.FileLength)
	dst = AppendBool(dst, `,"isUnderConstruction":`, lbs.IsUnderConstruction)
	dst = AppendArray(dst, `,"locatedBlocks":`, lbs.LocatedBlocks, appendLocatedBlock)
	dst = AppendBool(dst, `,"isLastBlockComplete":`, lbs.IsLastBlockComplete)
	return append(dst, "}}"...)
}

func appendLocatedBlock(dst []byte, lb *api.LocatedBlock) []byte {
	dst = append(dst, `{"block":`...)
	dst = appendExtendedBlock(dst, &lb.Block)
	dst = AppendInt(dst, `,"startOffset":`, lb.StartOffset)
	dst = AppendArray(dst, `,"locations":`, lb.Locations, appendDatanodeInfo)
	dst = AppendBool(dst, `,"isCorrupt":`, lb.IsCorrupt)
	if lb.BlockToken != nil {
		dst = AppendString(dst, `,"blockToken":{"urlString":`, lb.BlockToken.URLString)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendExtendedBlock(dst []byte, b *api.ExtendedBlock) []byte {
	if b.BlockPoolID != "" {
		dst = AppendString(dst, `{"blockPoolId":`, b.BlockPoolID)
		dst = AppendInt(dst, `,"blockId":`, b.BlockID)
	} else {
		dst = AppendInt(dst, `{"blockId":`, b.BlockID)
	}
	dst = AppendInt(dst, `,"generationStamp":`, b.GenerationStamp)
	dst = AppendInt(dst, `,"numBytes":`, b.NumBytes)
	return append(dst, '}')
}

func appendDatanodeInfo(dst []byte, d *api.DatanodeInfo) []byte {
	dst = AppendString(dst, `{"uuid":`, d.UUID)
	dst = AppendString(dst, `,"hostName":`, d.HostName)
	dst = AppendString(dst, `,"ipAddr":`, d.IPAddr)
	dst = AppendInt(dst, `,"infoPort":`, int64(d.HTTPPort))
	dst = AppendString(dst, `,"networkLocation":`, d.Rack)
	return append(dst, '}')
}

// AppendArray appends key and s as json.Marshal writes a slice — null
// when it is nil — each element with elem.
func AppendArray[T any](dst []byte, key string, s []T, elem func(dst []byte, v *T) []byte) []byte {
	dst = append(dst, key...)
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = elem(dst, &s[i])
	}
	return append(dst, ']')
}

// appendElemString, for AppendArray, appends a string element.
func appendElemString(dst []byte, s *string) []byte { return AppendString(dst, "", *s) }

// AppendInt, AppendUint, AppendBool and AppendString append key (the
// punctuation and quoted name before a value) and the value, as
// json.Marshal writes it: for the encoders of other packages' messages.
func AppendInt(dst []byte, key string, n int64) []byte {
	return strconv.AppendInt(append(dst, key...), n, 10)
}

// AppendUint appends key and n.
func AppendUint(dst []byte, key string, n uint64) []byte {
	return strconv.AppendUint(append(dst, key...), n, 10)
}

// AppendBool appends key and b.
func AppendBool(dst []byte, key string, b bool) []byte {
	return strconv.AppendBool(append(dst, key...), b)
}

// AppendString appends key and s, quoted and escaped as json.Marshal
// does.
func AppendString(dst []byte, key, s string) []byte {
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
