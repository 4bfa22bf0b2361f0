// Package diskspace reads a file system's size and the space left on it,
// for the datanode's volumes and the metadata service's resource check.
package diskspace

import "syscall"

// Of returns the size of the file system holding path and the bytes an
// unprivileged writer may still use on it.
func Of(path string) (total, free int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize), nil
}
