package store

import (
	"context"
	"testing"
	"time"

	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// TestGatherWaitsForTheAnsweredCallers: the writer lets the open batch grow
// until it reaches its target — an append that reaches it ends the wait at
// once — and after three waits in a row that ran out it sends the next 64
// batches without waiting, then waits again.
func TestGatherWaitsForTheAnsweredCallers(t *testing.T) {
	ctx := context.Background()
	l := &EditLog{cur: newBatch(), kick: make(chan struct{}, 1), target: 2, lastCommit: time.Hour}
	defer func(d time.Duration) { maxGather = d }(maxGather)

	// An append reaching the target ends the wait (which could otherwise
	// last a minute).
	maxGather = time.Minute
	l.Append(1, &namespace.SetGenstamp{GenStamp: 1}, nil)
	<-l.kick // the writer took this kick before it decided to wait
	done := make(chan struct{})
	go func() { l.gather(ctx); close(done) }()
	l.Append(2, &namespace.SetGenstamp{GenStamp: 2}, nil)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the append that reached the target did not end the wait")
	}
	if l.gatherMisses != 0 {
		t.Fatalf("a wait that reached its target counted as a miss (%d)", l.gatherMisses)
	}

	// Waits that run out: three pause gathering for 64 batches.
	maxGather = time.Millisecond
	l.target = 10
	for i := 1; i <= gatherMissesAllowed; i++ {
		l.gather(ctx)
		if i < gatherMissesAllowed && (l.gatherMisses != i || l.gatherOff != 0) {
			t.Fatalf("after %d waits ran out: misses %d, paused for %d", i, l.gatherMisses, l.gatherOff)
		}
	}
	if l.gatherMisses != 0 || l.gatherOff != gatherPause {
		t.Fatalf("after %d waits ran out: misses %d, paused for %d batches, want 0 and %d", gatherMissesAllowed, l.gatherMisses, l.gatherOff, gatherPause)
	}
	maxGather = time.Minute // a wait now would stall the test
	for range gatherPause {
		l.gather(ctx)
	}
	if l.gatherOff != 0 {
		t.Fatalf("still paused for %d batches after %d", l.gatherOff, gatherPause)
	}
	// Waiting again: a batch already at its target goes at once.
	l.target = 2
	start := time.Now()
	l.gather(ctx)
	if time.Since(start) > 10*time.Second || l.gatherMisses != 0 {
		t.Fatalf("a batch at its target waited %v (misses %d)", time.Since(start), l.gatherMisses)
	}
}
