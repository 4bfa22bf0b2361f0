package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// chunkSize is the size of one fsimage_chunk row.
const chunkSize = 4 << 20

// ImagesRetained is dfs.namenode.num.checkpoints.retained.
const ImagesRetained = 2

// DefaultExtraEditsRetained is dfs.namenode.num.extra.edits.retained's
// default: edits kept before the oldest retained image, for a standby or a
// recovery that lags behind it.
const DefaultExtraEditsRetained = 1_000_000

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ImageInfo describes a stored image.
type ImageInfo struct {
	TxID    int64
	Size    int64
	Inodes  int64
	Created time.Time // when it was saved: the checkpoint's age
}

func insertImage(ctx context.Context, tx pgx.Tx, txid int64, data []byte, inodes int64) error {
	sum := sha256.Sum256(data)
	n := (len(data) + chunkSize - 1) / chunkSize
	if _, err := tx.Exec(ctx, `INSERT INTO fsimage (txid, size, inodes, chunks, sha256) VALUES ($1, $2, $3, $4, $5)`,
		txid, len(data), inodes, n, sum[:]); err != nil {
		return err
	}
	rows := make([][]any, 0, n)
	for i := 0; i < n; i++ {
		c := data[i*chunkSize : min(len(data), (i+1)*chunkSize)]
		rows = append(rows, []any{txid, i, int32(crc32.Checksum(c, castagnoli)), c})
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"fsimage_chunk"}, []string{"txid", "seq", "crc", "data"}, pgx.CopyFromRows(rows))
	return err
}

// SaveImage stores a checkpoint at txid, then keeps only the newest
// ImagesRetained images and purges the edits no retained image needs but
// the ExtraEditsRetained before the oldest one (HDFS's
// NNStorageRetentionManager: edits from minImageTxId+1-extra stay).
func (s *Store) SaveImage(ctx context.Context, txid int64, data []byte, inodes int64) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM fsimage WHERE txid = $1)`, txid).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		if err := insertImage(ctx, tx, txid, data, inodes); err != nil {
			return err
		}
		// The image an upgrade in progress keeps for a rollback stays too.
		if _, err := tx.Exec(ctx, `DELETE FROM fsimage WHERE txid NOT IN (SELECT txid FROM fsimage ORDER BY txid DESC LIMIT $1)
			AND txid NOT IN (SELECT image_txid FROM upgrade_state)`, ImagesRetained); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM edit_log WHERE txid <= (SELECT min(txid) FROM fsimage) - $1`, s.ExtraEditsRetained)
		return err
	})
}

// Images lists the stored images, newest first.
func (s *Store) Images(ctx context.Context) ([]ImageInfo, error) {
	rows, err := s.Pool.Query(ctx, `SELECT txid, size, inodes, created_at FROM fsimage ORDER BY txid DESC`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ImageInfo, error) {
		var ii ImageInfo
		err := r.Scan(&ii.TxID, &ii.Size, &ii.Inodes, &ii.Created)
		return ii, err
	})
}

// ErrImageChecksum is returned when a stored image fails its checksums.
var ErrImageChecksum = errors.New("fsimage checksum mismatch")

// ReadImage reads and verifies the image at txid.
func (s *Store) ReadImage(ctx context.Context, txid int64) ([]byte, error) {
	im, err := s.StreamImage(ctx, txid)
	if err != nil {
		return nil, err
	}
	if err := im.Err(); err != nil {
		return nil, err
	}
	return im.Data(), nil
}

// ImageStream is an image being read from PostgreSQL into a buffer of its
// final size: Wait lets a loader decode what has arrived while the rest
// is read. Each chunk is checked against its CRC as it arrives and the
// whole against its SHA-256 at the end (Err).
type ImageStream struct {
	data   []byte
	mu     sync.Mutex
	cond   sync.Cond
	filled int
	done   bool
	err    error
}

// StreamImage starts reading the image at txid.
func (s *Store) StreamImage(ctx context.Context, txid int64) (*ImageStream, error) {
	var size int64
	var chunks int
	var want []byte
	if err := s.Pool.QueryRow(ctx, `SELECT size, chunks, sha256 FROM fsimage WHERE txid = $1`, txid).Scan(&size, &chunks, &want); err != nil {
		return nil, err
	}
	im := &ImageStream{data: make([]byte, size)}
	im.cond.L = &im.mu
	go func() { im.finish(im.read(ctx, s, txid, chunks, want)) }()
	return im, nil
}

// read copies the image's chunks into im.data in order, verifying them.
func (im *ImageStream) read(ctx context.Context, s *Store, txid int64, chunks int, want []byte) error {
	rows, err := s.Pool.Query(ctx, `SELECT seq, crc, data FROM fsimage_chunk WHERE txid = $1 ORDER BY seq`, txid)
	if err != nil {
		return err
	}
	defer rows.Close()
	sum := sha256.New()
	next := 0
	for rows.Next() {
		var seq int
		var crc int32
		var data []byte
		if err := rows.Scan(&seq, &crc, &data); err != nil {
			return err
		}
		if seq != next {
			return fmt.Errorf("%w: image %d is missing chunk %d", ErrImageChecksum, txid, next)
		}
		if int32(crc32.Checksum(data, castagnoli)) != crc {
			return fmt.Errorf("%w: image %d chunk %d", ErrImageChecksum, txid, seq)
		}
		if len(data) > len(im.data)-im.filled {
			return fmt.Errorf("%w: image %d is longer than its %d bytes", ErrImageChecksum, txid, len(im.data))
		}
		copy(im.data[im.filled:], data)
		sum.Write(data)
		im.mu.Lock()
		im.filled += len(data)
		im.cond.Broadcast()
		im.mu.Unlock()
		next++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if next != chunks || im.filled != len(im.data) {
		return fmt.Errorf("%w: image %d has %d of %d chunks", ErrImageChecksum, txid, next, chunks)
	}
	if !bytes.Equal(sum.Sum(nil), want) {
		return fmt.Errorf("%w: image %d sha256", ErrImageChecksum, txid)
	}
	return nil
}

func (im *ImageStream) finish(err error) {
	im.mu.Lock()
	im.done, im.err = true, err
	im.cond.Broadcast()
	im.mu.Unlock()
}

// Size is the image's size in bytes.
func (im *ImageStream) Size() int { return len(im.data) }

// Data is the image's buffer, of its final size; only what Wait
// confirmed is there may be read.
func (im *ImageStream) Data() []byte { return im.data }

// Wait waits until the image's first n bytes are there; it returns the
// read's error if it ended before.
func (im *ImageStream) Wait(n int) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	for im.filled < n && !im.done {
		im.cond.Wait()
	}
	if im.filled >= n {
		return nil
	}
	if im.err != nil {
		return im.err
	}
	return fmt.Errorf("%w: the image ended at byte %d of %d", ErrImageChecksum, im.filled, n)
}

// Err waits until the whole image is read and verified.
func (im *ImageStream) Err() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	for !im.done {
		im.cond.Wait()
	}
	return im.err
}
