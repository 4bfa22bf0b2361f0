package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/blocktoken"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/packet"
)

// Reader streams a file, block by block, from one replica at a time; a
// replica that fails (down, corrupt, short) is left for the next one at
// the same offset.
type Reader struct {
	c         *Client
	ctx       context.Context
	path      string
	blocks    []api.LocatedBlock
	length    int64
	pos       int64
	cur       io.ReadCloser
	curEnd    int64
	bad       map[string]bool // "blockID/uuid" that failed
	failedKey string          // the replica being read
	curBlock  api.LocatedBlock
	curNode   api.DatanodeInfo
}

// Open opens a file for reading.
func (c *Client) Open(ctx context.Context, path string) (*Reader, error) {
	lbs, err := c.blockLocations(ctx, path)
	if err != nil {
		return nil, err
	}
	return &Reader{c: c, ctx: ctx, path: path, blocks: lbs.LocatedBlocks, length: lbs.FileLength, bad: map[string]bool{}}, nil
}

// Size is the file's length.
func (r *Reader) Size() int64 { return r.length }

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	for {
		if r.pos >= r.length {
			return 0, io.EOF
		}
		if r.cur == nil {
			if err := r.openAt(r.pos); err != nil {
				return 0, err
			}
		}
		want := min(int64(len(p)), r.curEnd-r.pos)
		n, err := r.cur.Read(p[:want])
		r.pos += int64(n)
		if r.pos == r.curEnd {
			r.cur.Close()
			r.cur = nil
			return n, nil
		}
		if err != nil {
			// A short or broken stream: this replica is done for. One that
			// failed its checksums is reported, as HDFS's client does.
			r.cur.Close()
			r.cur = nil
			r.bad[r.failedKey] = true
			if errs.Is(err, errs.Checksum) {
				lb := r.curBlock
				lb.Locations = []api.DatanodeInfo{r.curNode}
				_ = r.c.do(r.ctx, http.MethodPost, r.c.native("reportBadBlocks"), api.ReportBadBlocksRequest{Blocks: []api.LocatedBlock{lb}}, nil)
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, nil
	}
}

// Seek implements io.Seeker.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = r.pos + offset
	case io.SeekEnd:
		pos = r.length + offset
	}
	if pos < 0 {
		return r.pos, errs.E(errs.IllegalArgument, "negative position %d", pos)
	}
	if r.cur != nil && pos != r.pos {
		r.cur.Close()
		r.cur = nil
	}
	r.pos = pos
	return pos, nil
}

// Close implements io.Closer.
func (r *Reader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}

// maxBlockAcquireFailures is dfs.client.max.block.acquire.failures: how
// many times the locations are fetched again when no replica of a block
// can be read.
const maxBlockAcquireFailures = 3

