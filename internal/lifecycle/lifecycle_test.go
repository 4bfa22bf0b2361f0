package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// waitFor returns g.Wait's result, failing the test if it blocks.
func waitFor(t *testing.T, g *Group) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return: a component was not stopped")
		return nil
	}
}

// untilDone is a component that runs until it is stopped.
func untilDone(ctx context.Context) error { <-ctx.Done(); return nil }

func TestFirstFailureStopsEveryComponent(t *testing.T) {
	g := New(context.Background())
	g.Go("a", untilDone)
	g.Go("b", untilDone)
	boom := errors.New("boom")
	g.Go("c", func(context.Context) error { return boom })
	err := waitFor(t, g)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "c: boom") {
		t.Fatalf("Wait = %v, want c's error", err)
	}
}

func TestComponentEndingWithoutErrorStopsTheGroup(t *testing.T) {
	g := New(context.Background())
	g.Go("a", untilDone)
	g.Go("b", func(context.Context) error { return nil })
	if err := waitFor(t, g); err == nil || !strings.Contains(err.Error(), "b stopped unexpectedly") {
		t.Fatalf("Wait = %v, want b stopped unexpectedly", err)
	}
}

func TestStopFromOutsideIsNoError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g := New(ctx)
	g.Go("a", untilDone)
	g.Go("b", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	cancel()
	if err := waitFor(t, g); err != nil {
		t.Fatalf("Wait after the parent's cancel = %v", err)
	}
	g = New(context.Background())
	g.Go("a", untilDone)
	g.Stop()
	if err := waitFor(t, g); err != nil {
		t.Fatalf("Wait after Stop = %v", err)
	}
}

func TestOnlyTheFirstFailureIsKept(t *testing.T) {
	g := New(context.Background())
	first := errors.New("first")
	g.Fail(first)
	g.Go("late", func(ctx context.Context) error { <-ctx.Done(); return errors.New("second") })
	if err := waitFor(t, g); !errors.Is(err, first) {
		t.Fatalf("Wait = %v, want the first failure", err)
	}
}
