package heapfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/poll"
)

func read(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// collect runs a cycle and waits for the finalizers it queued (the
// tuner's among them) to have run: the finalizer goroutine runs a cycle's
// finalizers in no set order, so a second cycle's is waited for too, which
// runs after the first cycle's are done.
func collect() {
	for range 2 {
		done := make(chan struct{})
		runtime.SetFinalizer(&sentinel{}, func(*sentinel) { close(done) })
		runtime.GC()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
}

var sink [][]byte

func TestFloorRaisesTheGoalAndGoesAway(t *testing.T) {
	t.Setenv("GOGC", "")
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	const floor = 32 << 20
	collect()
	if goal := read("/gc/heap/goal:bytes"); goal >= floor {
		t.Fatalf("the goal is already %d MiB without a floor; the test needs a smaller heap", goal>>20)
	}

	stop := Start(floor)
	// After the cycles that follow, the goal is the floor at least while
	// the live heap is far below it.
	poll.Until(t, 10*time.Second, "the heap goal to reach the floor", func() bool {
		sink = append(sink[:0], make([]byte, 1<<20)) // garbage, so cycles come
		collect()
		return read("/gc/heap/goal:bytes") >= floor
	})
	if p := read("/gc/gogc:percent"); p <= 100 {
		t.Fatalf("GOGC %d with a live heap of %d MiB under a %d MiB floor", p, read("/gc/heap/live:bytes")>>20, floor>>20)
	}
	// Not far above it either: the runtime's heap minimum grows with GOGC.
	if goal := read("/gc/heap/goal:bytes"); goal > floor*5/4 {
		t.Fatalf("the heap goal is %d MiB with a %d MiB floor and a live heap of %d MiB", goal>>20, floor>>20, read("/gc/heap/live:bytes")>>20)
	}
	// A second floor while one is kept is refused: stopping it changes
	// nothing.
	Start(1 << 30)()
	collect()
	if read("/gc/heap/goal:bytes") < floor {
		t.Fatal("stopping a refused second floor took the first one away")
	}

	// A live heap above the floor: GOGC goes back to its base.
	live := make([]byte, 2*floor)
	poll.Until(t, 10*time.Second, "GOGC back at 100 with the live heap above the floor", func() bool {
		collect()
		return read("/gc/gogc:percent") == 100
	})
	runtime.KeepAlive(live)
	live = nil
	collect()
	if p := read("/gc/gogc:percent"); p <= 100 {
		t.Fatalf("GOGC %d after the live heap shrank again below the floor", p)
	}

	stop()
	if p := read("/gc/gogc:percent"); p != 100 {
		t.Fatalf("GOGC %d after stop, want 100", p)
	}
	collect()
	if p := read("/gc/gogc:percent"); p != 100 {
		t.Fatalf("GOGC %d in a cycle after stop, want 100", p)
	}
}

func TestGOGCInTheEnvironmentIsLeftAlone(t *testing.T) {
	t.Setenv("GOGC", "100")
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	stop := Start(1 << 30)
	defer stop()
	collect()
	collect()
	if p := read("/gc/gogc:percent"); p != 100 {
		t.Fatalf("GOGC %d with GOGC=100 in the environment and a floor asked for", p)
	}
	t.Setenv("GOGC", "")
	// A floor of 0 keeps nothing (GOGC would stay at its base anyway: what
	// can fail is a tuner left in place, refusing the next floor).
	off := Start(0)
	defer off()
	mu.Lock()
	kept := current != nil
	mu.Unlock()
	if kept {
		t.Fatal("a floor of 0 keeps a tuner")
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]uint64{
		"128": 128 << 20, "128m": 128 << 20, "128M": 128 << 20, "1g": 1 << 30, "2G": 2 << 30, "512k": 512 << 10, "0": 0,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"m", "-1", "1.5g", "12t", "lots", "99999999999999999999g"} {
		if n, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %d, want an error", in, n)
		}
	}
	t.Setenv(Env, "")
	if n, err := FromEnv(); err != nil || n != Default {
		t.Errorf("FromEnv unset = %d, %v; want the default %d", n, err, Default)
	}
	t.Setenv(Env, "64")
	if n, err := FromEnv(); err != nil || n != 64<<20 {
		t.Errorf("FromEnv 64 = %d, %v; want 64 MiB", n, err)
	}
	t.Setenv(Env, "sixty")
	if _, err := FromEnv(); err == nil {
		t.Error("FromEnv sixty: no error")
	}
}
