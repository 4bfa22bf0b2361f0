package client

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
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
			// A short or broken stream: this replica is done for.
			r.cur.Close()
			r.cur = nil
			r.bad[r.failedKey] = true
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

// openAt opens the block holding pos on the first replica that answers.
func (r *Reader) openAt(pos int64) error {
	for refreshed := false; ; refreshed = true {
		for _, b := range r.blocks {
			start, end := b.StartOffset, b.StartOffset+b.Block.NumBytes
			if pos < start || pos >= end {
				continue
			}
			for _, loc := range b.Locations {
				key := fmt.Sprintf("%d/%s", b.Block.BlockID, loc.UUID)
				if r.bad[key] {
					continue
				}
				body, err := r.c.getBlock(r.ctx, loc, b.Block, pos-start, end-pos)
				if err != nil {
					r.bad[key] = true
					continue
				}
				r.cur, r.curEnd, r.failedKey = body, end, key
				return nil
			}
		}
		if refreshed {
			return errs.E(errs.IO, "Could not obtain the block holding offset %d of %s from any replica", pos, r.path)
		}
		// Locations may have changed (re-replication): ask again once.
		lbs, err := r.c.blockLocations(r.ctx, r.path)
		if err != nil {
			return err
		}
		r.blocks = lbs.LocatedBlocks
		r.bad = map[string]bool{}
	}
}

// getBlock asks datanode d for length bytes of blk from offset; the body
// streams them, checksums verified by the datanode.
func (c *Client) getBlock(ctx context.Context, d api.DatanodeInfo, blk api.ExtendedBlock, offset, length int64) (io.ReadCloser, error) {
	u := fmt.Sprintf("http://%s/api/v1/blocks/%d?bpid=%s&offset=%d&length=%d", c.addr(d), blk.BlockID, blk.BlockPoolID, offset, length)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.data.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, remoteError(resp)
	}
	return resp.Body, nil
}

// readBlockRange reads length bytes of blk from offset on datanode d.
func (c *Client) readBlockRange(ctx context.Context, d api.DatanodeInfo, blk api.ExtendedBlock, offset, length int64) ([]byte, error) {
	body, err := c.getBlock(ctx, d, blk, offset, length)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	buf := make([]byte, length)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	return buf, nil
}
