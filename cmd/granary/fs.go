package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/errs"
)

// fsSynopses are the commands as Hadoop's FsShell lists them.
var fsSynopses = []string{
	"-appendToFile <localsrc>... <dst>",
	"-cat <src>...",
	"-checksum <src>...",
	"-chmod [-R] <MODE[,MODE]... | OCTALMODE> <path>...",
	"-chown [-R] [OWNER][:[GROUP]] <path>...",
	"-concat <target path> <src path> <src path>...",
	"-copyFromLocal [-f] [-d] <localsrc>... <dst>",
	"-copyToLocal <src> <localdst>",
	"-count [-q] [-h] [-v] <path>...",
	"-cp [-f] [-p] <src>... <dst>",
	"-df [-h] [<path>...]",
	"-du [-s] [-h] <path>...",
	"-expunge",
	"-find <path>... [-name <pattern> | -iname <pattern>] [-print | -print0]",
	"-get <src> <localdst>",
	"-getmerge [-nl] <src> <localdst>",
	"-head <file>",
	"-help [cmd]",
	"-ls [-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u] [<path>...]",
	"-mkdir [-p] <path>...",
	"-moveFromLocal [-f] [-d] <localsrc>... <dst>",
	"-moveToLocal <src> <localdst>",
	"-mv <src>... <dst>",
	"-put [-f] [-d] <localsrc>... <dst>",
	"-rm [-f] [-r|-R] [-skipTrash] <src>...",
	"-rmdir [--ignore-fail-on-non-empty] <dir>...",
	"-setrep [-R] [-w] <rep> <path>...",
	"-stat [format] <path>...",
	"-tail [-f] [-s <sleep interval>] <file>",
	"-test -[defsz] <path>",
	"-text <src>...",
	"-touchz <path>...",
	"-truncate [-w] <length> <path>...",
	"-usage [cmd]",
}

// fsUsage is the command list, as `hadoop fs` prints it.
var fsUsage = func() string {
	var b strings.Builder
	b.WriteString("Usage: granary fs [generic options]\n")
	for _, c := range fsSynopses {
		b.WriteString("\t[" + c + "]\n")
	}
	b.WriteString(`Generic options: -fs <hdfs://host:port | webhdfs://host:port | http://host:port>
  (the port defaults to 9870), -D key=value (fs.defaultFS, user.name, dfs.client.*,
  and for an HA nameservice hdfs://ns1: dfs.ha.namenodes.ns1, dfs.namenode.http-address.ns1.<id>).
Paths are absolute, URIs of the same cluster, or relative to /user/<you>.`)
	return b.String()
}()

// commandUsage prints one command's synopsis, as Hadoop's -usage <cmd> and
// -help <cmd> do.
func commandUsage(cmd string, stdout, stderr io.Writer) int {
	cmd = "-" + strings.TrimPrefix(cmd, "-")
	for _, c := range fsSynopses {
		if c == cmd || strings.HasPrefix(c, cmd+" ") {
			fmt.Fprintf(stdout, "Usage: granary fs [generic options] %s\n", c)
			return 0
		}
	}
	fmt.Fprintf(stderr, "%s: No such command\n", cmd)
	return 1
}

// fsCmd is `granary fs`, HDFS's `hdfs dfs`: same commands, same output.
func fsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	base := env("GRANARY_METADATA_URL", "http://localhost:9870")
	// Hadoop's configuration ($HADOOP_CONF_DIR's core-site.xml and
	// hdfs-site.xml, -conf FILE) and generic options: -fs URL and
	// -D key=value (keys this client has no use for are ignored, as
	// Hadoop's configuration does).
	hc, args, err := clientConf(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	if err := checkAuth(hc); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	conf := hc.Map()
	if v, ok := conf["fs.defaultFS"]; ok {
		base = v
	}
	// -fs may list the metadata services of an HA nameservice, comma
	// separated, or name one configured as Hadoop's client does
	// (hdfs://ns1 with dfs.ha.namenodes.ns1 and
	// dfs.namenode.http-address.ns1.<id>): the client fails over between
	// them; paths are shown and checked against the first.
	bases, logical, err := metadataBases(base, conf)
	if err != nil {
		fmt.Fprintf(stderr, "-fs %v\n", err)
		return 2
	}
	base = bases[0]
	if len(args) == 0 {
		fmt.Fprintln(stderr, fsUsage)
		return 2
	}
	switch args[0] {
	case "--help", "-h", "-help", "-usage":
		if len(args) > 1 {
			return commandUsage(args[1], stdout, stderr)
		}
		fmt.Fprintln(stdout, fsUsage)
		return 0
	}
	userName := cmp.Or(conf["user.name"], currentUser())
	c := client.New(strings.Join(bases, ","), userName)
	if err := withCredentials(c, bases, logical); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	c.UseDatanodeHostname = cmp.Or(conf["dfs.client.use.datanode.hostname"], os.Getenv("GRANARY_USE_DATANODE_HOSTNAME")) == "true"
	c.ReplaceDatanodeOnFailure = strings.ToUpper(conf["dfs.client.block.write.replace-datanode-on-failure.policy"])
	if conf["dfs.client.block.write.replace-datanode-on-failure.enable"] == "false" {
		c.ReplaceDatanodeOnFailure = "NEVER"
	}
	c.ReplaceDatanodeBestEffort = conf["dfs.client.block.write.replace-datanode-on-failure.best-effort"] == "true"
	if c.SocketTimeout, _, err = hc.Duration("dfs.client.socket-timeout", time.Millisecond); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	sh := &shell{c: c, ctx: ctx, out: stdout, errw: stderr, cmd: strings.TrimPrefix(args[0], "-"), base: base, logical: logical, typed: map[string]string{}}
	if sh.create, err = createDefaults(hc); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	if sh.trashInterval, _, err = hc.Duration("fs.trash.interval", time.Minute); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	return sh.run(args[0], args[1:])
}

