package storage

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// A replica that is kept only if it is finalized (a block PUT without
// acknowledgements: a small file's only packet, a transfer — HDFS's
// createTemporary, which writes into tmp/) is written into files that
// have no name (O_TMPFILE) and are linked into finalized/ once complete:
// two links instead of two creates in rbw/ and two renames out of it.
// rbw/ is one directory that every writer of the volume shares, and each
// create and rename locks it; an unnamed file locks nothing until it is
// linked, into the finalized/ subdirectory of its block. A datanode that
// dies while writing one leaves nothing behind, as HDFS's start clears
// tmp/: nothing of it was acknowledged.

// linkMode is how a volume links an unnamed file, found by a probe when
// the volume is opened (again later if it was full: tempLink).
type linkMode uint8

const (
	noTempFiles   linkMode = iota // no O_TMPFILE here: temporaries are named in rbw/
	linkEmptyPath                 // linkat(fd, "", AT_EMPTY_PATH): needs CAP_DAC_READ_SEARCH
	linkProcFD                    // linkat("/proc/self/fd/N", AT_SYMLINK_FOLLOW): any user, with /proc
)

// createTemp opens an unnamed file for reading and writing on dir's file
// system, making dir first only when it is missing (as createIn); name is
// the path it is meant to have, for messages.
func createTemp(dir, name string) (*os.File, error) { return openMakingDir(dir, name, openTemp) }

func openTemp(dir, name string) (*os.File, error) {
	for {
		fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o644)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: dir + " (O_TMPFILE)", Err: err}
		}
		return os.NewFile(uintptr(fd), filepath.Join(dir, name)), nil
	}
}

// link gives the unnamed file f the name path. A file already there is
// replaced: the replica map has no replica of its own there (Finalize
// removed the one it had), so it is what a failed delete left.
func (m linkMode) link(f *os.File, path string) error {
	err := m.linkat(f, path)
	if errors.Is(err, fs.ErrExist) {
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return rerr
		}
		err = m.linkat(f, path)
	}
	return err
}

func (m linkMode) linkat(f *os.File, path string) error {
	for {
		var err error
		switch m {
		case linkEmptyPath:
			err = unix.Linkat(int(f.Fd()), "", unix.AT_FDCWD, path, unix.AT_EMPTY_PATH)
		case linkProcFD:
			err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
		default:
			err = unix.EOPNOTSUPP
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.LinkError{Op: "link", Old: f.Name(), New: path, Err: err}
		}
		return nil
	}
}

// linkInto links f as name in dir, making dir first when it is missing
// (a finalized/ subdirectory's first replica).
func (m linkMode) linkInto(f *os.File, dir, name string) error {
	err := m.link(f, filepath.Join(dir, name))
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return m.link(f, filepath.Join(dir, name))
}

// probeTempFiles finds how unnamed files can be made and linked in dir:
// O_TMPFILE needs the file system's support (ext4, XFS, btrfs, tmpfs) and
// a link by descriptor needs either a capability or /proc. full reports a
// probe that could not tell because the volume was full (ENOSPC, EDQUOT):
// it is probed again later.
func probeTempFiles(dir string) (m linkMode, full bool) {
	f, err := probeOpen(dir, ".probe-tmpfile")
	if err != nil {
		return noTempFiles, isNoSpace(err)
	}
	defer f.Close()
	path := filepath.Join(dir, ".probe-tmpfile")
	_ = os.Remove(path)
	for _, m := range []linkMode{linkEmptyPath, linkProcFD} {
		if err := m.linkat(f, path); err == nil {
			_ = os.Remove(path)
			return m, false
		} else if isNoSpace(err) {
			return noTempFiles, true
		}
	}
	return noTempFiles, false
}

// probeOpen is openTemp, for the probe; a variable for tests.
var probeOpen = openTemp

// tempLink is how the volume links unnamed files (noTempFiles: it has
// none). A volume that was full when it was probed is probed again, so
// that one found full when the datanode started writes unnamed files
// once it has room.
func (v *Volume) tempLink() linkMode {
	v.linkMu.Lock()
	defer v.linkMu.Unlock()
	if v.linkFull {
		v.link, v.linkFull = probeTempFiles(filepath.Join(v.Dir, "current"))
	}
	return v.link
}
