// Package storage is a datanode's disks: HDFS's on-disk layout (VERSION
// files, block pool directories, finalized/subdirX/subdirY/blk_<id> with
// blk_<id>_<gs>.meta checksum files, rbw/ and tmp/), the volume scan at
// start-up into the replica map, round-robin volume choice and failed
// volumes. Everything a datanode knows is on its volumes: wiping the rest
// loses nothing. It imports no NATS or HTTP package.
package storage

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// LayoutVersion is DataNodeLayoutVersion's current value (the 32x32
// block-ID-based layout).
const LayoutVersion = -57

// Meta file header: version 1, checksum type CRC32C (2), 512 bytes per checksum.
const (
	MetaVersion      = 1
	ChecksumCRC32C   = 2
	BytesPerChecksum = 512
	MetaHeaderLen    = 7
)

// subdirs returns the finalized sub-directories of a block ID, as HDFS's
// DatanodeUtil.idToBlockDir.
func subdirs(id int64) string {
	return "subdir" + strconv.FormatInt((id>>16)&0x1F, 10) + string(filepath.Separator) + "subdir" + strconv.FormatInt((id>>8)&0x1F, 10)
}

// BlockFileName is blk_<id>.
func BlockFileName(id int64) string { return "blk_" + strconv.FormatInt(id, 10) }

// MetaFileName is blk_<id>_<genstamp>.meta.
func MetaFileName(id, gs int64) string {
	return "blk_" + strconv.FormatInt(id, 10) + "_" + strconv.FormatInt(gs, 10) + ".meta"
}

// parseBlockName parses blk_<id> (ok) or blk_<id>_<gs>.meta (meta).
func parseBlockName(name string) (id, gs int64, meta, ok bool) {
	rest, found := strings.CutPrefix(name, "blk_")
	if !found {
		return 0, 0, false, false
	}
	if m, isMeta := strings.CutSuffix(rest, ".meta"); isMeta {
		i := strings.LastIndexByte(m, '_')
		if i <= 0 {
			return 0, 0, false, false
		}
		id, err1 := strconv.ParseInt(m[:i], 10, 64)
		gs, err2 := strconv.ParseInt(m[i+1:], 10, 64)
		return id, gs, true, err1 == nil && err2 == nil
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, 0, false, err == nil
}

// properties is a Java properties file such as VERSION.
type properties map[string]string

func readProperties(path string) (properties, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := properties{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: malformed line %q", path, line)
		}
		p[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return p, sc.Err()
}

// write writes p atomically (temporary file, fsync, rename), keys sorted,
// with the date comment Java's Properties.store writes.
func (p properties) write(path string) error {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "#%s\n", time.Now().UTC().Format("Mon Jan 02 15:04:05 MST 2006"))
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, p[k])
	}
	return writeFileAtomic(path, []byte(b.String()))
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
