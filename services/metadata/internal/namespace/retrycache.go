package namespace

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// CallID identifies one client call: the client's ID (fixed for a client's
// life) and the number of the call (HDFS's rpcClientId and rpcCallId). A
// client that resends a call after a lost answer or a failover sends the
// same CallID, so the retry cache can answer it without applying the
// operation twice.
type CallID struct {
	Client string
	Call   int64
}

type callKey struct{}

// WithCall returns ctx carrying the call's ID: the namespace's
// non-idempotent operations (create, append, delete, rename, concat,
// updatePipeline — HDFS's @AtMostOnce methods) are then answered from the
// retry cache when the same call was already applied.
func WithCall(ctx context.Context, id CallID) context.Context {
	return context.WithValue(ctx, callKey{}, id)
}

func callFrom(ctx context.Context) (CallID, bool) {
	id, ok := ctx.Value(callKey{}).(CallID)
	return id, ok && id.Client != ""
}

// RetryCacheExpiry is dfs.namenode.retrycache.expirytime.millis (10 min).
const RetryCacheExpiry = 10 * time.Minute

// retryCache remembers the outcome of recent non-idempotent calls (HDFS's
// RetryCache). A live call enters an in-progress entry, completed with its
// outcome; a retry of it waits for the first attempt, returns its result
// when it succeeded and runs again when it failed. Replayed ops carrying a
// CallID (edits tailed by a standby or read at start-up) enter completed
// entries, so a call applied by the previous active is answered after a
// failover. Entries expire after RetryCacheExpiry.
type retryCache struct {
	mu      sync.Mutex
	entries map[CallID]*list.Element // of *cacheEntry
	order   list.List                // oldest first
	expiry  time.Duration
	now     func() time.Time
}

type cacheEntry struct {
	id      CallID
	expires time.Time
	done    chan struct{} // closed when the call's outcome is known
	success bool
	payload any
}

func newRetryCache(now func() time.Time) *retryCache {
	return &retryCache{entries: map[CallID]*list.Element{}, expiry: RetryCacheExpiry, now: now}
}

// start returns the completed, successful entry of id, or a new in-progress
// entry that the caller must finish. A retry of a call still in progress
// waits for it.
func (c *retryCache) start(ctx context.Context, id CallID) (e *cacheEntry, cached bool, err error) {
	for {
		c.mu.Lock()
		c.expire()
		el, ok := c.entries[id]
		if !ok {
			e = &cacheEntry{id: id, expires: c.now().Add(c.expiry), done: make(chan struct{})}
			c.entries[id] = c.order.PushBack(e)
			c.mu.Unlock()
			return e, false, nil
		}
		e = el.Value.(*cacheEntry)
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if e.success {
			return e, true, nil
		}
		// The first attempt failed: this one runs in its place.
		c.mu.Lock()
		if el2, ok := c.entries[id]; ok && el2 == el {
			c.order.Remove(el)
			delete(c.entries, id)
		}
		c.mu.Unlock()
	}
}

// finish records the outcome of an entry from start.
func (c *retryCache) finish(e *cacheEntry, success bool, payload any) {
	e.success, e.payload = success, payload
	close(e.done)
}

// replayed enters the outcome of an op applied from the edit log.
func (c *retryCache) replayed(id CallID, payload any) {
	e := &cacheEntry{id: id, expires: c.now().Add(c.expiry), done: make(chan struct{}), success: true, payload: payload}
	close(e.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire()
	if el, ok := c.entries[id]; ok {
		c.order.Remove(el)
	}
	c.entries[id] = c.order.PushBack(e)
}

// expire drops entries past their expiry; c.mu is held.
func (c *retryCache) expire() {
	now := c.now()
	for el := c.order.Front(); el != nil; el = c.order.Front() {
		e := el.Value.(*cacheEntry)
		if now.Before(e.expires) {
			return
		}
		select {
		case <-e.done:
		default:
			return // a call still running keeps its entry
		}
		c.order.Remove(el)
		delete(c.entries, e.id)
	}
}

// len returns the number of entries, for tests and metrics.
func (c *retryCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// atMostOnce runs fn once per client call: without a CallID in ctx it just
// runs it; a retried call that already succeeded gets the first attempt's
// result (a payload of another type, a CallID reused for another
// operation, runs fn). fn logs its op with the CallID it is given. With a
// CallID, fn's context is not cancelled with the caller's: an op once
// applied commits, and its entry must say it succeeded, or a retry would
// apply it again.
func atMostOnce[T any](ctx context.Context, ns *Namespace, fn func(ctx context.Context, id CallID) (T, error)) (T, error) {
	id, ok := callFrom(ctx)
	if !ok {
		return fn(ctx, CallID{})
	}
	e, cached, err := ns.retry.start(ctx, id)
	if err != nil {
		var zero T
		return zero, err
	}
	if cached {
		if v, ok := e.payload.(T); ok {
			return v, nil
		}
		return fn(ctx, CallID{})
	}
	v, err := fn(context.WithoutCancel(ctx), id)
	ns.retry.finish(e, err == nil, v)
	return v, err
}
