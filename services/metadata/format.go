package metadata

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/granary-fs/granary/services/metadata/internal/namespace"
	"github.com/granary-fs/granary/services/metadata/internal/store"
)

// GenClusterID returns a new cluster ID, CID-<uuid>, as HDFS's genclusterid.
func GenClusterID() string { return "CID-" + uuid.NewString() }

// newBlockPoolID returns BP-<rand>-<ip>-<ctime>, as HDFS.
func newBlockPoolID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := binary.BigEndian.Uint32(b[:]) & 0x7fffffff
	return fmt.Sprintf("BP-%d-%s-%d", r, localIP(), now.UnixMilli())
}

func localIP() string {
	host, _ := os.Hostname()
	if addrs, err := net.LookupIP(host); err == nil {
		for _, a := range addrs {
			if v4 := a.To4(); v4 != nil && !v4.IsLoopback() {
				return v4.String()
			}
		}
	}
	return "127.0.0.1"
}

// FormatOptions are the options of `granary metadata format`.
type FormatOptions struct {
	ClusterID string // empty: a new one
	Force     bool
}

// Format creates (or, with Force, re-creates) the namespace in the database
// at cfg.DatabaseURL: the schema, the identity and an empty image at txid 0
// whose root is owned by the superuser.
func Format(ctx context.Context, cfg Config, opts FormatOptions) (store.NamespaceInfo, error) {
	cfg.Defaults()
	st, err := store.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return store.NamespaceInfo{}, err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return store.NamespaceInfo{}, err
	}
	now := time.Now()
	ni := store.NamespaceInfo{
		ClusterID: opts.ClusterID, BlockPoolID: newBlockPoolID(now),
		LayoutVersion: store.LayoutVersion, CTime: now.UnixMilli(),
	}
	if ni.ClusterID == "" {
		ni.ClusterID = GenClusterID()
	}
	var nid [4]byte
	_, _ = rand.Read(nid[:])
	ni.NamespaceID = int64(binary.BigEndian.Uint32(nid[:]) & 0x7fffffff)
	ns := namespace.New(namespace.Config{Superuser: cfg.Superuser, Supergroup: cfg.Supergroup})
	var buf bytes.Buffer
	inodes, err := ns.WriteImage(&buf)
	if err != nil {
		return ni, err
	}
	if err := st.Format(ctx, ni, buf.Bytes(), inodes, opts.Force); err != nil {
		return ni, err
	}
	return ni, nil
}

// LayoutVersion is the metadata layout version this build writes.
const LayoutVersion = store.LayoutVersion

// Migrate applies the database migrations at cfg.DatabaseURL.
func Migrate(ctx context.Context, cfg Config) error {
	st, err := store.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Migrate(ctx)
}

// IsFormatted reports whether the database at cfg.DatabaseURL holds a
// formatted namespace.
func IsFormatted(ctx context.Context, cfg Config) (bool, error) {
	st, err := store.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return false, err
	}
	defer st.Close()
	_, err = st.LoadInfo(ctx)
	if errors.Is(err, store.ErrNotFormatted) {
		return false, nil
	}
	return err == nil, err
}

// RedactURL returns a database URL without its password, for logs.
func RedactURL(url string) string { return store.Redacted(url) }
