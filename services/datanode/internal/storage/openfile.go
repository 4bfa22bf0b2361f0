package storage

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// openFile opens a replica's file as os.OpenFile does, but without the
// network poller: for every file it opens, os.OpenFile switches the
// descriptor to non-blocking, offers it to epoll (which refuses regular
// files) and switches it back — four fcntl calls and an epoll_ctl that a
// datanode would pay on each of a replica's two files at every write and
// every read. os.NewFile takes the descriptor as it is (one fcntl).
// Reads and writes of a regular file block either way.
func openFile(name string, flag int, perm uint32) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, flag|syscall.O_CLOEXEC, perm)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// createIn creates (or truncates) file name in dir for writing, making dir
// first only when it is missing: a replica's files are created in rbw/,
// which is there, without a stat of it each time. The file is opened for
// reading too: once finalized, its descriptor serves readers (openFiles).
func createIn(dir, name string) (*os.File, error) {
	return openMakingDir(dir, name, func(dir, name string) (*os.File, error) {
		return openFile(filepath.Join(dir, name), syscall.O_RDWR|syscall.O_CREAT|syscall.O_TRUNC, 0o644)
	})
}

// openMakingDir opens name in dir with open, and again after making dir
// when it is missing.
func openMakingDir(dir, name string, open func(dir, name string) (*os.File, error)) (*os.File, error) {
	f, err := open(dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		f, err = open(dir, name)
	}
	return f, err
}

// renameFile renames a file, replacing any file at newpath. os.Rename
// first looks whether newpath is a directory (an lstat that a replica's
// rename never needs: its paths are files).
func renameFile(oldpath, newpath string) error {
	for {
		err := syscall.Rename(oldpath, newpath)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
		}
		return nil
	}
}

// renameInto renames oldpath to name in dir, making dir first when it is
// missing (a finalized/ subdirectory's first replica).
func renameInto(oldpath, dir, name string) error {
	err := renameFile(oldpath, filepath.Join(dir, name))
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, serr := os.Lstat(oldpath); serr != nil {
		return err // the file itself is missing
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return renameFile(oldpath, filepath.Join(dir, name))
}

// dupFile returns a second descriptor of f's open file, named name (a
// finalized replica's path; the descriptor follows the file through its
// rename).
func dupFile(f *os.File, name string) (*os.File, error) {
	for {
		fd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_DUPFD_CLOEXEC, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return nil, &os.PathError{Op: "dup", Path: f.Name(), Err: errno}
		}
		return os.NewFile(fd, name), nil
	}
}
