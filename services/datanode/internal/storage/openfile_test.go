package storage

import (
	"errors"
	"io/fs"
	"os"
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

// TestCreateInAndRenameIntoMakeMissingFolders: a replica's file is created
// in, and renamed into, a folder made only when it is missing; a missing
// source is an error, not a folder made for nothing.
func TestCreateInAndRenameIntoMakeMissingFolders(t *testing.T) {
	root := t.TempDir()
	rbw := filepath.Join(root, "current", "rbw")
	f, err := createIn(rbw, "blk_2")
	if err != nil {
		t.Fatalf("creating in a missing rbw/: %v", err)
	}
	f.Close()
	sub := filepath.Join(root, "current", "finalized", "subdir0", "subdir1")
	if err := renameInto(filepath.Join(rbw, "blk_2"), sub, "blk_2"); err != nil {
		t.Fatalf("renaming into a missing subdir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(sub, "blk_2")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(rbw, "blk_2")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the source is still there: %v", err)
	}
	if err := renameInto(filepath.Join(rbw, "blk_3"), sub, "blk_3"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("renaming a missing file: %v, want fs.ErrNotExist", err)
	}
	other := filepath.Join(root, "current", "finalized", "subdir9")
	if err := renameInto(filepath.Join(rbw, "blk_3"), other, "blk_3"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("renaming a missing file into a missing folder: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(other); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a folder was made for a file that is missing: %v", err)
	}
}
