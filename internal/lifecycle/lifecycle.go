// Package lifecycle runs the components of a service as one unit, the
// skeleton every service's Run is built on: each component runs until the
// group's context is done; the first one to return before that — with an
// error, or without one — stops all the others, and Wait returns its error.
// A service therefore never lingers half-alive: a fenced edit log, a lost
// database or a dead HTTP listener ends Run, and the process exits non-zero
// so that a supervisor restarts it.
//
// It must never hide an error: a component that ends early is always
// reported, even when it returned nil.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Group is a set of components sharing one context.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

// New returns a group whose context is derived from parent: cancelling
// parent stops the group without an error.
func New(parent context.Context) *Group {
	ctx, cancel := context.WithCancel(parent)
	return &Group{ctx: ctx, cancel: cancel}
}

// Context is done once the group is stopping.
func (g *Group) Context() context.Context { return g.ctx }

// Done is closed once the group is stopping.
func (g *Group) Done() <-chan struct{} { return g.ctx.Done() }

// Go runs fn as a component named name. fn must return once its context is
// done; returning earlier stops the group with fn's error ("name stopped"
// when fn returned nil).
func (g *Group) Go(name string, fn func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := fn(g.ctx)
		switch {
		case g.ctx.Err() == nil && err == nil:
			g.Fail(fmt.Errorf("%s stopped unexpectedly", name))
		case err != nil && !errors.Is(err, context.Canceled):
			g.Fail(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

// Fail stops the group with err, unless it already failed.
func (g *Group) Fail(err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	g.cancel()
}

// Stop stops the group without an error (a shutdown that was asked for).
func (g *Group) Stop() { g.cancel() }

// Wait waits for every component and returns the first failure, or nil
// when the group was stopped from outside.
func (g *Group) Wait() error {
	g.wg.Wait()
	g.cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// ShutdownTimeout bounds how long a stopping HTTP server waits for the
// requests in flight.
const ShutdownTimeout = 10 * time.Second

// Server timeouts every service's HTTP server uses. IdleTimeout closes
// keep-alive connections that carry no request (HDFS's Jetty closes idle
// connections after 60 s too); the header timeout bounds slow clients.
// Bodies and responses are not bounded: blocks stream for as long as they
// take.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 60 * time.Second
)

// NewServer returns an HTTP server with the services' timeouts.
func NewServer(h http.Handler, idle time.Duration) *http.Server {
	if idle <= 0 {
		idle = IdleTimeout
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: idle}
}

// Serve runs srv on ln as a component: it serves until ctx is done, then
// shuts the server down gracefully (bounded by ShutdownTimeout) and closes
// stopped, if not nil, once no request is in flight any more.
func Serve(srv *http.Server, ln net.Listener, stopped chan<- struct{}) func(context.Context) error {
	return func(ctx context.Context) error {
		if stopped != nil {
			defer close(stopped)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		select {
		case err := <-done:
			if errors.Is(err, http.ErrServerClosed) {
				return nil // closed on purpose (a crash-like Kill)
			}
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
		return nil
	}
}

// Sleep waits d, or less when ctx ends; it reports whether the whole wait
// went by.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Every runs fn every d until ctx is done.
func Every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}
