package metadata

import (
	"testing"
	"time"
)

func TestLeasePruneForgetsIdleHolders(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := &leaseManager{renewed: map[string]time.Time{}, now: func() time.Time { return now }}
	l.renew("idle")
	l.renew("writer")
	now = now.Add(time.Hour)
	l.renew("recent")
	l.prune(map[string][]string{"writer": {"/f"}}, 20*time.Minute)
	if _, ok := l.renewed["idle"]; ok {
		t.Fatal("a holder without files, silent past the limit, is still remembered")
	}
	for _, h := range []string{"writer", "recent"} {
		if _, ok := l.renewed[h]; !ok {
			t.Fatalf("%s was forgotten", h)
		}
	}
	// A forgotten holder that writes again starts a fresh lease.
	if l.expired("idle", 20*time.Minute) {
		t.Fatal("a returning holder's lease is expired at once")
	}
}
