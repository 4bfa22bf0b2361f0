package errs

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestEveryKindIsMapped: a kind missing from the table would answer status
// 0, and WriteHeader panics on it.
func TestEveryKindIsMapped(t *testing.T) {
	if len(kinds) != int(numKinds) {
		t.Errorf("the table has %d kinds, the const block %d", len(kinds), numKinds)
	}
	seen := map[string]Kind{}
	for k := Kind(0); k < numKinds; k++ {
		info, ok := kinds[k]
		if !ok {
			t.Errorf("kind %d has no entry in the table", k)
			continue
		}
		if info.status < 400 || info.status > 599 || http.StatusText(info.status) == "" {
			t.Errorf("%s: status %d", info.exception, info.status)
		}
		if info.exception == "" || !strings.HasSuffix(info.javaClass, info.exception) && !strings.HasSuffix(info.javaClass, "$"+info.exception) {
			t.Errorf("kind %d: exception %q, Java class %q", k, info.exception, info.javaClass)
		}
		if other, dup := seen[info.exception]; dup {
			t.Errorf("kinds %d and %d are both %s", other, k, info.exception)
		}
		seen[info.exception] = k
		// The client side rebuilds the same kind from the wire.
		code, body := Remote(E(k, "m"))
		if got := FromRemote(code, body.RemoteException); got.Kind != k {
			t.Errorf("%s comes back as kind %d", info.exception, got.Kind)
		}
	}
	if code, _ := Remote(errors.New("plain")); code != http.StatusInternalServerError {
		t.Errorf("a plain error answers %d, want 500", code)
	}
}