type shell struct {
	c       *client.Client
	base    string // the metadata service's URL
	logical string // the HA nameservice -fs named (hdfs://ns1), if any
	// typed maps an operand resolved to an absolute path back to the form
	// it was typed in (relative, or a URI), so that output names paths as
	// Hadoop's shell does: as the user typed them.
	typed map[string]string
	ctx   context.Context
	out   io.Writer
	errw  io.Writer
	cmd   string
	ls    lsWidths
	// create holds the files' replication and block size from
	// dfs.replication and dfs.blocksize (0: the service's defaults).
	create client.CreateOptions
	// trashInterval is the client's fs.trash.interval, used when the
	// service has none (as Hadoop's TrashPolicyDefault).
	trashInterval time.Duration
}

// lsWidths are -ls's column widths, grown with every listing as Hadoop's
// Ls does (replication 3 and size 10 at least).
type lsWidths struct{ repl, owner, group, size int }

// shown is p as the user typed it: an absolute path under a relative (or
// URI) operand is named from that operand.
func (s *shell) shown(p string) string {
	best := ""
	for abs := range s.typed {
		if (p == abs || strings.HasPrefix(p, abs+"/") || abs == "/") && len(abs) > len(best) {
			best = abs
		}
	}
	if best == "" {
		return p
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(p, best), "/")
	switch typed := s.typed[best]; {
	case rest == "":
		return typed
	case typed == "":
		return rest
	default:
		return typed + "/" + rest
	}
}

// fail prints an error the way hdfs dfs does and returns exit status 1.
func (s *shell) fail(p string, err error) int {
	p = s.shown(p)
	msg := err.Error()
	switch {
	case errs.Is(err, errs.FileNotFound):
		msg = fmt.Sprintf("`%s': No such file or directory", p)
	case errs.Is(err, errs.FileAlreadyExists):
		msg = fmt.Sprintf("`%s': File exists", p)
	case errs.Is(err, errs.PathIsNotEmptyDirectory):
		msg = fmt.Sprintf("`%s': Directory is not empty", p)
	}
	fmt.Fprintf(s.errw, "%s: %s\n", s.cmd, msg)
	return 1
}

// flags splits leading single-letter flags from operands.
func flags(args []string, allowed string) (map[byte]bool, []string, error) {
	set := map[byte]bool{}
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && len(args[0]) > 1 {
		if args[0] == "--ignore-fail-on-non-empty" && strings.Contains(allowed, "I") {
			set['I'], args = true, args[1:]
			continue
		}
		for _, f := range []byte(args[0][1:]) {
			if !strings.ContainsRune(allowed, rune(f)) {
				if args[0] == "-skipTrash" && strings.Contains(allowed, "T") {
					set['T'] = true
					break
				}
				return nil, nil, fmt.Errorf("Illegal option %s", args[0])
			}
			set[f] = true
		}
		args = args[1:]
	}
	return set, args, nil
}

func (s *shell) run(command string, args []string) int {
	type handler struct {
		flags   string
		minArgs int
		fn      func(f map[byte]bool, args []string) int
		paths   operands // which operands are cluster paths
	}
	cmds := map[string]handler{
		"-ls": {"CdhqRrStu", 0, s.lsCmd, allPaths}, "-mkdir": {"p", 1, s.mkdir, allPaths},
		"-put": {"fd", 2, s.put, lastPath}, "-copyFromLocal": {"fd", 2, s.put, lastPath},
		"-get": {"", 2, s.get, allButLast}, "-copyToLocal": {"", 2, s.get, allButLast},
		"-cat": {"", 1, s.cat, allPaths}, "-text": {"", 1, s.cat, allPaths},
		"-rm": {"rRfT", 1, s.rm, allPaths}, "-mv": {"", 2, s.mv, allPaths}, "-du": {"sh", 0, s.du, allPaths},
		"-count": {"hqv", 1, s.count, allPaths}, "-stat": {"", 1, s.stat, statPaths}, "-checksum": {"", 1, s.checksum, allPaths},
		"-setrep": {"Rw", 2, s.setrep, allButFirst}, "-chmod": {"R", 2, s.chmod, allButFirst}, "-chown": {"R", 2, s.chown, allButFirst},
		"-touchz": {"", 1, s.touchz, allPaths}, "-tail": {"fs", 1, s.tail, lastPath},
		"-appendToFile": {"", 2, s.appendToFile, lastPath}, "-test": {"defsz", 1, s.test, allPaths},
		"-cp": {"fp", 2, s.cp, allPaths}, "-head": {"", 1, s.head, allPaths}, "-truncate": {"w", 2, s.truncate, allButFirst},
		"-concat": {"", 2, s.concat, allPaths}, "-getmerge": {"nl", 2, s.getmerge, allButLast},
		"-moveFromLocal": {"fd", 2, s.moveFromLocal, lastPath}, "-moveToLocal": {"", 0, s.moveToLocal, noPaths},
		"-rmdir": {"I", 1, s.rmdir, allPaths}, "-find": {"", 0, s.find, noPaths}, "-df": {"h", 0, s.df, allPaths},
		"-expunge": {"", 0, s.expunge, noPaths},
	}
	h, ok := cmds[command]
	if !ok {
		fmt.Fprintf(s.errw, "%s: Unknown command\n%s\n", command, fsUsage)
		return 1
	}
	f, operands, err := flags(args, h.flags)
	if err != nil || len(operands) < h.minArgs {
		if err == nil {
			err = errors.New("Not enough arguments")
		}
		fmt.Fprintf(s.errw, "%s: %v\nUsage: granary fs [%s ...]\n", s.cmd, err, command)
		return 2
	}
	for i := range operands {
		if !h.paths(i, len(operands), operands[i]) {
			continue
		}
		p, err := resolve(s.base, s.logical, s.c.User(), operands[i])
		if err != nil {
			fmt.Fprintf(s.errw, "%s: %v\n", s.cmd, err)
			return 1
		}
		if p != operands[i] {
			s.typed[p] = strings.TrimSuffix(operands[i], "/")
		}
		operands[i] = p
	}
	return h.fn(f, operands)
}

