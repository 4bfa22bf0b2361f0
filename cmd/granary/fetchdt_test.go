package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/devissuer"
	"github.com/granary-fs/granary/internal/hadooptoken"
	"github.com/granary-fs/granary/services/metadata"
)

// TestFetchdtAndTokenFile: `granary fetchdt` (HDFS's `hdfs fetchdt`)
// fetches a delegation token with a bearer token into a token storage file
// in Hadoop's format; granary fs then authenticates with nothing but
// HADOOP_TOKEN_FILE_LOCATION naming it (either storage format), as Hadoop's
// clients do in a YARN container; a file holding only another service's
// token is not used; --print shows the token as HDFS does, --renew renews
// it and --cancel ends it.
func TestFetchdtAndTokenFile(t *testing.T) {
	iss, srv, err := devissuer.Start("127.0.0.1:0", nil, "granary")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c, run, must := fsCluster(t, func(m *metadata.Config) {
		m.Auth = auth.Config{Mode: auth.Token, OIDCIssuer: iss.URL, OIDCAudience: "granary"}
	})
	bearer, err := iss.Token("alice")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fetchdt := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := fetchdtCmd(ctx, append([]string{"-fs", c.MetadataURL}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "alice.token")
	t.Setenv("GRANARY_TOKEN", bearer)
	if code, _, errs := fetchdt("--renewer", "alice", file); code != 0 {
		t.Fatalf("fetchdt: exit %d: %s", code, errs)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("HDTS\x00")) {
		t.Fatalf("the token file does not start as hdfs fetchdt's (HDTS, version 0): % x", raw[:min(len(raw), 5)])
	}
	creds, err := hadooptoken.UnmarshalStorage(raw)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(c.MetadataURL)
	if len(creds.Tokens) != 1 || creds.Tokens[0].Alias != u.Host || creds.Tokens[0].Token.Service != u.Host || creds.Tokens[0].Token.Kind != hadooptoken.KindWebHDFS {
		t.Fatalf("the token file holds %+v, want one WEBHDFS delegation token for %s", creds.Tokens, u.Host)
	}
	id, err := hadooptoken.UnmarshalDelegation(creds.Tokens[0].Token.Identifier)
	if err != nil || id.Owner != "alice" || id.Renewer != "alice" {
		t.Fatalf("the token's identifier: %+v, %v", id, err)
	}
	code, out, errs := fetchdt("--print", file)
	if want := fmt.Sprintf("Token (HDFS_DELEGATION_TOKEN token %d for alice with renewer alice) for %s\n", id.SequenceNumber, u.Host); code != 0 || out != want {
		t.Fatalf("fetchdt --print: exit %d, %q (%s), want %q", code, out, errs, want)
	}

	// Without any credential the service refuses; with the token file
	// alone it answers as alice.
	t.Setenv("GRANARY_TOKEN", "")
	if code, _, _ := run("-mkdir", "/refused"); code == 0 {
		t.Fatal("mkdir without a credential succeeded")
	}
	other := filepath.Join(dir, "other.token")
	elsewhere := creds
	elsewhere.Tokens = []hadooptoken.AliasedToken{{Alias: "10.9.9.9:9870", Token: creds.Tokens[0].Token}}
	elsewhere.Tokens[0].Token.Service = "10.9.9.9:9870"
	if err := os.WriteFile(other, elsewhere.MarshalStorage(hadooptoken.StorageProto), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HADOOP_TOKEN_FILE_LOCATION", other)
	if code, _, _ := run("-mkdir", "/refused"); code == 0 {
		t.Fatal("a token for another service was sent")
	}
	t.Setenv("HADOOP_TOKEN_FILE_LOCATION", file)
	must("-mkdir", "/fromTokenFile")
	if ls := must("-ls", "/"); !strings.Contains(ls, " alice ") || !strings.Contains(ls, "/fromTokenFile") {
		t.Fatalf("ls with the token file:\n%s", ls)
	}
	proto := filepath.Join(dir, "proto.token")
	if err := os.WriteFile(proto, creds.MarshalStorage(hadooptoken.StorageProto), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HADOOP_TOKEN_FILE_LOCATION", proto)
	must("-mkdir", "/fromProtoTokenFile")

	// Renewing and cancelling need the bearer token, as in HDFS.
	t.Setenv("GRANARY_TOKEN", bearer)
	t.Setenv("HADOOP_TOKEN_FILE_LOCATION", "")
	if code, _, errs := fetchdt("--renew", file); code != 0 {
		t.Fatalf("fetchdt --renew: exit %d: %s", code, errs)
	}
	if code, _, errs := fetchdt("--cancel", file); code != 0 {
		t.Fatalf("fetchdt --cancel: exit %d: %s", code, errs)
	}
	t.Setenv("GRANARY_TOKEN", "")
	t.Setenv("HADOOP_TOKEN_FILE_LOCATION", file)
	if code, _, errs := run("-mkdir", "/afterCancel"); code == 0 || !strings.Contains(errs, "InvalidToken") && !strings.Contains(errs, "token") {
		t.Fatalf("a cancelled token still works (exit %d): %s", code, errs)
	}

	// Usage errors as HDFS's.
	if code, _, errs := fetchdt("--print", "--renew", file); code != 1 || !strings.Contains(errs, "ERROR: Only specify cancel, renew or print.") {
		t.Errorf("two commands: exit %d, %s", code, errs)
	}
	if code, _, errs := fetchdt(); code != 1 || !strings.Contains(errs, "ERROR: Must specify exactly one token file") {
		t.Errorf("no file: exit %d, %s", code, errs)
	}
	if code, _, errs := fetchdt("--print", filepath.Join(dir, "missing")); code != 1 || !strings.Contains(errs, "missing") {
		t.Errorf("a missing file: exit %d, %s", code, errs)
	}
}
