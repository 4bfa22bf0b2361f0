package main

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
)

// The commands of hdfs dfs that copy, cut and join files: -cp, -head,
// -truncate, -concat, -getmerge, -moveFromLocal, -moveToLocal.

// cp is Hadoop's -cp [-f] [-p] <src>... <dst>: each file is read and written
// again (through <dst>._COPYING_, as -put); -p keeps times, owner, group and
// permission.
func (s *shell) cp(f map[byte]bool, args []string) int {
	srcs, dst := args[:len(args)-1], args[len(args)-1]
	rc := 0
	for _, src := range srcs {
		to := s.target(src, dst, len(srcs) > 1)
		if err := s.cpOne(src, to, f['f'], f['p']); err != nil {
			rc = s.fail(src, err)
		}
	}
	return rc
}

func (s *shell) cpOne(src, to string, overwrite, preserve bool) error {
	st, err := s.c.Stat(s.ctx, src)
	if err != nil {
		return err
	}
	if st.Type == "DIRECTORY" {
		if err := s.c.Mkdirs(s.ctx, to, 0); err != nil {
			return err
		}
		list, err := s.c.List(s.ctx, src)
		if err != nil {
			return err
		}
		for _, e := range list {
			if err := s.cpOne(path.Join(src, e.PathSuffix), path.Join(to, e.PathSuffix), overwrite, preserve); err != nil {
				return err
			}
		}
		return s.preserve(to, st, preserve)
	}
	if !overwrite {
		if _, err := s.c.Stat(s.ctx, to); err == nil {
			return errs.E(errs.FileAlreadyExists, "%s", to)
		}
	}
	r, err := s.c.Open(s.ctx, src)
	if err != nil {
		return err
	}
	defer r.Close()
	tmp := to + "._COPYING_"
	w, err := s.c.Create(s.ctx, tmp, s.createOptions(true))
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil && overwrite {
		_, err = s.c.Delete(s.ctx, to, false)
	}
	if err == nil {
		var ok bool
		if ok, err = s.c.Rename(s.ctx, tmp, to); err == nil && !ok {
			err = fmt.Errorf("could not rename %s to %s", tmp, to)
		}
	}
	if err != nil {
		_, _ = s.c.Delete(s.ctx, tmp, false)
		return err
	}
	return s.preserve(to, st, preserve)
}

// preserve gives to the times, owner, group and permission of st (-p).
func (s *shell) preserve(to string, st api.FileStatus, on bool) error {
	if !on {
		return nil
	}
	if err := s.c.SetTimes(s.ctx, to, st.ModificationTime, st.AccessTime); err != nil {
		return err
	}
	if err := s.c.SetOwner(s.ctx, to, st.Owner, st.Group); err != nil {
		return err
	}
	perm, _ := strconv.ParseUint(st.Permission, 8, 16)
	return s.c.SetPermission(s.ctx, to, uint16(perm))
}

// head is Hadoop's -head <file>: its first kilobyte.
func (s *shell) head(_ map[byte]bool, args []string) int {
	p := args[0]
	if err := s.notDirectory(p); err != nil {
		return s.fail(p, err)
	}
	r, err := s.c.Open(s.ctx, p)
	if err != nil {
		return s.fail(p, err)
	}
	defer r.Close()
	if _, err := io.CopyN(s.out, r, 1024); err != nil && err != io.EOF {
		return s.fail(p, err)
	}
	return 0
}

// truncate is Hadoop's -truncate [-w] <length> <path>...: -w waits for a
// cut inside a block to be recovered before returning.
func (s *shell) truncate(f map[byte]bool, args []string) int {
	n, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || n < 0 {
		fmt.Fprintf(s.errw, "truncate: Illegal length %s\n", args[0])
		return 1
	}
	return s.each(args[1:], func(p string) error {
		done, err := s.c.Truncate(s.ctx, p, n)
		if err != nil {
			return err
		}
		if done {
			fmt.Fprintf(s.out, "Truncated %s to length: %d\n", p, n)
			return nil
		}
		if !f['w'] {
			fmt.Fprintf(s.out, "Truncating %s to length: %d. Wait for block recovery to complete before further updating this file.\n", p, n)
			return nil
		}
		fmt.Fprintf(s.out, "Waiting for %s ...\n", p)
		for {
			st, err := s.c.Stat(s.ctx, p)
			if err != nil {
				return err
			}
			if st.Length == n {
				fmt.Fprintf(s.out, "Truncated %s to length: %d\n", p, n)
				return nil
			}
			select {
			case <-s.ctx.Done():
				return s.ctx.Err()
			case <-time.After(time.Second):
			}
		}
	})
}

// concat is Hadoop's -concat <target> <src>...: the sources' blocks are
// appended to the target and the sources deleted.
func (s *shell) concat(_ map[byte]bool, args []string) int {
	if err := s.c.Concat(s.ctx, args[0], args[1:]); err != nil {
		return s.fail(args[0], err)
	}
	return 0
}

// getmerge is Hadoop's -getmerge [-nl] <src> <localdst>: the files of src
// (a file, or a directory's files in name order) concatenated into one
// local file; -nl adds a newline after each.
func (s *shell) getmerge(f map[byte]bool, args []string) int {
	dst := args[len(args)-1]
	var files []string
	for _, p := range args[:len(args)-1] {
		st, err := s.c.Stat(s.ctx, p)
		if err != nil {
			return s.fail(p, err)
		}
		if st.Type != "DIRECTORY" {
			files = append(files, p)
			continue
		}
		list, err := s.c.List(s.ctx, p)
		if err != nil {
			return s.fail(p, err)
		}
		var names []string
		for _, e := range list {
			if e.Type == "FILE" {
				names = append(names, path.Join(p, e.PathSuffix))
			}
		}
		slices.Sort(names)
		files = append(files, names...)
	}
	out, err := os.Create(dst)
	if err != nil {
		return s.fail(dst, err)
	}
	for _, p := range files {
		r, err := s.c.Open(s.ctx, p)
		if err == nil {
			_, err = io.Copy(out, r)
			r.Close()
		}
		if err == nil && f['n'] {
			_, err = out.Write([]byte("\n"))
		}
		if err != nil {
			out.Close()
			return s.fail(p, err)
		}
	}
	if err := out.Close(); err != nil {
		return s.fail(dst, err)
	}
	return 0
}

// moveFromLocal is Hadoop's -moveFromLocal <localsrc>... <dst>: -put, then
// the local files are deleted.
func (s *shell) moveFromLocal(f map[byte]bool, args []string) int {
	if rc := s.put(f, args); rc != 0 {
		return rc
	}
	for _, src := range args[:len(args)-1] {
		if err := os.RemoveAll(filepath.Clean(src)); err != nil {
			return s.fail(src, err)
		}
	}
	return 0
}

// moveToLocal answers as Hadoop's does: it was never implemented there.
func (s *shell) moveToLocal(_ map[byte]bool, _ []string) int {
	fmt.Fprintln(s.errw, "moveToLocal: Option '-moveToLocal' is not implemented yet.")
	return 1
}
