package storage

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOpenFileIsOsOpenFile: what openFile answers is what os.OpenFile
// answers — a missing file is fs.ErrNotExist, a created one has the mode
// asked (less the umask), and the file reads and writes.
func TestOpenFileIsOsOpenFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "blk_1")
	if _, err := openFile(name, syscall.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("opening a missing file: %v, want fs.ErrNotExist", err)
	}
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	w, err := openFile(name, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("replica")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := openFile(name, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, err := r.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 || st.Size() != 7 {
		t.Fatalf("mode %v, size %d; want -rw-r--r--, 7", st.Mode(), st.Size())
	}
	buf := make([]byte, 3)
	if _, err := r.ReadAt(buf, 4); err != nil || string(buf) != "ica" {
		t.Fatalf("ReadAt: %q, %v", buf, err)
	}
	if _, err := r.Write([]byte("x")); err == nil {
		t.Fatal("a file opened read-only took a write")
	}
}
