// Package golden compares encoded bytes with golden files committed under a
// package's testdata/golden, for the tests of the on-disk and on-wire
// formats (docs/formats): a change to an encoder and its decoder together
// cannot pass unnoticed. `go test -update` rewrites the files after a
// deliberate format change.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files (after a deliberate format change)")

// Check compares got with testdata/golden/name (writing it first with
// -update) and returns the golden bytes.
func Check(t testing.TB, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write the golden files)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: encoded\n%x\ngolden\n%x", name, got, want)
	}
	return want
}
