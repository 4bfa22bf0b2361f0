package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
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
	var size int64
	var chunks int
	var want []byte
	if err := s.Pool.QueryRow(ctx, `SELECT size, chunks, sha256 FROM fsimage WHERE txid = $1`, txid).Scan(&size, &chunks, &want); err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	rows, err := s.Pool.Query(ctx, `SELECT seq, crc, data FROM fsimage_chunk WHERE txid = $1 ORDER BY seq`, txid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	next := 0
	for rows.Next() {
		var seq int
		var crc int32
		var data []byte
		if err := rows.Scan(&seq, &crc, &data); err != nil {
			return nil, err
		}
		if seq != next {
			return nil, fmt.Errorf("%w: image %d is missing chunk %d", ErrImageChecksum, txid, next)
		}
		if int32(crc32.Checksum(data, castagnoli)) != crc {
			return nil, fmt.Errorf("%w: image %d chunk %d", ErrImageChecksum, txid, seq)
		}
		buf.Write(data)
		next++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if next != chunks || int64(buf.Len()) != size {
		return nil, fmt.Errorf("%w: image %d has %d of %d chunks", ErrImageChecksum, txid, next, chunks)
	}
	if sum := sha256.Sum256(buf.Bytes()); !bytes.Equal(sum[:], want) {
		return nil, fmt.Errorf("%w: image %d sha256", ErrImageChecksum, txid)
	}
	return buf.Bytes(), nil
}
