package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/granary-fs/granary/api"
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
	bases, _, err := metadataBases(base, conf)
	if err != nil {
		return "", fmt.Errorf("fs.defaultFS %w", err)
	}
	return strings.Join(bases, ","), nil
}

// metadataBases are the metadata services a file system URI names: an HA
// nameservice's (hdfs://ns1 with dfs.ha.namenodes.ns1 and
// dfs.namenode.http-address.ns1.<id>, named logical), or each of a comma
// list.
func metadataBases(fsURI string, conf map[string]string) (bases []string, logical string, err error) {
	bases, logical, err = haBases(fsURI, conf)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", fsURI, err)
	}
	if bases != nil {
		return bases, logical, nil
	}
	for _, b := range strings.Split(fsURI, ",") {
		u, err := fsBaseURL(strings.TrimSpace(b))
		if err != nil {
			return nil, "", err
		}
		bases = append(bases, u)
	}
	return bases, "", nil
}

// confFiles adds a service's repeatable -conf FILE to fs.
func confFiles(fs *flag.FlagSet) *dirList {
	var files dirList
	fs.Var(&files, "conf", "a Hadoop configuration file (hdfs-site.xml's format; repeatable, a later file over an earlier one, all over $HADOOP_CONF_DIR's core-site.xml and hdfs-site.xml): every flag whose help names an HDFS key takes its value from that key unless the flag or its GRANARY_* variable is given")
	return &files
}

var (
	// hdfsKey is the HDFS key a flag's help starts with.
	hdfsKey = regexp.MustCompile(`^((?:dfs|hadoop|fs|io|ipc)\.[A-Za-z0-9._-]*[A-Za-z0-9])(?:[: ]|$)`)
	// envName is the GRANARY_* variable a flag's help names.
	envName = regexp.MustCompile(`\b(GRANARY_[A-Z0-9_]+)\b`)
	// secretFlag names the flags whose values /conf hides.
	secretFlag = regexp.MustCompile(`password|secret|token|database-url|nkey|key-file`)
)

// keyUnits are the units of the duration keys whose plain numbers are not
// seconds (hdfs-default.xml); keys ending in ms, Msec or millis are in
// milliseconds, fs.trash.interval in minutes.
var keyUnits = map[string]time.Duration{
	"dfs.namenode.heartbeat.recheck-interval":      time.Millisecond,
	"dfs.namenode.stale.datanode.interval":         time.Millisecond,
	"dfs.namenode.safemode.extension":              time.Millisecond,
	"dfs.namenode.delegation.key.update-interval":  time.Millisecond,
	"dfs.namenode.delegation.token.max-lifetime":   time.Millisecond,
	"dfs.namenode.delegation.token.renew-interval": time.Millisecond,
	"fs.trash.interval":                            time.Minute,
	"dfs.client.socket-timeout":                    time.Millisecond,
	"fs.trash.checkpoint.interval":                 time.Minute,
}

func unitOf(key string) time.Duration {
	if u, ok := keyUnits[key]; ok {
		return u
	}
	for _, s := range []string{".ms", "Msec", ".millis", "-ms"} {
		if strings.HasSuffix(key, s) {
			return time.Millisecond
		}
	}
	return time.Second
}

