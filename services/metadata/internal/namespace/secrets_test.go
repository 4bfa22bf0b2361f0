package namespace

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/granary-fs/granary/internal/hadooptoken"
)

// TestSecretsReplayAndImage: keys and tokens issued, renewed and cancelled
// live come back identical from the edit log and from an image, and a
// version-1 image (before the secret section) still loads.
func TestSecretsReplayAndImage(t *testing.T) {
	ctx := context.Background()
	live, rec := newTestNS()
	if _, ok := live.CurrentDelegationKey(); ok {
		t.Fatal("a new namespace has a master key")
	}
	k1, err := live.AddDelegationKey(ctx, 1000, []byte("key-one"))
	if err != nil || k1.ID != 1 {
		t.Fatalf("first key %+v %v", k1, err)
	}
	var idents [][]byte
	for i := 0; i < 3; i++ {
		err := live.IssueDelegationToken(ctx, []string{"staff"}, func(seq int32, key DelegationKey) ([]byte, int64, error) {
			id := hadooptoken.Delegation{Owner: "alice", Renewer: "yarn", SequenceNumber: seq, MasterKeyID: key.ID}.Marshal()
			idents = append(idents, id)
			return id, 500 + int64(seq), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := live.AddDelegationKey(ctx, 2000, []byte("key-two")); err != nil {
		t.Fatal(err)
	}
	if k, _ := live.CurrentDelegationKey(); k.ID != 2 {
		t.Fatalf("current key %d", k.ID)
	}
	if r, err := live.RenewDelegationToken(ctx, idents[0], func(DelegationToken, bool) (int64, error) { return 900, nil }); err != nil || r != 900 {
		t.Fatal(r, err)
	}
	if err := live.CancelDelegationToken(ctx, idents[1], func(_ DelegationToken, ok bool) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []*Namespace{live, replay(t, rec)} {
		tok, key, ok := ns.LookupDelegationToken(idents[0], 1)
		if !ok || tok.Renewal != 900 || string(key.Key) != "key-one" || len(tok.Groups) != 1 {
			t.Fatalf("token 0: %+v %+v %v", tok, key, ok)
		}
		if _, _, ok := ns.LookupDelegationToken(idents[1], 1); ok {
			t.Fatal("a cancelled token is live")
		}
	}
	data := image(t, live)
	if !bytes.Equal(image(t, replay(t, rec)), data) {
		t.Fatal("replayed secrets differ from the live ones")
	}
	loaded, err := LoadImage(Config{Superuser: "hdfs"}, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(image(t, loaded), data) {
		t.Fatal("image of a loaded image differs")
	}
	// The next token after a reload continues the sequence.
	loaded.SetJournal(&recorder{})
	_ = loaded.IssueDelegationToken(ctx, nil, func(seq int32, key DelegationKey) ([]byte, int64, error) {
		if seq != 4 || key.ID != 2 {
			t.Errorf("after reload: seq %d key %d", seq, key.ID)
		}
		return hadooptoken.Delegation{SequenceNumber: seq, MasterKeyID: key.ID}.Marshal(), 1, nil
	})
	if tokens, keys := loaded.PurgeSecrets(1500); tokens != 3 || keys != 1 {
		t.Fatalf("purged %d tokens, %d keys", tokens, keys)
	}

	// A version-1 image: a version-2 one without the secret section.
	empty, _ := newTestNS()
	v2, err := os.ReadFile(filepath.Join("testdata", "golden", "image-v2.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var e encoder
	empty.writeSecrets(&e)
	at := bytes.LastIndex(v2, []byte(imageTrailer)) - len(e.buf)
	v1 := append(bytes.Clone(v2[:at]), v2[at+len(e.buf):]...)
	v1[len(imageMagic)] = 1
	if _, err := LoadImage(Config{Superuser: "hdfs"}, v1, nil); err != nil {
		t.Fatalf("version-1 image: %v", err)
	}
}