// openAt opens the block holding pos on the first replica that answers.
// When none does, the locations are fetched again, up to
// maxBlockAcquireFailures times after a growing wait (HDFS's
// DFSInputStream.chooseDataNode): re-replication, or a block whose new
// generation stamp (an append, a pipeline recovery) the coordinator has
// not heard of yet.
func (r *Reader) openAt(pos int64) error {
	var missing string // the block holding pos, as HDFS names it
	wait := 100 * time.Millisecond
	for failures := 0; ; failures++ {
		for _, b := range r.blocks {
			start, end := b.StartOffset, b.StartOffset+b.Block.NumBytes
			if pos < start || pos >= end {
				continue
			}
			missing = fmt.Sprintf("%s:blk_%d_%d", b.Block.BlockPoolID, b.Block.BlockID, b.Block.GenerationStamp)
			for _, loc := range b.Locations {
				key := fmt.Sprintf("%d/%s", b.Block.BlockID, loc.UUID)
				if r.bad[key] {
					continue
				}
				body, err := r.c.getBlock(r.ctx, loc, b, pos-start, end-pos)
				if err != nil {
					r.bad[key] = true
					continue
				}
				r.cur, r.curEnd, r.failedKey, r.curBlock, r.curNode = body, end, key, b, loc
				return nil
			}
		}
		if failures == maxBlockAcquireFailures {
			if missing == "" {
				return errs.E(errs.IO, "no block holds offset %d of %s", pos, r.path)
			}
			// HDFS's DFSInputStream: no replica could be read.
			return errs.E(errs.BlockMissing, "Could not obtain block: %s file=%s", missing, r.path)
		}
		if failures > 0 {
			select {
			case <-r.ctx.Done():
				return r.ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		lbs, err := r.c.blockLocations(r.ctx, r.path)
		if err != nil {
			return err
		}
		r.blocks = lbs.LocatedBlocks
		r.bad = map[string]bool{}
	}
}

// getBlock asks datanode d for length bytes of blk from offset. The
// datanode checks its checksums before sending and sends them along; the
// body checks them again as it streams the bytes (HDFS's end-to-end
// checksums): a mismatch is a read error, and the reader goes to another
// replica.
func (c *Client) getBlock(ctx context.Context, d api.DatanodeInfo, lb api.LocatedBlock, offset, length int64) (io.ReadCloser, error) {
	blk := lb.Block
	resp, err := c.blockCall(ctx, http.MethodGet, fmt.Sprintf("%s://%s/api/v1/blocks/%d?bpid=%s&offset=%d&length=%d",
		c.scheme, c.addr(d), blk.BlockID, blk.BlockPoolID, offset, length), "", nil, lb)
	if err != nil {
		return nil, err
	}
	if resp.Header.Get("Content-Type") != packet.ContentType {
		return resp.Body, nil
	}
	start, err := strconv.ParseInt(resp.Header.Get("X-Granary-Block-Offset"), 10, 64)
	if err != nil || start > offset || offset-start >= packet.ChunkSize {
		resp.Body.Close()
		return nil, errs.E(errs.IO, "datanode %s: bad X-Granary-Block-Offset %q for offset %d", d.IPAddr, resp.Header.Get("X-Granary-Block-Offset"), offset)
	}
	return &verifiedBody{body: resp.Body, pr: packet.NewReaderAt(resp.Body, start), skip: offset - start, left: length, pos: start}, nil
}

// verifiedBody streams the data of a packet stream, checking every chunk's
// CRC, without the bytes before the asked offset or after its length.
type verifiedBody struct {
	body       io.ReadCloser
	pr         *packet.Reader
	cur        []byte
	skip, left int64
	pos        int64 // block offset of the next packet
}

func (v *verifiedBody) Read(p []byte) (int, error) {
	for len(v.cur) == 0 {
		if v.left == 0 {
			return 0, io.EOF
		}
		data, crcs, _, err := v.pr.Next()
		if err == io.EOF {
			return 0, io.ErrUnexpectedEOF // the stream ended before the range
		}
		if err != nil {
			return 0, err
		}
		if bad := packet.Verify(data, crcs); bad >= 0 {
			return 0, errs.E(errs.Checksum, "Checksum error: block offset %d", v.pos+int64(bad*packet.ChunkSize))
		}
		v.pos += int64(len(data))
		k := min(v.skip, int64(len(data)))
		data, v.skip = data[k:], v.skip-k
		v.cur = data[:min(int64(len(data)), v.left)]
	}
	n := copy(p, v.cur)
	v.cur = v.cur[n:]
	v.left -= int64(n)
	return n, nil
}

// Close ends the stream; read whole, its end marker is consumed so that the
// connection can carry the next request.
func (v *verifiedBody) Close() error {
	if v.left == 0 && len(v.cur) == 0 {
		if _, _, _, err := v.pr.Next(); err == io.EOF {
			_, _ = io.CopyN(io.Discard, v.body, 1) // the body's own end
		}
	}
	v.pr.Release()
	return v.body.Close()
}

// ReadBlock reads length bytes of lb's block from offset, from the first
// of its locations that answers, checksums verified.
func (c *Client) ReadBlock(ctx context.Context, lb api.LocatedBlock, offset, length int64) ([]byte, error) {
	var last error = errs.E(errs.IO, "block %d has no live replica", lb.Block.BlockID)
	for _, d := range lb.Locations {
		body, err := c.getBlock(ctx, d, lb, offset, length)
		if err != nil {
			last = err
			continue
		}
		buf := make([]byte, length)
		_, err = io.ReadFull(body, buf)
		body.Close()
		if err == nil {
			return buf, nil
		}
		last = fmt.Errorf("reading block %d from %s: %w", lb.Block.BlockID, d.IPAddr, err)
	}
	return nil, last
}

// setBlockToken sends lb's block access token (token mode) with a block
// request.
func setBlockToken(req *http.Request, lb api.LocatedBlock) {
	if lb.BlockToken != nil && lb.BlockToken.URLString != "" {
		req.Header.Set(blocktoken.Header, lb.BlockToken.URLString)
	}
}