// operands tells which of a command's operands are cluster paths (the
// others are local files, modes, owners or counts).
type operands func(i, n int, arg string) bool

var (
	allPaths    operands = func(int, int, string) bool { return true }
	lastPath    operands = func(i, n int, _ string) bool { return i == n-1 }
	allButLast  operands = func(i, n int, _ string) bool { return i < n-1 }
	allButFirst operands = func(i, _ int, _ string) bool { return i > 0 }
	noPaths     operands = func(int, int, string) bool { return false }
	// -stat [format] <path>...: a first operand with a % is the format.
	statPaths operands = func(i, n int, arg string) bool { return i > 0 || !strings.Contains(arg, "%") || n == 1 }
)

func modeString(st api.FileStatus) string {
	m, _ := strconv.ParseUint(st.Permission, 8, 16)
	b := []byte("-rwxrwxrwx")
	if st.Type == "DIRECTORY" {
		b[0] = 'd'
	}
	for i := 0; i < 9; i++ {
		if m&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	if m&0o1000 != 0 {
		if b[9] == 'x' {
			b[9] = 't'
		} else {
			b[9] = 'T'
		}
	}
	return string(b)
}

// humanSize is TraditionalBinaryPrefix.long2String as -h prints it.
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	units := "KMGTPE"
	v := float64(n)
	i := -1
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + string(units[i])
}

// lsCmd is Hadoop's -ls [-C] [-d] [-h] [-q] [-R] [-t] [-S] [-r] [-u]
// [<path> ...]: -C paths only, -d directories as plain entries, -h human
// sizes, -q ? for non-printable characters, -R recursive, -t by time
// (newest first), -S by size (largest first), -r reversed, -u access time
// instead of modification time.
func (s *shell) lsCmd(f map[byte]bool, args []string) int {
	if len(args) == 0 {
		home := "/user/" + s.c.User()
		args, s.typed[home] = []string{home}, "" // listed by bare names, as Hadoop's
	}
	rc := 0
	for _, p := range args {
		st, err := s.c.Stat(s.ctx, p)
		if err != nil {
			rc = s.fail(p, err)
			continue
		}
		if st.Type != "DIRECTORY" || f['d'] {
			st.PathSuffix = s.shown(p)
			s.printLs([]api.FileStatus{st}, "", f)
			continue
		}
		if err := s.lsDir(p, f); err != nil {
			rc = s.fail(p, err)
		}
	}
	return rc
}

