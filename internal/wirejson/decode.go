package wirejson

import (
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/granary-fs/granary/api"
)

// ErrNotCanonical is Decode's answer for input it does not read itself:
// the caller decodes it with encoding/json.
var ErrNotCanonical = errors.New("wirejson: not in canonical form")

// Decode reads data, one JSON value of a type Append writes, into v (a
// pointer to a zero value). On an error v is zero again.
func Decode(data []byte, v any) error {
	err := decode(data, v)
	if err != nil {
		zero(v)
	}
	return err
}

func zero(v any) {
	switch v := v.(type) {
	case *api.LocatedBlocksResponse:
		*v = api.LocatedBlocksResponse{}
	case *api.LocatedBlock:
		*v = api.LocatedBlock{}
	case *api.CreateResponse:
		*v = api.CreateResponse{}
	case *api.FileStatusResponse:
		*v = api.FileStatusResponse{}
	case *api.BooleanResponse:
		*v = api.BooleanResponse{}
	case *api.CreateRequest:
		*v = api.CreateRequest{}
	case *api.CompleteRequest:
		*v = api.CompleteRequest{}
	}
}

func decode(data []byte, v any) error {
	d := decoder{b: data}
	var err error
	switch v := v.(type) {
	case *api.LocatedBlocksResponse:
		err = d.object(func(key []byte) error {
			if string(key) != "LocatedBlocks" {
				return ErrNotCanonical
			}
			return d.locatedBlocks(&v.LocatedBlocks)
		})
	case *api.LocatedBlock:
		err = d.locatedBlock(v)
	case *api.CreateResponse:
		err = d.object(func(key []byte) error {
			switch string(key) {
			case "FileStatus":
				return d.fileStatus(&v.FileStatus)
			case "block":
				v.Block = &api.LocatedBlock{}
				return d.locatedBlock(v.Block)
			}
			return ErrNotCanonical
		})
	case *api.FileStatusResponse:
		err = d.object(func(key []byte) error {
			if string(key) != "FileStatus" {
				return ErrNotCanonical
			}
			return d.fileStatus(&v.FileStatus)
		})
	case *api.BooleanResponse:
		err = d.object(func(key []byte) error {
			if string(key) != "boolean" {
				return ErrNotCanonical
			}
			return d.bool(&v.Boolean)
		})
	case *api.CreateRequest:
		err = d.object(func(key []byte) error {
			switch string(key) {
			case "path":
				return d.string(&v.Path)
			case "clientName":
				return d.string(&v.ClientName)
			case "overwrite":
				return d.bool(&v.Overwrite)
			case "createParent":
				return d.bool(&v.CreateParent)
			case "replication":
				return d.int(&v.Replication)
			case "blockSize":
				return d.int64(&v.BlockSize)
			case "permission":
				return d.string(&v.Permission)
			case "firstBlock":
				return d.bool(&v.FirstBlock)
			}
			return ErrNotCanonical
		})
	case *api.CompleteRequest:
		err = d.object(func(key []byte) error {
			switch string(key) {
			case "path":
				return d.string(&v.Path)
			case "clientName":
				return d.string(&v.ClientName)
			case "last":
				v.Last = &api.ExtendedBlock{}
				return d.extendedBlock(v.Last)
			}
			return ErrNotCanonical
		})
	default:
		return ErrNotCanonical
	}
	if err != nil {
		return err
	}
	if d.ws(); d.i != len(d.b) {
		return ErrNotCanonical
	}
	return nil
}

func (d *decoder) locatedBlocks(lbs *api.LocatedBlocks) error {
	return d.object(func(key []byte) error {
		switch string(key) {
		case "fileLength":
			return d.int64(&lbs.FileLength)
		case "isUnderConstruction":
			return d.bool(&lbs.IsUnderConstruction)
		case "locatedBlocks":
			lbs.LocatedBlocks = []api.LocatedBlock{}
			return d.array(func() error {
				lbs.LocatedBlocks = append(lbs.LocatedBlocks, api.LocatedBlock{})
				return d.locatedBlock(&lbs.LocatedBlocks[len(lbs.LocatedBlocks)-1])
			})
		case "isLastBlockComplete":
			return d.bool(&lbs.IsLastBlockComplete)
		}
		return ErrNotCanonical
	})
}

func (d *decoder) locatedBlock(lb *api.LocatedBlock) error {
	return d.object(func(key []byte) error {
		switch string(key) {
		case "block":
			return d.extendedBlock(&lb.Block)
		case "startOffset":
			return d.int64(&lb.StartOffset)
		case "locations":
			lb.Locations = []api.DatanodeInfo{}
			return d.array(func() error {
				lb.Locations = append(lb.Locations, api.DatanodeInfo{})
				return d.datanodeInfo(&lb.Locations[len(lb.Locations)-1])
			})
		case "isCorrupt":
			return d.bool(&lb.IsCorrupt)
		case "blockToken":
			lb.BlockToken = &api.DelegationToken{}
			return d.object(func(key []byte) error {
				if string(key) != "urlString" {
					return ErrNotCanonical
				}
				return d.string(&lb.BlockToken.URLString)
			})
		}
		return ErrNotCanonical
	})
}

