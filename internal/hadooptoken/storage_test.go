package hadooptoken

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// TestTokenStorage checks both token storage formats against bytes worked
// out by hand from Credentials.write and from Security.proto's
// CredentialsProto written with writeDelimitedTo, and reads them back.
func TestTokenStorage(t *testing.T) {
	c := Credentials{
		Tokens:  []AliasedToken{{Alias: "a", Token: Token{Identifier: []byte("i"), Password: []byte("p"), Kind: "k", Service: "s"}}},
		Secrets: []Secret{{Alias: "b", Value: []byte("x")}},
	}
	for _, w := range []struct {
		version byte
		want    []byte
	}{
		// "HDTS", 0, vint 1 token: Text "a", vint+"i", vint+"p", Text "k",
		// Text "s"; vint 1 secret: Text "b", vint+"x".
		{StorageWritable, []byte("HDTS\x00\x01\x01a\x01i\x01p\x01k\x01s\x01\x01b\x01x")},
		// "HDTS", 1, varint 27, then CredentialsProto: field 1 (tokens)
		// of 17 bytes: alias (1) "a", token (2) of 12 bytes: identifier
		// (1), password (2), kind (3), service (4); field 2 (secrets) of
		// 6 bytes: alias (1) "b", secret (3) "x".
		{StorageProto, []byte("HDTS\x01\x1b" +
			"\x0a\x11" + "\x0a\x01a" + "\x12\x0c" + "\x0a\x01i\x12\x01p\x1a\x01k\x22\x01s" +
			"\x12\x06" + "\x0a\x01b" + "\x1a\x01x")},
	} {
		got := c.MarshalStorage(w.version)
		if !bytes.Equal(got, w.want) {
			t.Errorf("version %d:\n got % x\nwant % x", w.version, got, w.want)
		}
		back, err := UnmarshalStorage(w.want)
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Errorf("version %d read back: %+v, %v", w.version, back, err)
		}
		for n := 5; n < len(w.want); n++ {
			if _, err := UnmarshalStorage(w.want[:n]); !errors.Is(err, ErrMalformed) {
				t.Errorf("version %d cut to %d bytes: %v, want ErrMalformed", w.version, n, err)
			}
		}
	}
	for _, bad := range []string{"", "HDT", "XXXX\x00\x00\x00", "HDTS\x02\x00\x00", "HDTS"} {
		if _, err := UnmarshalStorage([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("UnmarshalStorage(%q) = %v, want ErrMalformed", bad, err)
		}
	}
	// A token without its service field is not a TokenProto.
	if _, err := UnmarshalStorage([]byte("HDTS\x01\x0f\x0a\x0d\x0a\x01a\x12\x08\x0a\x01i\x12\x01p\x1a\x01k")); !errors.Is(err, ErrMalformed) {
		t.Errorf("a TokenProto without service: %v, want ErrMalformed", err)
	}
}

func TestDelegationStrings(t *testing.T) {
	d := Delegation{Owner: "alice", Renewer: "yarn", IssueDate: 1700000000000, MaxDate: 1700604800000, SequenceNumber: 7, MasterKeyID: 3}
	if got, want := d.StringStable(), "HDFS_DELEGATION_TOKEN token 7 for alice with renewer yarn"; got != want {
		t.Errorf("StringStable = %q, want %q", got, want)
	}
	if got, want := d.Verbose(), "token for alice: HDFS_DELEGATION_TOKEN owner=alice, renewer=yarn, realUser=, issueDate=1700000000000, maxDate=1700604800000, sequenceNumber=7, masterKeyId=3"; got != want {
		t.Errorf("Verbose = %q, want %q", got, want)
	}
}
