package metadata

import (
	"context"
	"sync"

	"github.com/granary-fs/granary/internal/dnproto"
)

// placements gathers the placement requests of concurrent writers: while
// one request is on its way to the coordinator, those that arrive wait and
// go together in the next (ChooseTargetsRequest.More), sent by the first
// of them when the one before is answered. Writers' creates come in
// bursts — a committed edit-log batch answers many at once, and they ask
// for their next blocks together —, so most placements would otherwise be
// on their way beside others, each a request and a reply of its own.
type placements struct {
	mu     sync.Mutex
	flying *placementBatch // on its way
	next   *placementBatch // gathering, sent when flying is answered
}

// placementBatch is the placements of one request.
type placementBatch struct {
	reqs    []dnproto.Placement
	targets [][]dnproto.DatanodeInfo // the answers, in order, once sent is closed
	err     error
	sent    chan struct{}
}

// maxPlacementBatch bounds the placements of one request; beyond it a
// writer asks alone.
const maxPlacementBatch = 64

// choose returns the pipeline for p, asked with send: in a gathered
// request, or alone.
func (pl *placements) choose(ctx context.Context, p dnproto.Placement, send func(dnproto.ChooseTargetsRequest) (dnproto.ChooseTargetsReply, error)) ([]dnproto.DatanodeInfo, error) {
	alone := func() ([]dnproto.DatanodeInfo, error) {
		reply, err := send(dnproto.ChooseTargetsRequest{Placement: p})
		return reply.Targets, err
	}
	pl.mu.Lock()
	if b := pl.next; b != nil {
		if len(b.reqs) == maxPlacementBatch {
			pl.mu.Unlock()
			return alone()
		}
		i := len(b.reqs)
		b.reqs = append(b.reqs, p)
		pl.mu.Unlock()
		select {
		case <-b.sent:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if b.err != nil {
			return nil, b.err
		}
		if i >= len(b.targets) {
			// A coordinator that answers the first placement only.
			return alone()
		}
		return b.targets[i], nil
	}
	b := &placementBatch{reqs: []dnproto.Placement{p}, sent: make(chan struct{})}
	if prev := pl.flying; prev != nil {
		pl.next = b
		pl.mu.Unlock()
		<-prev.sent // within its send's deadline
		pl.mu.Lock()
		pl.next = nil
	}
	pl.flying = b
	reqs := b.reqs
	pl.mu.Unlock()
	defer func() {
		pl.mu.Lock()
		pl.flying = nil
		pl.mu.Unlock()
		close(b.sent)
	}()
	reply, err := send(dnproto.ChooseTargetsRequest{Placement: reqs[0], More: reqs[1:]})
	if b.err = err; err != nil {
		return nil, err
	}
	b.targets = append([][]dnproto.DatanodeInfo{reply.Targets}, reply.More...)
	return reply.Targets, nil
}
