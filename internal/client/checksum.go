package client

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
)

// FileChecksum computes a file's MD5-of-MD5-of-CRC32C checksum exactly as
// HDFS's client does (FileChecksumHelper): each block's MD5 of its CRCs,
// from a datanode holding it, written into a DataOutputBuffer whose whole
// backing array (32 bytes, doubling) is hashed again.
func (c *Client) FileChecksum(ctx context.Context, path string) (api.FileChecksum, error) {
	lbs, err := c.blockLocations(ctx, path)
	if err != nil {
		return api.FileChecksum{}, err
	}
	if len(lbs.LocatedBlocks) == 0 || lbs.FileLength == 0 {
		return checksumValue(0, 0, "CRC32", md5.Sum(make([]byte, 32))), nil
	}
	var buf []byte
	var crcPerBlock int64
	for i, b := range lbs.LocatedBlocks {
		sum, err := c.blockChecksum(ctx, b)
		if err != nil {
			return api.FileChecksum{}, err
		}
		raw, err := hex.DecodeString(sum.MD5)
		if err != nil || len(raw) != md5.Size {
			return api.FileChecksum{}, errs.E(errs.IO, "bad block checksum %q from a datanode", sum.MD5)
		}
		buf = append(buf, raw...)
		if i == 0 && len(lbs.LocatedBlocks) > 1 {
			crcPerBlock = sum.CRCPerBlock
		}
	}
	// DataOutputBuffer.getData() returns the whole backing array.
	capacity := 32
	for capacity < len(buf) {
		capacity *= 2
	}
	padded := make([]byte, capacity)
	copy(padded, buf)
	return checksumValue(512, crcPerBlock, "CRC32C", md5.Sum(padded)), nil
}

func checksumValue(bytesPerCRC int32, crcPerBlock int64, crcType string, sum [16]byte) api.FileChecksum {
	b := binary.BigEndian.AppendUint32(nil, uint32(bytesPerCRC))
	b = binary.BigEndian.AppendUint64(b, uint64(crcPerBlock))
	b = append(b, sum[:]...)
	return api.FileChecksum{
		Algorithm: fmt.Sprintf("MD5-of-%dMD5-of-%d%s", crcPerBlock, bytesPerCRC, crcType),
		Bytes:     hex.EncodeToString(b), Length: len(b),
	}
}

func (c *Client) blockChecksum(ctx context.Context, b api.LocatedBlock) (api.BlockChecksum, error) {
	var last error = errs.E(errs.IO, "block %d has no replica", b.Block.BlockID)
	for _, loc := range b.Locations {
		var sum api.BlockChecksum
		u := fmt.Sprintf("%s://%s/api/v1/blocks/%d/checksum?bpid=%s", c.scheme, c.addr(loc), b.Block.BlockID, b.Block.BlockPoolID)
		if last = c.doBlock(ctx, u, b, &sum); last == nil {
			return sum, nil
		}
	}
	return api.BlockChecksum{}, last
}