func (d *decoder) extendedBlock(b *api.ExtendedBlock) error {
	return d.object(func(key []byte) error {
		switch string(key) {
		case "blockPoolId":
			return d.string(&b.BlockPoolID)
		case "blockId":
			return d.int64(&b.BlockID)
		case "generationStamp":
			return d.int64(&b.GenerationStamp)
		case "numBytes":
			return d.int64(&b.NumBytes)
		}
		return ErrNotCanonical
	})
}

func (d *decoder) datanodeInfo(n *api.DatanodeInfo) error {
	return d.object(func(key []byte) error {
		switch string(key) {
		case "uuid":
			return d.string(&n.UUID)
		case "hostName":
			return d.string(&n.HostName)
		case "ipAddr":
			return d.string(&n.IPAddr)
		case "infoPort":
			return d.int(&n.HTTPPort)
		case "networkLocation":
			return d.string(&n.Rack)
		}
		return ErrNotCanonical
	})
}

func (d *decoder) fileStatus(s *api.FileStatus) error {
	return d.object(func(key []byte) error {
		switch string(key) {
		case "accessTime":
			return d.int64(&s.AccessTime)
		case "blockSize":
			return d.int64(&s.BlockSize)
		case "childrenNum":
			return d.int(&s.ChildrenNum)
		case "fileId":
			return d.int64(&s.FileID)
		case "group":
			return d.string(&s.Group)
		case "length":
			return d.int64(&s.Length)
		case "modificationTime":
			return d.int64(&s.ModificationTime)
		case "owner":
			return d.string(&s.Owner)
		case "pathSuffix":
			return d.string(&s.PathSuffix)
		case "permission":
			return d.string(&s.Permission)
		case "replication":
			return d.int(&s.Replication)
		case "storagePolicy":
			return d.int(&s.StoragePolicy)
		case "type":
			return d.string(&s.Type)
		}
		return ErrNotCanonical
	})
}

// decoder reads JSON tokens from b; every method answers ErrNotCanonical
// for what it does not read.
type decoder struct {
	b []byte
	i int
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and consumes c if it comes next.
func (d *decoder) next(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object reads an object, calling field after each key for its value. A
// key that comes twice is left to encoding/json (which merges into what
// the first one filled).
func (d *decoder) object(field func(key []byte) error) error {
	if !d.next('{') {
		return ErrNotCanonical
	}
	if d.next('}') {
		return nil
	}
	var seen [maxKeys][]byte
	for n := 0; ; n++ {
		d.ws()
		key, err := d.raw()
		if err != nil {
			return err
		}
		if n == maxKeys {
			return ErrNotCanonical
		}
		for _, k := range seen[:n] {
			if string(k) == string(key) {
				return ErrNotCanonical
			}
		}
		seen[n] = key
		if !d.next(':') {
			return ErrNotCanonical
		}
		if err := field(key); err != nil {
			return err
		}
		if d.next(',') {
			continue
		}
		if d.next('}') {
			return nil
		}
		return ErrNotCanonical
	}
}

// maxKeys is more keys than any object Append writes has.
const maxKeys = 16

// array reads an array, calling elem for each element.
func (d *decoder) array(elem func() error) error {
	if !d.next('[') {
		return ErrNotCanonical
	}
	if d.next(']') {
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		if d.next(',') {
			continue
		}
		if d.next(']') {
			return nil
		}
		return ErrNotCanonical
	}
}

// raw reads a string without escapes or control characters and in valid
// UTF-8, and returns its bytes (a slice of the input).
func (d *decoder) raw() ([]byte, error) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, ErrNotCanonical
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, ErrNotCanonical
			}
			d.i = j + 1
			return s, nil
		case c == '\\' || c < 0x20:
			return nil, ErrNotCanonical
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, ErrNotCanonical
}

func (d *decoder) string(s *string) error {
	d.ws()
	b, err := d.raw()
	if err != nil {
		return err
	}
	*s = string(b)
	return nil
}

func (d *decoder) bool(b *bool) error {
	d.ws()
	switch {
	case d.lit("true"):
		*b = true
	case d.lit("false"):
		*b = false
	default:
		return ErrNotCanonical
	}
	return nil
}

func (d *decoder) lit(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// int64 reads an integer: an optional minus, then 0 or digits not
// starting with 0; a fraction, an exponent or an overflow is left to
// encoding/json (which refuses them for an integer field).
func (d *decoder) int64(n *int64) error {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == digits || d.b[digits] == '0' && d.i-digits > 1 {
		return ErrNotCanonical
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return ErrNotCanonical
		}
	}
	v, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	if err != nil {
		return ErrNotCanonical
	}
	*n = v
	return nil
}

func (d *decoder) int(n *int) error {
	var v int64
	if err := d.int64(&v); err != nil {
		return err
	}
	if int64(int(v)) != v {
		return ErrNotCanonical
	}
	*n = int(v)
	return nil
}
