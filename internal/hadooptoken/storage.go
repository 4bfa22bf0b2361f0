package hadooptoken

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Credentials is org.apache.hadoop.security.Credentials: tokens and secret
// keys by alias, as a token storage file holds them (the file
// HADOOP_TOKEN_FILE_LOCATION names, `hdfs fetchdt` writes, `hadoop dtutil`
// reads and writes).
type Credentials struct {
	Tokens  []AliasedToken
	Secrets []Secret
}

// AliasedToken is a token under its alias (fetchdt uses the service).
type AliasedToken struct {
	Alias string
	Token Token
}

// Secret is a secret key under its alias.
type Secret struct {
	Alias string
	Value []byte
}

// storageMagic starts every token storage file.
const storageMagic = "HDTS"

// The storage versions: 0 is the Writable form (Credentials.write), which
// `hdfs fetchdt` still writes; 1 is a length-delimited CredentialsProto,
// Credentials.writeTokenStorageToStream's default.
const (
	StorageWritable byte = 0
	StorageProto    byte = 1
)

// MarshalStorage is Credentials.writeTokenStorageToStream with the format
// given (StorageWritable or StorageProto).
func (c Credentials) MarshalStorage(version byte) []byte {
	var w Writer
	w.buf.WriteString(storageMagic)
	w.Byte(version)
	if version == StorageWritable {
		w.VLong(int64(len(c.Tokens)))
		for _, t := range c.Tokens {
			w.Text(t.Alias)
			w.Bytes(t.Token.Identifier)
			w.Bytes(t.Token.Password)
			w.Text(t.Token.Kind)
			w.Text(t.Token.Service)
		}
		w.VLong(int64(len(c.Secrets)))
		for _, s := range c.Secrets {
			w.Text(s.Alias)
			w.Bytes(s.Value)
		}
		return w.Result()
	}
	// CredentialsProto { repeated CredentialsKVProto tokens = 1; secrets = 2 }
	// CredentialsKVProto { alias = 1; TokenProto token = 2; bytes secret = 3 }
	// TokenProto { identifier = 1; password = 2; kind = 3; service = 4 }
	var msg []byte
	for _, t := range c.Tokens {
		tok := protoField(nil, 1, t.Token.Identifier)
		tok = protoField(tok, 2, t.Token.Password)
		tok = protoField(tok, 3, []byte(t.Token.Kind))
		tok = protoField(tok, 4, []byte(t.Token.Service))
		kv := protoField(nil, 1, []byte(t.Alias))
		msg = protoField(msg, 1, protoField(kv, 2, tok))
	}
	for _, s := range c.Secrets {
		kv := protoField(nil, 1, []byte(s.Alias))
		msg = protoField(msg, 2, protoField(kv, 3, s.Value))
	}
	out := binary.AppendUvarint(w.Result(), uint64(len(msg)))
	return append(out, msg...)
}

// protoField appends a length-delimited protobuf field.
func protoField(dst []byte, num int, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(num)<<3|2)
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// UnmarshalStorage is Credentials.readTokenStorageStream: either version.
func UnmarshalStorage(b []byte) (Credentials, error) {
	if !bytes.HasPrefix(b, []byte(storageMagic)) {
		return Credentials{}, fmt.Errorf("%w: Bad header found in token storage.", ErrMalformed)
	}
	if len(b) < len(storageMagic)+1 {
		return Credentials{}, fmt.Errorf("%w: truncated token storage", ErrMalformed)
	}
	switch v := b[len(storageMagic)]; v {
	case StorageWritable:
		return unmarshalWritable(b[len(storageMagic)+1:])
	case StorageProto:
		return unmarshalProto(b[len(storageMagic)+1:])
	default:
		return Credentials{}, fmt.Errorf("%w: Unknown version %d in token storage.", ErrMalformed, v)
	}
}

