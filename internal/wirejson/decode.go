package wirejson

import (
	"errors"
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/granary-fs/granary/api"
)

// ErrNotCanonical is Decode's answer for input it does not read itself:
// the caller decodes it with encoding/json.
var ErrNotCanonical = errors.New("wirejson: not in canonical form")

// Decode reads data, one JSON value of a type Append writes, into v (a
// pointer to a zero value). On an error v is zero again.
func Decode(data []byte, v any) error { return Read(data, v, readAPI) }

// Read reads data, one JSON value, into v (a pointer to a zero value) with
// read, which answers false for a type it does not read (v is then left
// as it is and ErrNotCanonical answered); only white space may follow the
// value. On an error v is zero again.
func Read(data []byte, v any, read func(d *Decoder, v any) (known bool, err error)) error {
	d := Decoder{b: data}
	known, err := read(&d, v)
	if !known {
		return ErrNotCanonical
	}
	if err == nil {
		err = d.End()
	}
	if err != nil {
		reflect.ValueOf(v).Elem().SetZero()
	}
	return err
}

// NewDecoder returns a Decoder of data.
func NewDecoder(data []byte) Decoder { return Decoder{b: data} }

// End answers ErrNotCanonical unless only white space is left.
func (d *Decoder) End() error {
	if d.ws(); d.i != len(d.b) {
		return ErrNotCanonical
	}
	return nil
}

