package storage

import (
	"os"
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
