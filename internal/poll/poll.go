// Package poll waits for a condition in tests: it checks it until it holds
// or a deadline passes (never a bare sleep standing for the condition).
package poll

import (
	"testing"
	"time"
)

// Until checks cond every 10 ms until it holds, failing t once within has
// passed.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
