package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/hadoopconf"
)

// clientConf reads a client's Hadoop configuration: $HADOOP_CONF_DIR's
// core-site.xml and hdfs-site.xml, then Hadoop's generic options at the
// front of args — -conf FILE (repeatable), -D key=value (over the files,
// even a final key, as Hadoop's -D) and -fs URL (fs.defaultFS, under a -D
// of it, as Hadoop's GenericOptionsParser) — and returns the rest of args.
func clientConf(args []string, stderr io.Writer) (*hadoopconf.Conf, []string, error) {
	hc := hadoopconf.New()
	hc.Warn = func(m string) { fmt.Fprintf(stderr, "WARN conf.Configuration: %s\n", m) }
	if dir := os.Getenv("HADOOP_CONF_DIR"); dir != "" {
		for _, f := range hadoopconf.FilesIn(dir) {
			if err := hc.AddFile(f); err != nil {
				return nil, nil, err
			}
		}
	}
	var fsURL string
	for len(args) >= 2 {
		switch {
		case args[0] == "-fs":
			fsURL, args = args[1], args[2:]
			continue
		case args[0] == "-conf":
			if err := hc.AddFile(args[1]); err != nil {
				return nil, nil, err
			}
			args = args[2:]
			continue
		case args[0] == "-D" || strings.HasPrefix(args[0], "-D") && len(args[0]) > 2:
			kv := strings.TrimPrefix(args[0], "-D")
			args = args[1:]
			if kv == "" {
				kv, args = args[0], args[1:]
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, nil, fmt.Errorf("-D %s: expected key=value", kv)
			}
			hc.Set(k, v, hadoopconf.SourceCommandLine)
			continue
		}
		break
	}
	if fsURL != "" && hc.Source("fs.defaultFS") != hadoopconf.SourceCommandLine {
		hc.Set("fs.defaultFS", fsURL, hadoopconf.SourceCommandLine)
	}
	return hc, args, nil
}

// createDefaults reads the keys that shape the files a client writes:
// dfs.replication, dfs.blocksize (with Hadoop's size suffixes) and
// dfs.bytes-per-checksum (Granary's packets carry 512-byte chunks only).
func createDefaults(hc *hadoopconf.Conf) (client.CreateOptions, error) {
	var o client.CreateOptions
	if v, ok, err := hc.Get("dfs.replication"); err != nil {
		return o, err
	} else if ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 32767 {
			return o, fmt.Errorf("dfs.replication: %q is not a replication factor", v)
		}
		o.Replication = n
	}
	n, ok, err := hc.Bytes("dfs.blocksize")
	if err != nil {
		return o, err
	}
	if ok {
		o.BlockSize = n
	}
	if n, ok, err := hc.Bytes("dfs.bytes-per-checksum"); err != nil {
		return o, err
	} else if ok && n != 512 {
		return o, fmt.Errorf("dfs.bytes-per-checksum: %d is not supported: Granary checksums 512-byte chunks (CRC32C)", n)
	}
	return o, nil
}

// createOptions are the options of a file the shell creates.
func (s *shell) createOptions(overwrite bool) client.CreateOptions {
	o := s.create
	o.Overwrite = overwrite
	return o
}

// metadataURLs are the metadata services a configuration names, comma
// separated: fs.defaultFS (a list, or an HA nameservice's services through
// dfs.ha.namenodes.<ns>), or def (GRANARY_METADATA_URL's default) without
// it.
func metadataURLs(hc *hadoopconf.Conf, def string) (string, error) {
	conf := hc.Map()
	base, ok := conf["fs.defaultFS"]
	if !ok {
		return def, nil
	}
	bases, _, err := haBases(base, conf)
	if err != nil {
		return "", fmt.Errorf("fs.defaultFS %s: %w", base, err)
	}
	if bases == nil {
		for _, b := range strings.Split(base, ",") {
			u, err := fsBaseURL(strings.TrimSpace(b))
			if err != nil {
				return "", err
			}
			bases = append(bases, u)
		}
	}
	return strings.Join(bases, ","), nil
}
