// Package gather sends the items of concurrent callers in batches, as a
// group commit does: while one batch is on its way, the items that arrive
// wait and go together in the next, sent by the first of their callers
// when the one before is answered. A caller that comes while nothing is on
// its way sends its item at once; at most one batch is on its way and one
// gathering at a time.
package gather

import (
	"context"
	"sync"
)

// Gatherer batches items of type T whose answers are of type R. Its zero
// value gathers without bound.
type Gatherer[T, R any] struct {
	// Max bounds the items of a batch (none when 0): beyond it a caller
	// is told to send alone.
	Max int

	mu     sync.Mutex
	flying *batch[T, R] // on its way
	next   *batch[T, R] // gathering, sent when flying is answered
}

type batch[T, R any] struct {
	items   []T
	answers []R // in the items' order, once sent is closed
	err     error
	sent    chan struct{}
}

// Do has item sent with the others of its batch by send, which is called
// with a batch's items in their order and returns their answers in the
// same order (fewer when it answered only the first ones). Do returns
// item's answer and true; false, with no error, when the item was not
// answered — its batch was full, or send answered fewer items — and the
// caller should send it alone. send's error is every item's. A caller
// whose ctx ends while its item waits returns ctx's error; the item goes
// all the same. send runs on the goroutine of the first caller of its
// batch and must not depend on that caller's context alone.
func (g *Gatherer[T, R]) Do(ctx context.Context, item T, send func(items []T) ([]R, error)) (R, bool, error) {
	var zero R
	g.mu.Lock()
	if b := g.next; b != nil {
		if g.Max > 0 && len(b.items) >= g.Max {
			g.mu.Unlock()
			return zero, false, nil
		}
		i := len(b.items)
		b.items = append(b.items, item)
		g.mu.Unlock()
		select {
		case <-b.sent:
		case <-ctx.Done():
			return zero, false, ctx.Err()
		}
		if b.err != nil {
			return zero, false, b.err
		}
		if i >= len(b.answers) {
			return zero, false, nil
		}
		return b.answers[i], true, nil
	}
	b := &batch[T, R]{items: []T{item}, sent: make(chan struct{})}
	if prev := g.flying; prev != nil {
		g.next = b
		g.mu.Unlock()
		<-prev.sent // as long as its send takes
		g.mu.Lock()
		g.next = nil
	}
	g.flying = b
	items := b.items
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.flying = nil
		g.mu.Unlock()
		close(b.sent)
	}()
	b.answers, b.err = send(items)
	if b.err != nil {
		return zero, false, b.err
	}
	if len(b.answers) == 0 {
		return zero, false, nil
	}
	return b.answers[0], true, nil
}

// Waiting is how many items wait for the batch on its way to be answered.
func (g *Gatherer[T, R]) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.next == nil {
		return 0
	}
	return len(g.next.items)
}