// readAPI reads the api types Append writes.
func readAPI(d *Decoder, v any) (bool, error) {
	var err error
	switch v := v.(type) {
	case *api.LocatedBlocksResponse:
		err = d.Object(func(key []byte) error {
			if string(key) != "LocatedBlocks" {
				return ErrNotCanonical
			}
			return d.locatedBlocks(&v.LocatedBlocks)
		})
	case *api.LocatedBlock:
		err = d.locatedBlock(v)
	case *api.CreateResponse:
		err = d.Object(func(key []byte) error {
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
		err = d.Object(func(key []byte) error {
			if string(key) != "FileStatus" {
				return ErrNotCanonical
			}
			return d.fileStatus(&v.FileStatus)
		})
	case *api.BooleanResponse:
		err = d.Object(func(key []byte) error {
			if string(key) != "boolean" {
				return ErrNotCanonical
			}
			return d.Bool(&v.Boolean)
		})
	case *api.CreateRequest:
		err = d.Object(func(key []byte) error {
			switch string(key) {
			case "path":
				return d.String(&v.Path)
			case "clientName":
				return d.String(&v.ClientName)
			case "overwrite":
				return d.Bool(&v.Overwrite)
			case "createParent":
				return d.Bool(&v.CreateParent)
			case "replication":
				return d.Int(&v.Replication)
			case "blockSize":
				return d.Int64(&v.BlockSize)
			case "permission":
				return d.String(&v.Permission)
			case "firstBlock":
				return d.Bool(&v.FirstBlock)
			}
			return ErrNotCanonical
		})
	case *api.CompleteRequest:
		err = d.Object(func(key []byte) error {
			switch string(key) {
			case "path":
				return d.String(&v.Path)
			case "clientName":
				return d.String(&v.ClientName)
			case "last":
				v.Last = &api.ExtendedBlock{}
				return d.extendedBlock(v.Last)
			}
			return ErrNotCanonical
		})
	case *api.BlockWriteResult:
		err = d.Object(func(key []byte) error {
			switch string(key) {
			case "blockId":
				return d.Int64(&v.BlockID)
			case "length":
				return d.Int64(&v.Length)
			case "stored":
				return ReadArray(d, &v.Stored, d.String)
			case "failed":
				return ReadArray(d, &v.Failed, d.String)
			}
			return ErrNotCanonical
		})
	default:
		return false, nil
	}
	return true, err
}

// ReadArray reads an array into *s, each element with elem: an empty
// array is an empty slice, as encoding/json reads it (null is not
// canonical).
func ReadArray[T any](d *Decoder, s *[]T, elem func(v *T) error) error {
	*s = []T{}
	return d.Array(func() error {
		var zero T
		*s = append(*s, zero)
		return elem(&(*s)[len(*s)-1])
	})
}

func (d *Decoder) locatedBlocks(lbs *api.LocatedBlocks) error {
	return d.Object(func(key []byte) error {
		switch string(key) {
		case "fileLength":
			return d.Int64(&lbs.FileLength)
		case "isUnderConstruction":
			return d.Bool(&lbs.IsUnderConstruction)
		case "locatedBlocks":
			return ReadArray(d, &lbs.LocatedBlocks, d.locatedBlock)
		case "isLastBlockComplete":
			return d.Bool(&lbs.IsLastBlockComplete)
		}
		return ErrNotCanonical
	})
}

func (d *Decoder) locatedBlock(lb *api.LocatedBlock) error {
	return d.Object(func(key []byte) error {
		switch string(key) {
		case "block":
			return d.extendedBlock(&lb.Block)
		case "startOffset":
			return d.Int64(&lb.StartOffset)
		case "locations":
			return ReadArray(d, &lb.Locations, d.datanodeInfo)
		case "isCorrupt":
			return d.Bool(&lb.IsCorrupt)
		case "blockToken":
			lb.BlockToken = &api.DelegationToken{}
			return d.Object(func(key []byte) error {
				if string(key) != "urlString" {
					return ErrNotCanonical
				}
				return d.String(&lb.BlockToken.URLString)
			})
		}
		return ErrNotCanonical
	})
}

func (d *Decoder) extendedBlock(b *api.ExtendedBlock) error {
	return d.Object(func(key []byte) error {
		switch string(key) {
		case "blockPoolId":
			return d.String(&b.BlockPoolID)
		case "blockId":
			return d.Int64(&b.BlockID)
		case "generationStamp":
			return d.Int64(&b.GenerationStamp)
		case "numBytes":
			return d.Int64(&b.NumBytes)
		}
		return ErrNotCanonical
	})
}

func (d *Decoder) datanodeInfo(n *api.DatanodeInfo) error {
	return d.Object(func(key []byte) error {
		switch string(key) {
		case "uuid":
			return d.String(&n.UUID)
		case "hostName":
			return d.String(&n.HostName)
		case "ipAddr":
			return d.String(&n.IPAddr)
		case "infoPort":
			return d.Int(&n.HTTPPort)
		case "networkLocation":
			return d.String(&n.Rack)
		}
		return ErrNotCanonical
	})
}

func (d *Decoder) fileStatus(s *api.FileStatus) error {
	return d.Object(func(key []byte) error {
		switch string(key) {
		case "accessTime":
			return d.Int64(&s.AccessTime)
		case "blockSize":
			return d.Int64(&s.BlockSize)
		case "childrenNum":
			return d.Int(&s.ChildrenNum)
		case "fileId":
			return d.Int64(&s.FileID)
		case "group":
			return d.String(&s.Group)
		case "length":
			return d.Int64(&s.Length)
		case "modificationTime":
			return d.Int64(&s.ModificationTime)
		case "owner":
			return d.String(&s.Owner)
		case "pathSuffix":
			return d.String(&s.PathSuffix)
		case "permission":
			return d.String(&s.Permission)
		case "replication":
			return d.Int(&s.Replication)
		case "storagePolicy":
			return d.Int(&s.StoragePolicy)
		case "type":
			return d.String(&s.Type)
		}
		return ErrNotCanonical
	})
}

// Decoder reads the canonical form of JSON values from a byte slice, for
// the decoders of other packages' messages (internal/dnproto); every
// method answers ErrNotCanonical for what it does not read, and the caller
// then decodes the whole input with encoding/json.
type Decoder struct {
	b []byte
	i int
}

func (d *Decoder) ws() {
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
func (d *Decoder) next(c byte) bool {
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
func (d *Decoder) Object(field func(key []byte) error) error {
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
func (d *Decoder) Array(elem func() error) error {
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
func (d *Decoder) raw() ([]byte, error) {
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

func (d *Decoder) String(s *string) error {
	d.ws()
	b, err := d.raw()
	if err != nil {
		return err
	}
	*s = string(b)
	return nil
}

func (d *Decoder) Bool(b *bool) error {
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

func (d *Decoder) lit(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// Int64 reads an integer: an optional minus, then 0 or digits not
// starting with 0; a fraction, an exponent or an overflow is left to
// encoding/json (which refuses them for an integer field).
func (d *Decoder) Int64(n *int64) error {
	num, err := d.integer(true)
	if err != nil {
		return err
	}
	v, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return ErrNotCanonical
	}
	*n = v
	return nil
}

// Uint64 reads an integer of no sign, as Int64 reads one.
func (d *Decoder) Uint64(n *uint64) error {
	num, err := d.integer(false)
	if err != nil {
		return err
	}
	v, err := strconv.ParseUint(string(num), 10, 64)
	if err != nil {
		return ErrNotCanonical
	}
	*n = v
	return nil
}

// integer reads the bytes of an integer, with a minus first if signed.
func (d *Decoder) integer(signed bool) ([]byte, error) {
	d.ws()
	start := d.i
	if signed && d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == digits || d.b[digits] == '0' && d.i-digits > 1 {
		return nil, ErrNotCanonical
	}
	if d.i < len(d.b) {
		switch d.b[d.i] {
		case '.', 'e', 'E':
			return nil, ErrNotCanonical
		}
	}
	return d.b[start:d.i], nil
}

func (d *Decoder) Int(n *int) error {
	var v int64
	if err := d.Int64(&v); err != nil {
		return err
	}
	if int64(int(v)) != v {
		return ErrNotCanonical
	}
	*n = int(v)
	return nil
}