func unmarshalWritable(b []byte) (Credentials, error) {
	var c Credentials
	r := NewReader(b)
	for n := r.length(); n > 0 && r.err == nil; n-- {
		t := AliasedToken{Alias: r.Text()}
		t.Token = Token{Identifier: r.Bytes(), Password: r.Bytes(), Kind: r.Text(), Service: r.Text()}
		c.Tokens = append(c.Tokens, t)
	}
	for n := r.length(); n > 0 && r.err == nil; n-- {
		c.Secrets = append(c.Secrets, Secret{Alias: r.Text(), Value: r.Bytes()})
	}
	return c, r.End()
}

func unmarshalProto(b []byte) (Credentials, error) {
	size, n := binary.Uvarint(b)
	if n <= 0 || size > uint64(len(b)-n) {
		return Credentials{}, fmt.Errorf("%w: truncated CredentialsProto", ErrMalformed)
	}
	var c Credentials
	err := protoFields(b[n:n+int(size)], func(num int, v []byte) error {
		var kv struct {
			alias, secret []byte
			token         []byte
			has           [4]bool
		}
		err := protoFields(v, func(num int, v []byte) error {
			switch num {
			case 1:
				kv.alias = v
			case 2:
				kv.token = v
			case 3:
				kv.secret = v
			}
			if num >= 1 && num <= 3 {
				kv.has[num] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !kv.has[1] {
			return fmt.Errorf("%w: CredentialsKVProto without an alias", ErrMalformed)
		}
		switch num {
		case 1:
			if !kv.has[2] {
				return fmt.Errorf("%w: token %q without a TokenProto", ErrMalformed, kv.alias)
			}
			tok, err := unmarshalTokenProto(kv.token)
			if err != nil {
				return err
			}
			c.Tokens = append(c.Tokens, AliasedToken{Alias: string(kv.alias), Token: tok})
		case 2:
			c.Secrets = append(c.Secrets, Secret{Alias: string(kv.alias), Value: bytes.Clone(kv.secret)})
		}
		return nil
	})
	return c, err
}

func unmarshalTokenProto(b []byte) (Token, error) {
	var t Token
	var has [5]bool
	err := protoFields(b, func(num int, v []byte) error {
		switch num {
		case 1:
			t.Identifier = bytes.Clone(v)
		case 2:
			t.Password = bytes.Clone(v)
		case 3:
			t.Kind = string(v)
		case 4:
			t.Service = string(v)
		}
		if num >= 1 && num <= 4 {
			has[num] = true
		}
		return nil
	})
	if err == nil && !(has[1] && has[2] && has[3] && has[4]) {
		err = fmt.Errorf("%w: TokenProto lacks a required field", ErrMalformed)
	}
	return t, err
}

// protoFields calls fn with every length-delimited field of a protobuf
// message and skips the others.
func protoFields(b []byte, fn func(num int, v []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: bad protobuf key", ErrMalformed)
		}
		b = b[n:]
		num := int(key >> 3)
		switch key & 7 {
		case 0: // varint
			if _, n = binary.Uvarint(b); n <= 0 {
				return fmt.Errorf("%w: bad protobuf varint", ErrMalformed)
			}
			b = b[n:]
		case 1: // 64-bit
			if len(b) < 8 {
				return fmt.Errorf("%w: truncated protobuf field", ErrMalformed)
			}
			b = b[8:]
		case 5: // 32-bit
			if len(b) < 4 {
				return fmt.Errorf("%w: truncated protobuf field", ErrMalformed)
			}
			b = b[4:]
		case 2:
			size, n := binary.Uvarint(b)
			if n <= 0 || size > uint64(len(b)-n) {
				return fmt.Errorf("%w: truncated protobuf field", ErrMalformed)
			}
			if err := fn(num, b[n:n+int(size)]); err != nil {
				return err
			}
			b = b[n+int(size):]
		default:
			return fmt.Errorf("%w: protobuf wire type %d", ErrMalformed, key&7)
		}
	}
	return nil
}
