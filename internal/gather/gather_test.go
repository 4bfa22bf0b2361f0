package gather

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/poll"
)

// TestGather: the items that arrive while a batch is on its way go in the
// next, sent by the first of their callers; each caller gets its own
// answer; a full batch, and items send did not answer, are the callers'
// to send alone; send's error is every item's; a caller whose context ends
// returns while its item still goes.
func TestGather(t *testing.T) {
	g := &Gatherer[int, int]{Max: 4}
	var mu sync.Mutex
	var batches [][]int
	holding, release := make(chan struct{}), make(chan struct{})
	fail := false
	send := func(items []int) ([]int, error) {
		mu.Lock()
		batches = append(batches, slices.Clone(items))
		first, failing := len(batches) == 1, fail
		mu.Unlock()
		if first {
			close(holding)
			<-release
		}
		if failing {
			return nil, errors.New("refused")
		}
		var answers []int
		for _, it := range items {
			if it != 13 { // 13 and those after it go unanswered
				answers = append(answers, 10*it)
				continue
			}
			break
		}
		return answers, nil
	}
	type result struct {
		item, answer int
		ok           bool
		err          error
	}
	results := make(chan result, 16)
	do := func(ctx context.Context, item int) {
		go func() {
			a, ok, err := g.Do(ctx, item, send)
			results <- result{item, a, ok, err}
		}()
	}
	do(context.Background(), 1)
	<-holding
	ctx, cancel := context.WithCancel(context.Background())
	for i, it := range []int{2, 3, 13, 4} { // one after the other, in order
		do(ctx, it)
		poll.Until(t, 10*time.Second, "the item waiting", func() bool { return g.Waiting() == i+1 })
	}
	do(context.Background(), 5) // the batch is full
	if r := <-results; r.item != 5 || r.ok || r.err != nil {
		t.Fatalf("beyond Max: %+v, want to be sent alone", r)
	}
	// Ended, the callers that wait for their batch return; the first of
	// them (2), which sends it, stays.
	cancel()
	for range 3 {
		if r := <-results; r.item == 2 || !errors.Is(r.err, context.Canceled) {
			t.Fatalf("a waiting caller whose context ended: %+v", r)
		}
	}
	close(release)
	got := map[int]result{}
	for range 2 {
		r := <-results
		got[r.item] = r
	}
	if r := got[1]; !r.ok || r.answer != 10 || r.err != nil {
		t.Fatalf("the first caller: %+v", r)
	}
	if r := got[2]; !r.ok || r.answer != 20 || r.err != nil {
		t.Fatalf("the second batch's sender: %+v", r)
	}
	mu.Lock()
	if !slices.Equal(batches[1], []int{2, 3, 13, 4}) {
		t.Fatalf("second batch %v: the waiting items, in order, though their callers left", batches[1])
	}
	mu.Unlock()

	// Answers in order; the unanswered told so; an error for all.
	g2 := &Gatherer[int, int]{}
	holding, release = make(chan struct{}), make(chan struct{})
	mu.Lock()
	batches = nil
	mu.Unlock()
	do2 := func(item int) {
		go func() {
			a, ok, err := g2.Do(context.Background(), item, send)
			results <- result{item, a, ok, err}
		}()
	}
	do2(1)
	<-holding
	for i, it := range []int{2, 13, 3} {
		do2(it)
		poll.Until(t, 10*time.Second, "the item waiting", func() bool { return g2.Waiting() == i+1 })
	}
	close(release)
	got = map[int]result{}
	for range 4 {
		r := <-results
		got[r.item] = r
	}
	if r := got[2]; !r.ok || r.answer != 20 || r.err != nil {
		t.Fatalf("item 2: %+v", r)
	}
	for _, it := range []int{13, 3} {
		if r := got[it]; r.ok || r.err != nil {
			t.Fatalf("item %d, unanswered: %+v, want to be sent alone", it, r)
		}
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	if _, ok, err := g2.Do(context.Background(), 7, send); ok || err == nil || err.Error() != "refused" {
		t.Fatalf("a refused batch: %v %v", ok, err)
	}
}