// applyConf gives the flags of fs that were not set on the command line
// nor through their GRANARY_* variable the values of the HDFS keys their
// help names, from files (Hadoop configuration files, in order), and
// returns the effective configuration with each value's source: flag >
// GRANARY_* variable > configuration file > default. Keys no flag names
// are ignored (debug).
func applyConf(fs *flag.FlagSet, files []string, log func(string)) ([]api.ConfProperty, error) {
	hc := hadoopconf.New()
	hc.Warn = log
	for _, f := range files {
		if err := hc.AddFile(f); err != nil {
			return nil, err
		}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	used := map[string]bool{}
	var props []api.ConfProperty
	var failed error
	fs.VisitAll(func(f *flag.Flag) {
		if failed != nil || f.Name == "conf" {
			return
		}
		key := ""
		if m := hdfsKey.FindStringSubmatch(f.Usage); m != nil {
			key = m[1]
		}
		env := ""
		if m := envName.FindStringSubmatch(f.Usage); m != nil {
			env = m[1]
		}
		source := hadoopconf.SourceDefault
		switch {
		case given[f.Name]:
			source = hadoopconf.SourceFlag
		case env != "" && os.Getenv(env) != "":
			source = hadoopconf.SourceEnv
		case key != "" && hc.Has(key):
			used[key] = true
			if err := setFromConf(fs, f, hc, key); err != nil {
				failed = fmt.Errorf("%s: %w", hc.Source(key), err)
				return
			}
			source = hc.Source(key)
		}
		name := key
		if name == "" {
			name = "-" + f.Name
		}
		value := f.Value.String()
		if secretFlag.MatchString(f.Name) && value != "" {
			value = "******"
		}
		props = append(props, api.ConfProperty{Key: name, Value: value, Resource: source})
	})
	if failed != nil {
		return nil, failed
	}
	for _, k := range hc.Keys() {
		if !used[k] {
			log(fmt.Sprintf("DEBUG %s (from %s) is not a key this service uses: ignored", k, hc.Source(k)))
		}
	}
	return props, nil
}

// setFromConf sets flag f from key's value, read as the flag's type:
// durations with Hadoop's suffixes or in the key's unit, int64 sizes with
// size suffixes, a data-dir list comma separated (file:// URIs allowed, as
// dfs.datanode.data.dir).
func setFromConf(fs *flag.FlagSet, f *flag.Flag, hc *hadoopconf.Conf, key string) error {
	v, _, err := hc.Get(key)
	if err != nil {
		return err
	}
	if list, ok := f.Value.(*dirList); ok {
		*list = nil
		for _, d := range strings.Split(v, ",") {
			d = strings.TrimSpace(d)
			prefix := ""
			if strings.HasPrefix(d, "[") {
				if i := strings.IndexByte(d, ']'); i > 0 {
					prefix, d = d[:i+1], d[i+1:]
				}
			}
			if d != "" {
				*list = append(*list, prefix+strings.TrimPrefix(d, "file://"))
			}
		}
		return nil
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			d, err := hadoopconf.ParseDuration(v, unitOf(key))
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			v = d.String()
		case int64:
			n, err := hadoopconf.ParseBytes(v)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			v = strconv.FormatInt(n, 10)
		}
	}
	if err := fs.Set(f.Name, v); err != nil {
		return fmt.Errorf("%s: %q: %w", key, v, err)
	}
	return nil
}

// parseServiceFlags parses a service's command line, then applies
// $HADOOP_CONF_DIR's core-site.xml and hdfs-site.xml and its -conf files,
// in that order (applyConf); it returns the effective configuration and
// the messages to log once the service's logger exists (logConf).
func parseServiceFlags(fs *flag.FlagSet, args []string) ([]api.ConfProperty, []string, error) {
	files := confFiles(fs)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	var all []string
	if dir := os.Getenv("HADOOP_CONF_DIR"); dir != "" {
		all = hadoopconf.FilesIn(dir)
	}
	all = append(all, *files...)
	var msgs []string
	props, err := applyConf(fs, all, func(m string) { msgs = append(msgs, m) })
	if err != nil {
		return nil, nil, usageError{err.Error()}
	}
	return props, msgs, nil
}

// logConf logs applyConf's messages: the ignored keys at debug level, the
// rest (Hadoop's final-override warning) as warnings.
func logConf(log *slog.Logger, msgs []string) {
	for _, m := range msgs {
		if d, ok := strings.CutPrefix(m, "DEBUG "); ok {
			log.Debug(d)
		} else {
			log.Warn(m)
		}
	}
}

// checkAuth applies a client's hadoop.security.authentication: simple
// (user.name is sent), or token, which needs a credential in the
// environment (GRANARY_TOKEN, a bearer JWT, GRANARY_DELEGATION_TOKEN or
// HADOOP_TOKEN_FILE_LOCATION).
func checkAuth(hc *hadoopconf.Conf) error {
	switch m := hc.Value("hadoop.security.authentication"); m {
	case "", "simple":
		return nil
	case "token":
		if os.Getenv("GRANARY_TOKEN") == "" && os.Getenv("GRANARY_DELEGATION_TOKEN") == "" && os.Getenv("HADOOP_TOKEN_FILE_LOCATION") == "" {
			return fmt.Errorf("hadoop.security.authentication is token (from %s): set GRANARY_TOKEN (a bearer JWT from the OpenID Connect issuer), GRANARY_DELEGATION_TOKEN or HADOOP_TOKEN_FILE_LOCATION", hc.Source("hadoop.security.authentication"))
		}
		return nil
	default:
		return fmt.Errorf("hadoop.security.authentication: %q is not supported: simple or token (docs/security.md)", m)
	}
}