func (s *shell) lsDir(p string, f map[byte]bool) error {
	list, err := s.c.List(s.ctx, p)
	if err != nil {
		return err
	}
	sortLs(list, f)
	if !f['R'] && !f['C'] && len(list) > 0 { // Hadoop prints no header for an empty directory
		fmt.Fprintf(s.out, "Found %d items\n", len(list))
	}
	s.adjustLs(list)
	for _, st := range list {
		s.printLs([]api.FileStatus{st}, p, f)
		if f['R'] && st.Type == "DIRECTORY" {
			if err := s.lsDir(path.Join(p, st.PathSuffix), f); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortLs orders a listing as Ls: by name, or -t by time and -S by size
// (newest, largest first), -r reversed.
func sortLs(list []api.FileStatus, f map[byte]bool) {
	key := func(st api.FileStatus) int64 {
		switch {
		case f['t'] && f['u']:
			return st.AccessTime
		case f['t']:
			return st.ModificationTime
		case f['S']:
			return st.Length
		}
		return 0
	}
	slices.SortStableFunc(list, func(a, b api.FileStatus) int {
		c := cmp.Compare(key(b), key(a))
		if c == 0 {
			c = strings.Compare(a.PathSuffix, b.PathSuffix)
		}
		if f['r'] {
			c = -c
		}
		return c
	})
}

// adjustLs grows the column widths to fit list.
func (s *shell) adjustLs(list []api.FileStatus) {
	w := &s.ls
	w.repl, w.size = max(w.repl, 3), max(w.size, 10)
	for _, st := range list {
		w.repl = max(w.repl, len(strconv.Itoa(st.Replication)))
		w.size = max(w.size, len(strconv.FormatInt(st.Length, 10)))
		w.owner, w.group = max(w.owner, len(st.Owner)), max(w.group, len(st.Group))
	}
}

// printLs prints entries like hdfs dfs -ls, names under dir.
func (s *shell) printLs(list []api.FileStatus, dir string, f map[byte]bool) {
	s.adjustLs(list)
	for _, st := range list {
		name := st.PathSuffix
		if dir != "" {
			name = s.shown(path.Join(dir, st.PathSuffix))
		}
		if f['q'] {
			name = strings.Map(func(r rune) rune {
				if unicode.IsPrint(r) {
					return r
				}
				return '?'
			}, name)
		}
		if f['C'] {
			fmt.Fprintln(s.out, name)
			continue
		}
		repl := "-"
		if st.Type == "FILE" {
			repl = strconv.Itoa(st.Replication)
		}
		size := strconv.FormatInt(st.Length, 10)
		if f['h'] {
			size = humanSize(st.Length)
		}
		when := st.ModificationTime
		if f['u'] {
			when = st.AccessTime
		}
		t := time.UnixMilli(when).Format("2006-01-02 15:04")
		fmt.Fprintf(s.out, "%s %*s %-*s %-*s %*s %s %s\n", modeString(st), s.ls.repl, repl, s.ls.owner, st.Owner, s.ls.group, st.Group, s.ls.size, size, t, name)
	}
}

func (s *shell) mkdir(f map[byte]bool, args []string) int {
	rc := 0
	for _, p := range args {
		if !f['p'] {
			if _, err := s.c.Stat(s.ctx, p); err == nil {
				rc = s.fail(p, errs.E(errs.FileAlreadyExists, "%s", p))
				continue
			}
			if _, err := s.c.Stat(s.ctx, path.Dir(p)); err != nil {
				rc = s.fail(path.Dir(p), err)
				continue
			}
		}
		if err := s.c.Mkdirs(s.ctx, p, 0); err != nil {
			rc = s.fail(p, err)
		}
	}
	return rc
}

// target resolves the destination of a copy: into dst when it is a directory.
func (s *shell) target(src, dst string, many bool) string {
	if st, err := s.c.Stat(s.ctx, dst); (err == nil && st.Type == "DIRECTORY") || many {
		return path.Join(dst, filepath.Base(src))
	}
	return dst
}

func progress(size int64, what string, w io.Writer) (io.Writer, func()) {
	f, ok := w.(*os.File)
	if !ok || size < 8<<20 || !term.IsTerminal(int(f.Fd())) {
		return io.Discard, func() {}
	}
	bar := progressbar.NewOptions64(size, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	return bar, func() { _ = bar.Finish() }
}

func (s *shell) put(f map[byte]bool, args []string) int {
	srcs, dst := args[:len(args)-1], args[len(args)-1]
	rc := 0
	for _, src := range srcs {
		to := s.target(src, dst, len(srcs) > 1)
		if err := s.putOne(src, to, f['f'], false, f['d']); err != nil {
			rc = s.fail(to, err)
		}
	}
	return rc
}

// putOne copies src (- for standard input) to to. As Hadoop's shell, a new
// file is written as to._COPYING_ and renamed when complete, so nobody
// sees it half written (-d writes it in place).
func (s *shell) putOne(src, to string, overwrite, appendTo, direct bool) error {
	var in io.Reader = os.Stdin
	var size int64
	if src != "-" {
		fh, err := os.Open(src)
		if err != nil {
			return err
		}
		defer fh.Close()
		if fi, err := fh.Stat(); err == nil {
			size = fi.Size()
		}
		in = fh
	}
	if !overwrite && !appendTo {
		if _, err := s.c.Stat(s.ctx, to); err == nil {
			return errs.E(errs.FileAlreadyExists, "%s", to)
		}
	}
	var w io.WriteCloser
	var err error
	target := to
	switch {
	case appendTo:
		w, err = s.c.Append(s.ctx, to)
		if errs.Is(err, errs.FileNotFound) {
			w, err = s.c.Create(s.ctx, to, s.createOptions(false))
		}
	case direct:
		w, err = s.c.Create(s.ctx, to, s.createOptions(overwrite))
	default:
		target = to + "._COPYING_"
		w, err = s.c.Create(s.ctx, target, s.createOptions(true))
	}
	if err != nil {
		return err
	}
	bar, done := progress(size, "put "+path.Base(to), s.errw)
	_, err = io.Copy(io.MultiWriter(w, bar), in)
	done()
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if target == to {
		return err
	}
	if err == nil && overwrite {
		if _, derr := s.c.Delete(s.ctx, to, false); derr != nil && !errs.Is(derr, errs.FileNotFound) {
			err = derr
		}
	}
	if err == nil {
		var ok bool
		if ok, err = s.c.Rename(s.ctx, target, to); err == nil && !ok {
			err = errs.E(errs.FileAlreadyExists, "%s", to)
		}
	}
	if err != nil {
		_, _ = s.c.Delete(context.WithoutCancel(s.ctx), target, false)
	}
	return err
}

func (s *shell) get(_ map[byte]bool, args []string) int {
	src, dst := args[0], args[1]
	r, err := s.c.Open(s.ctx, src)
	if err != nil {
		return s.fail(src, err)
	}
	defer r.Close()
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		dst = filepath.Join(dst, path.Base(src))
	}
	if _, err := os.Stat(dst); err == nil {
		return s.fail(dst, errs.E(errs.FileAlreadyExists, "%s", dst))
	}
	tmp := dst + "._COPYING_"
	out, err := os.Create(tmp)
	if err != nil {
		return s.fail(dst, err)
	}
	bar, done := progress(r.Size(), "get "+path.Base(src), s.errw)
	_, err = io.Copy(io.MultiWriter(out, bar), r)
	done()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return s.fail(src, err)
	}
	return 0
}

// each runs fn on every path, printing each failure as hdfs dfs does; it
// returns the exit status.
func (s *shell) each(paths []string, fn func(p string) error) int {
	rc := 0
	for _, p := range paths {
		if err := fn(p); err != nil {
			rc = s.fail(p, err)
		}
	}
	return rc
}

// notDirectory refuses a directory where a file is needed, as Hadoop's
// shell: "`p': Is a directory".
func (s *shell) notDirectory(p string) error {
	st, err := s.c.Stat(s.ctx, p)
	if err == nil && st.Type == "DIRECTORY" {
		err = errs.E(errs.IO, "`%s': Is a directory", p)
	}
	return err
}

func (s *shell) cat(_ map[byte]bool, args []string) int {
	return s.each(args, func(p string) error {
		if err := s.notDirectory(p); err != nil {
			return err
		}
		r, err := s.c.Open(s.ctx, p)
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.Copy(s.out, r)
		return err
	})
}

// rm is Hadoop's -rm: with the service's fs.trash.interval set (and no
// -skipTrash) paths move to the user's trash, .Trash/Current/<path>, which
// the metadata service's emptier checkpoints and deletes later.
func (s *shell) rm(f map[byte]bool, args []string) int {
	rc := 0
	trash := false
	if !f['T'] {
		defaults, err := s.c.ServerDefaults(s.ctx)
		if err != nil {
			return s.fail(args[0], err)
		}
		trash = defaults.TrashInterval > 0 || s.trashInterval > 0
	}
	for _, p := range args {
		st, err := s.c.Stat(s.ctx, p)
		if err != nil {
			if !f['f'] {
				rc = s.fail(p, err)
			}
			continue
		}
		if st.Type == "DIRECTORY" && !f['r'] && !f['R'] {
			fmt.Fprintf(s.errw, "rm: `%s': Is a directory\n", p)
			rc = 1
			continue
		}
		if trash && !s.inTrash(p) {
			dst, err := s.moveToTrash(p)
			if err != nil {
				fmt.Fprintf(s.errw, "rm: Failed to move to trash: %s: %v. Consider using -skipTrash option\n", p, err)
				rc = 1
				continue
			}
			fmt.Fprintf(s.out, "Moved: '%s' to trash at: %s\n", p, dst)
			continue
		}
		ok, err := s.c.Delete(s.ctx, p, true)
		if err == nil && !ok {
			// The service deleted nothing (the root, say): Hadoop's
			// PathIOException, and no "Deleted".
			err = errs.E(errs.IO, "`%s': Input/output error", p)
		}
		if err != nil {
			rc = s.fail(p, err)
			continue
		}
		fmt.Fprintf(s.out, "Deleted %s\n", s.shown(p))
	}
	return rc
}

// trashCurrent is the user's trash directory of the moment.
func (s *shell) trashCurrent() string { return "/user/" + s.c.User() + "/.Trash/Current" }

// inTrash reports whether p is the user's trash or inside it: it is
// deleted for good.
func (s *shell) inTrash(p string) bool {
	root := path.Dir(s.trashCurrent())
	return p == root || strings.HasPrefix(p, root+"/")
}

// moveToTrash renames p to .Trash/Current/<p> (with the time in
// milliseconds appended when that name is taken, as TrashPolicyDefault).
func (s *shell) moveToTrash(p string) (string, error) {
	if home := path.Dir(path.Dir(s.trashCurrent())); p == "/" || p == home || strings.HasPrefix(home, p+"/") {
		return "", fmt.Errorf("Cannot move \"%s\" to the trash, as it contains the trash", p)
	}
	dst := path.Join(s.trashCurrent(), p)
	if err := s.c.Mkdirs(s.ctx, path.Dir(dst), 0o700); err != nil {
		return "", err
	}
	if _, err := s.c.Stat(s.ctx, dst); err == nil {
		dst += strconv.FormatInt(time.Now().UnixMilli(), 10)
	}
	ok, err := s.c.Rename(s.ctx, p, dst)
	if err == nil && !ok {
		err = fmt.Errorf("could not rename %s to %s", p, dst)
	}
	return dst, err
}

func (s *shell) mv(_ map[byte]bool, args []string) int {
	srcs, dst := args[:len(args)-1], args[len(args)-1]
	if len(srcs) > 1 {
		// Several sources need an existing directory, as Hadoop's.
		st, err := s.c.Stat(s.ctx, dst)
		if err == nil && st.Type != "DIRECTORY" {
			err = errs.E(errs.IO, "`%s': Is not a directory", dst)
		}
		if err != nil {
			return s.fail(dst, err)
		}
	}
	rc := 0
	for _, src := range srcs {
		to := s.target(src, dst, len(srcs) > 1)
		if _, err := s.c.Stat(s.ctx, src); err != nil {
			rc = s.fail(src, err)
			continue
		}
		if _, err := s.c.Stat(s.ctx, to); err == nil {
			rc = s.fail(to, errs.E(errs.FileAlreadyExists, "%s", to))
			continue
		}
		if _, err := s.c.Stat(s.ctx, path.Dir(to)); err != nil {
			rc = s.fail(to, err)
			continue
		}
		ok, err := s.c.Rename(s.ctx, src, to)
		if err == nil && !ok {
			err = fmt.Errorf("`%s': Input/output error", src)
		}
		if err != nil {
			rc = s.fail(src, err)
		}
	}
	return rc
}

func (s *shell) du(f map[byte]bool, args []string) int {
	if len(args) == 0 {
		args = []string{"/user/" + s.c.User()}
	}
	size := func(n int64) string {
		if f['h'] {
			return humanSize(n)
		}
		return strconv.FormatInt(n, 10)
	}
	rc := 0
	for _, p := range args {
		entries := []string{p}
		if !f['s'] {
			st, err := s.c.Stat(s.ctx, p)
			if err != nil {
				rc = s.fail(p, err)
				continue
			}
			if st.Type == "DIRECTORY" {
				list, err := s.c.List(s.ctx, p)
				if err != nil {
					rc = s.fail(p, err)
					continue
				}
				entries = entries[:0]
				for _, e := range list {
					entries = append(entries, path.Join(p, e.PathSuffix))
				}
			}
		}
		for _, e := range entries {
			cs, err := s.c.ContentSummary(s.ctx, e)
			if err != nil {
				rc = s.fail(e, err)
				continue
			}
			fmt.Fprintf(s.out, "%-10s %-10s %s\n", size(cs.Length), size(cs.SpaceConsumed), e)
		}
	}
	return rc
}

// count is Hadoop's -count [-q] [-h] [-v] <path>...: -v prints the header
// line first.
func (s *shell) count(f map[byte]bool, args []string) int {
	if f['v'] {
		if f['q'] {
			fmt.Fprintf(s.out, "%12s %15s %15s %15s ", "QUOTA", "REM_QUOTA", "SPACE_QUOTA", "REM_SPACE_QUOTA")
		}
		fmt.Fprintf(s.out, "%12s %12s %18s PATHNAME\n", "DIR_COUNT", "FILE_COUNT", "CONTENT_SIZE")
	}
	rc := 0
	for _, p := range args {
		cs, err := s.c.ContentSummary(s.ctx, p)
		if err != nil {
			rc = s.fail(p, err)
			continue
		}
		length := strconv.FormatInt(cs.Length, 10)
		if f['h'] {
			length = humanSize(cs.Length)
		}
		if f['q'] {
			q, sq := "none", "none"
			rq, rsq := "inf", "inf"
			if cs.Quota >= 0 {
				q, rq = strconv.FormatInt(cs.Quota, 10), strconv.FormatInt(cs.Quota-cs.DirectoryCount-cs.FileCount, 10)
			}
			if cs.SpaceQuota >= 0 {
				sq, rsq = strconv.FormatInt(cs.SpaceQuota, 10), strconv.FormatInt(cs.SpaceQuota-cs.SpaceConsumed, 10)
			}
			fmt.Fprintf(s.out, "%12s %15s %15s %15s ", q, rq, sq, rsq)
		}
		fmt.Fprintf(s.out, "%12d %12d %18s %s\n", cs.DirectoryCount, cs.FileCount, length, p)
	}
	return rc
}

func (s *shell) stat(_ map[byte]bool, args []string) int {
	format := "%y"
	if len(args) > 1 && strings.Contains(args[0], "%") {
		format, args = args[0], args[1:]
	}
	rc := 0
	for _, p := range args {
		st, err := s.c.Stat(s.ctx, p)
		if err != nil {
			rc = s.fail(p, err)
			continue
		}
		fmt.Fprintln(s.out, statFormat(format, p, st))
	}
	return rc
}

// statFormat expands hdfs dfs -stat's format: %b %F %g %n %o %r %u %y %Y %a %A.
func statFormat(format, p string, st api.FileStatus) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		switch format[i] {
		case 'b':
			b.WriteString(strconv.FormatInt(st.Length, 10))
		case 'F':
			if st.Type == "DIRECTORY" {
				b.WriteString("directory")
			} else {
				b.WriteString("regular file")
			}
		case 'g':
			b.WriteString(st.Group)
		case 'n':
			b.WriteString(path.Base(p))
		case 'o':
			b.WriteString(strconv.FormatInt(st.BlockSize, 10))
		case 'r':
			b.WriteString(strconv.Itoa(st.Replication))
		case 'u':
			b.WriteString(st.Owner)
		case 'a':
			b.WriteString(st.Permission)
		case 'A':
			b.WriteString(modeString(st))
		case 'y':
			b.WriteString(time.UnixMilli(st.ModificationTime).UTC().Format("2006-01-02 15:04:05"))
		case 'Y':
			b.WriteString(strconv.FormatInt(st.ModificationTime, 10))
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

func (s *shell) checksum(_ map[byte]bool, args []string) int {
	return s.each(args, func(p string) error {
		if err := s.notDirectory(p); err != nil {
			return err
		}
		sum, err := s.c.FileChecksum(s.ctx, p)
		if err == nil {
			fmt.Fprintf(s.out, "%s\t%s\t%s\n", p, sum.Algorithm, sum.Bytes)
		}
		return err
	})
}

// setrepWait is how often -setrep -w looks at the replicas again (10 s in
// Hadoop's SetReplication).
var setrepWait = 10 * time.Second

// setrep is Hadoop's -setrep [-R] [-w] <rep> <path>...: files get the new
// replication, directories their whole tree (-R is accepted and changes
// nothing); -w then waits until every block has exactly rep replicas.
func (s *shell) setrep(f map[byte]bool, args []string) int {
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		fmt.Fprintf(s.errw, "setrep: Illegal replication, a positive integer expected\n")
		return 1
	}
	var waitList []string
	apply := func(p string, st api.FileStatus) error {
		if st.Type == "DIRECTORY" {
			return nil
		}
		ok, err := s.c.SetReplication(s.ctx, p, n)
		if err == nil && !ok {
			err = fmt.Errorf("Could not set replication for: %s", p)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(s.out, "Replication %d set: %s\n", n, p)
		if f['w'] {
			waitList = append(waitList, p)
		}
		return nil
	}
	rc := s.each(args[1:], func(p string) error { return s.walk(p, true, apply) })
	return max(rc, s.each(waitList, func(p string) error { return s.waitReplication(p, n) }))
}

// waitReplication prints Hadoop's "Waiting for <path> ... done", a dot per
// look, until every block of p has exactly n replicas.
func (s *shell) waitReplication(p string, n int) error {
	fmt.Fprintf(s.out, "Waiting for %s ...", p)
	warned := false
	for {
		lbs, err := s.c.BlockLocations(s.ctx, p)
		if err != nil {
			return err
		}
		done := true
		for _, b := range lbs.LocatedBlocks {
			if have := len(b.Locations); have != n {
				if !warned && have > n {
					fmt.Fprintln(s.out, "\nWARNING: the waiting time may be long for DECREASING the number of replications.")
					warned = true
				}
				done = false
				break
			}
		}
		if done {
			fmt.Fprintln(s.out, " done")
			return nil
		}
		fmt.Fprint(s.out, ".")
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-time.After(setrepWait):
		}
	}
}

// chmod is Hadoop's -chmod [-R] <MODE[,MODE]... | OCTALMODE> <path>...
func (s *shell) chmod(f map[byte]bool, args []string) int {
	spec, ok := parseChmod(args[0])
	if !ok {
		fmt.Fprintf(s.errw, "chmod: chmod : mode '%s' does not match the expected pattern.\n", args[0])
		return 1
	}
	return s.each(args[1:], func(p string) error {
		return s.walk(p, f['R'], func(p string, st api.FileStatus) error {
			existing, _ := strconv.ParseUint(st.Permission, 8, 16)
			return s.c.SetPermission(s.ctx, p, uint16(spec.apply(int(existing), st.Type == "DIRECTORY")))
		})
	})
}

// walk calls fn on p and, with recursive, on everything under it.
func (s *shell) walk(p string, recursive bool, fn func(p string, st api.FileStatus) error) error {
	st, err := s.c.Stat(s.ctx, p)
	if err != nil {
		return err
	}
	if err := fn(p, st); err != nil {
		return err
	}
	if !recursive || st.Type != "DIRECTORY" {
		return nil
	}
	list, err := s.c.List(s.ctx, p)
	if err != nil {
		return err
	}
	for _, child := range list {
		if err := s.walk(path.Join(p, child.PathSuffix), true, fn); err != nil {
			return err
		}
	}
	return nil
}

// chmodSpec is a parsed mode, as Hadoop's ChmodParser: for the sticky bit,
// user, group and others, how (+, -, =) and which bits (r 4, w 2, x 1, X 8).
type chmodSpec struct {
	op   [4]byte
	bits [4]int
}

var (
	octalMode    = regexp.MustCompile(`^\s*\+?([01]?)([0-7]{3})\s*$`)
	symbolicMode = regexp.MustCompile(`^\s*([ugoa]*)([-+=]+)([rwxXt]+)\s*$`)
)

// parseChmod reads an octal ([01]?[0-7]{3}) or symbolic
// ([ugoa]*[+-=][rwxXt]+, comma separated) mode.
func parseChmod(mode string) (chmodSpec, bool) {
	c := chmodSpec{op: [4]byte{'+', '+', '+', '+'}}
	if m := octalMode.FindStringSubmatch(mode); m != nil {
		c.op = [4]byte{'=', '=', '=', '='}
		if m[1] != "" {
			c.bits[0] = int(m[1][0] - '0')
		}
		for i := range 3 {
			c.bits[i+1] = int(m[2][i] - '0')
		}
		return c, true
	}
	for _, part := range strings.Split(mode, ",") {
		m := symbolicMode.FindStringSubmatch(part)
		if m == nil {
			return c, false
		}
		op := m[2][len(m[2])-1]
		who := m[1]
		if strings.Trim(who, "a") == "" {
			who = "ugo"
		}
		bits, sticky := 0, 0
		for _, b := range m[3] {
			switch b {
			case 'r':
				bits |= 4
			case 'w':
				bits |= 2
			case 'x':
				bits |= 1
			case 'X':
				bits |= 8
			case 't':
				sticky = 1
			}
		}
		for i, w := range "ugo" {
			if strings.ContainsRune(who, w) {
				c.op[i+1], c.bits[i+1] = op, bits
			}
		}
		if strings.ContainsRune(who, 'o') {
			c.op[0], c.bits[0] = op, sticky
		}
	}
	return c, true
}

// apply computes the new mode of a path whose mode is existing; X sets x
// only on directories and on what some already may execute.
func (c chmodSpec) apply(existing int, dir bool) int {
	exeOK := dir || existing&0o111 != 0
	shifts := [4]int{9, 6, 3, 0}
	out := 0
	for i, sh := range shifts {
		cur := existing >> sh & 7
		if i == 0 {
			cur = existing >> 9 & 1
		}
		bits, capX := c.bits[i], c.bits[i]&8 != 0
		if capX {
			bits = bits&^8 | 1
		}
		switch c.op[i] {
		case '+':
			bits |= cur
		case '-':
			bits = ^bits & cur
		}
		if capX && !exeOK && bits&1 != 0 && cur&1 == 0 {
			bits &^= 1
		}
		out |= bits << sh
	}
	return out
}

// chown is Hadoop's -chown [-R] [OWNER][:[GROUP]] <path>...
func (s *shell) chown(f map[byte]bool, args []string) int {
	owner, group, _ := strings.Cut(args[0], ":")
	return s.each(args[1:], func(p string) error {
		return s.walk(p, f['R'], func(p string, _ api.FileStatus) error { return s.c.SetOwner(s.ctx, p, owner, group) })
	})
}

func (s *shell) touchz(_ map[byte]bool, args []string) int {
	rc := 0
	for _, p := range args {
		if st, err := s.c.Stat(s.ctx, p); err == nil {
			if st.Length != 0 {
				fmt.Fprintf(s.errw, "touchz: `%s': Not a zero-length file\n", p)
				rc = 1
			}
			continue
		}
		if _, err := s.c.Stat(s.ctx, path.Dir(p)); err != nil {
			rc = s.fail(p, err) // Hadoop's Touchz needs the parent
			continue
		}
		if err := s.c.Touch(s.ctx, p); err != nil {
			rc = s.fail(p, err)
		}
	}
	return rc
}

// tail is Hadoop's -tail [-f] [-s <sleep interval>] <file>: the last
// kilobyte, then with -f what is appended, every 5 s or -s milliseconds,
// until interrupted.
func (s *shell) tail(f map[byte]bool, args []string) int {
	delay := 5 * time.Second
	if f['s'] {
		ms, err := strconv.ParseInt(args[0], 10, 64)
		more, rest, ferr := flags(args[1:], "f")
		if err != nil || ferr != nil || len(rest) < 1 {
			fmt.Fprintf(s.errw, "%s: -s needs a sleep interval in milliseconds and a file\nUsage: granary fs [-tail [-f] [-s <sleep interval>] <file>]\n", s.cmd)
			return 2
		}
		if ms > 0 {
			delay = time.Duration(ms) * time.Millisecond
		}
		f['f'] = f['f'] || more['f']
		args = rest
	}
	p := args[0]
	st, err := s.c.Stat(s.ctx, p)
	if err == nil && st.Type == "DIRECTORY" {
		fmt.Fprintf(s.errw, "%s: `%s': Is a directory\n", s.cmd, p)
		return 1
	}
	offset := int64(-1024)
	for {
		if err == nil {
			offset, err = s.dumpFrom(p, offset)
		}
		if err != nil {
			return s.fail(p, err)
		}
		if !f['f'] {
			return 0
		}
		select {
		case <-s.ctx.Done():
			return 0
		case <-time.After(delay):
		}
	}
}

// dumpFrom copies path from offset (negative: from the end) to the output
// and returns where it stopped.
func (s *shell) dumpFrom(p string, offset int64) (int64, error) {
	r, err := s.c.Open(s.ctx, p)
	if err != nil {
		return offset, err
	}
	defer r.Close()
	size := r.Size()
	if offset > size {
		return size, nil
	}
	if offset < 0 {
		offset = max(size+offset, 0)
	}
	if _, err := r.Seek(offset, io.SeekStart); err != nil {
		return offset, err
	}
	n, err := io.Copy(s.out, r)
	return offset + n, err
}

func (s *shell) appendToFile(_ map[byte]bool, args []string) int {
	srcs, dst := args[:len(args)-1], args[len(args)-1]
	for _, src := range srcs {
		if err := s.putOne(src, dst, false, true, false); err != nil {
			return s.fail(dst, err)
		}
	}
	return 0
}

func (s *shell) test(f map[byte]bool, args []string) int {
	st, err := s.c.Stat(s.ctx, args[0])
	exists := err == nil
	if err != nil && !errs.Is(err, errs.FileNotFound) {
		return s.fail(args[0], err)
	}
	ok := exists
	switch {
	case f['d']:
		ok = exists && st.Type == "DIRECTORY"
	case f['f']:
		ok = exists && st.Type == "FILE"
	case f['s']:
		ok = exists && st.Length > 0
	case f['z']:
		ok = exists && st.Length == 0
	}
	if ok {
		return 0
	}
	return 1
}
