package cluster_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTypeScriptSDK generates TypeScript clients from the OpenAPI 3
// documents (npm openapi-typescript, pinned in testdata/ts/package.json),
// type-checks testdata/ts/client.ts against them with tsc and runs it with
// node against a cluster: MKDIRS, the two-step CREATE, LISTSTATUS,
// GETFILESTATUS, OPEN returning the bytes, DELETE and the coordinator's
// datanode list, through openapi-fetch with no hand fixes.
func TestTypeScriptSDK(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: the TypeScript SDK test needs Node.js and npm")
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "tsconfig.json", "client.ts"} {
		b, err := os.ReadFile(filepath.Join("testdata", "ts", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run(npm, "install", "--no-audit", "--no-fund", "--loglevel=error")
	bin := filepath.Join(dir, "node_modules", ".bin")
	for _, svc := range []string{"metadata", "coordinator", "datanode"} {
		doc, err := filepath.Abs(filepath.Join("..", "..", "openapi", svc+".openapi.json"))
		if err != nil {
			t.Fatal(err)
		}
		run(filepath.Join(bin, "openapi-typescript"), doc, "-o", svc+".d.ts")
	}
	run(filepath.Join(bin, "tsc"), "-p", ".") // type-checks, then writes client.js
	c := testCluster(t, 3, nil)
	cmd := exec.Command("node", "client.js", c.MetadataURL, c.CoordinatorURL)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Fatalf("the TypeScript client: %v\n%s", err, out)
	}
}
