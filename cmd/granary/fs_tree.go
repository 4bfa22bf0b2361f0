package main

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/rest"
)

// The commands of hdfs dfs over directories and the file system: -rmdir,
// -find, -df, -expunge.

// rmdir is Hadoop's -rmdir [--ignore-fail-on-non-empty] <dir>...
func (s *shell) rmdir(f map[byte]bool, args []string) int {
	return s.each(args, func(p string) error {
		st, err := s.c.Stat(s.ctx, p)
		if err != nil {
			return err
		}
		if st.Type != "DIRECTORY" {
			return errs.E(errs.IO, "`%s': Is not a directory", p)
		}
		if st.ChildrenNum > 0 {
			if f['I'] {
				return nil
			}
			return errs.E(errs.PathIsNotEmptyDirectory, "%s", p)
		}
		_, err = s.c.Delete(s.ctx, p, false)
		return err
	})
}

// find is Hadoop's -find <path>... <expression>...: the expressions are
// -name and -iname (shell patterns on the last path component), and
// -print (the default) and -print0.
func (s *shell) find(_ map[byte]bool, args []string) int {
	var paths []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		p, err := resolve(s.base, s.logical, s.c.User(), args[0])
		if err != nil {
			fmt.Fprintf(s.errw, "find: %v\n", err)
			return 1
		}
		paths, args = append(paths, p), args[1:]
	}
	if len(paths) == 0 {
		paths = []string{"/user/" + s.c.User()}
	}
	var match []func(name string) bool
	end := "\n"
	for len(args) > 0 {
		switch args[0] {
		case "-name", "-iname":
			if len(args) < 2 {
				fmt.Fprintf(s.errw, "find: Invalid argument: %s needs a pattern\n", args[0])
				return 1
			}
			re, err := globRegexp(args[1], args[0] == "-iname")
			if err != nil {
				fmt.Fprintf(s.errw, "find: Invalid pattern %s: %v\n", args[1], err)
				return 1
			}
			match = append(match, re.MatchString)
			args = args[2:]
		case "-print":
			args = args[1:]
		case "-print0":
			end, args = "\x00", args[1:]
		default:
			fmt.Fprintf(s.errw, "find: Unexpected argument: %s\n", args[0])
			return 1
		}
	}
	return s.each(paths, func(p string) error {
		return s.walk(p, true, func(q string, _ api.FileStatus) error {
			for _, m := range match {
				if !m(path.Base(q)) {
					return nil
				}
			}
			fmt.Fprint(s.out, q+end)
			return nil
		})
	})
}

// globRegexp turns a shell pattern (*, ?, [...]) into an anchored regexp.
func globRegexp(glob string, fold bool) (*regexp.Regexp, error) {
	var b strings.Builder
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := strings.IndexByte(glob[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unclosed [")
			}
			b.WriteString(glob[i : i+j+1])
			i += j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// df is Hadoop's -df [-h] [<path>...]: the cluster's capacity, used and
// available space (from the metadata service's FSNamesystemState bean).
func (s *shell) df(f map[byte]bool, _ []string) int {
	var jmx struct {
		Beans []struct {
			CapacityTotal, CapacityUsed, CapacityRemaining int64
		} `json:"beans"`
	}
	u := s.base + "/jmx?qry=" + url.QueryEscape("Hadoop:service=NameNode,name=FSNamesystemState")
	if err := rest.GetJSON(s.ctx, u, &jmx); err != nil || len(jmx.Beans) != 1 {
		if err == nil {
			err = fmt.Errorf("no FSNamesystemState bean")
		}
		return s.fail("/", err)
	}
	b := jmx.Beans[0]
	size := func(n int64) string {
		if f['h'] {
			return humanSize(n)
		}
		return fmt.Sprint(n)
	}
	pct := 0
	if b.CapacityTotal > 0 {
		pct = int(100 * b.CapacityUsed / b.CapacityTotal)
	}
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "Filesystem\tSize\tUsed\tAvailable\tUse%%\t\n")
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d%%\t\n", strings.Replace(s.base, "http://", "hdfs://", 1), size(b.CapacityTotal), size(b.CapacityUsed), size(b.CapacityRemaining), pct)
	_ = tw.Flush()
	return 0
}

// expunge is Hadoop's -expunge: the user's trash checkpoints older than
// fs.trash.interval are deleted and .Trash/Current becomes a new
// checkpoint (TrashPolicyDefault, run by the client).
func (s *shell) expunge(_ map[byte]bool, _ []string) int {
	d, err := s.c.ServerDefaults(s.ctx)
	if err != nil {
		return s.fail("/", err)
	}
	if d.TrashInterval <= 0 {
		return 0 // no trash: nothing to expunge, as Hadoop
	}
	trash := path.Dir(s.trashCurrent())
	list, err := s.c.List(s.ctx, trash)
	if errs.Is(err, errs.FileNotFound) {
		return 0
	}
	if err != nil {
		return s.fail(trash, err)
	}
	now := time.Now()
	for _, e := range list {
		t, err := time.ParseInLocation(trashCheckpointFormat, e.PathSuffix, time.Local)
		if err != nil || now.Sub(t) < time.Duration(d.TrashInterval)*time.Minute {
			continue
		}
		p := path.Join(trash, e.PathSuffix)
		if _, err := s.c.Delete(s.ctx, p, true); err != nil {
			return s.fail(p, err)
		}
		fmt.Fprintf(s.out, "Deleted trash checkpoint: %s\n", p)
	}
	if _, err := s.c.Stat(s.ctx, s.trashCurrent()); err == nil {
		cp := path.Join(trash, now.Format(trashCheckpointFormat))
		if ok, err := s.c.Rename(s.ctx, s.trashCurrent(), cp); err != nil || !ok {
			return s.fail(s.trashCurrent(), fmt.Errorf("could not checkpoint the trash to %s: %v", cp, err))
		}
		fmt.Fprintf(s.out, "Created trash checkpoint: %s\n", cp)
	}
	return 0
}

// trashCheckpointFormat names trash checkpoints (TrashPolicyDefault's
// "yyMMddHHmmss"), as the metadata service's emptier does.
const trashCheckpointFormat = "060102150405"
