// Package heapfloor keeps a server's garbage-collection goal from falling
// below a floor, as a JVM's -Xms (Hadoop's HADOOP_HEAPSIZE_MIN) keeps its
// heap from starting small.
//
// Go's collector starts a cycle when the heap has grown by GOGC percent
// (100 by default) of what the last cycle left live. A service whose live
// heap is small — a datanode, the coordinator, a metadata service with a
// small namespace — then collects every few megabytes allocated, and each
// cycle costs it the marking of its whole live heap and of every
// goroutine's stack: on the small-file path that is 7 % of the CPU of a
// write and 13 % of a read (docs/performance.md). With a floor, GOGC is
// raised after each cycle just enough for the next goal to reach the floor,
// and set back once the live heap reaches the floor by itself, where the
// floor no longer matters. The memory held never exceeds the larger of the
// floor and what GOGC alone would hold, and a GOMEMLIMIT still caps it.
//
// A GOGC set in the environment is the operator's choice and is left
// alone.
package heapfloor

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
)

// Env is the environment variable that sets the floor of Granary's
// services: megabytes, or a number with a unit (k, m, g; like
// HADOOP_HEAPSIZE_MIN). 0 turns it off.
const Env = "GRANARY_HEAPSIZE_MIN"

// Default is the floor of a service when Env is not set.
const Default = 128 << 20

// FromEnv is the floor Env asks for (Default when it is unset).
func FromEnv() (uint64, error) {
	v := strings.TrimSpace(os.Getenv(Env))
	if v == "" {
		return Default, nil
	}
	n, err := Parse(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %v", Env, v, err)
	}
	return n, nil
}

// Parse reads a heap size as Hadoop's scripts do: a bare number is
// megabytes; k, m and g (either case) are KiB, MiB and GiB.
func Parse(s string) (uint64, error) {
	mult := uint64(1 << 20)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult, s = 1<<10, s[:len(s)-1]
	case 'm', 'M':
		s = s[:len(s)-1]
	case 'g', 'G':
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > (1<<63)/mult {
		return 0, fmt.Errorf("not a heap size (a number of megabytes, or with k, m or g)")
	}
	return n * mult, nil
}

// Start keeps this process's heap goal at floor bytes at least until stop
// is called, which sets GOGC back. Only one floor is kept at a time: Start
// while one is kept, or with GOGC set in the environment, or with floor 0,
// does nothing.
func Start(floor uint64) (stop func()) {
	if floor == 0 || os.Getenv("GOGC") != "" {
		return func() {}
	}
	mu.Lock()
	defer mu.Unlock()
	if current != nil {
		return func() {}
	}
	t := &tuner{floor: floor, base: readGOGC(), samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
	t.percent = t.base
	current = t
	t.adjust()
	t.arm()
	return t.stop
}

// heapMinimum is the runtime's smallest goal at GOGC=100 (its
// defaultHeapMinimum), scaled by GOGC like the goal.
const heapMinimum = 4 << 20

var (
	mu      sync.Mutex
	current *tuner
)

type tuner struct {
	floor   uint64
	base    int // GOGC when the floor was set
	percent int // GOGC as this tuner last set it
	stopped bool
	samples []metrics.Sample
}

// sentinel is collected in every cycle; its finalizer runs once after each.
// It is 16 bytes with a pointer, so the tiny allocator (whose blocks are
// freed together, late) never holds it.
type sentinel struct {
	_ *byte
	_ [8]byte
}

// arm sets a new sentinel whose finalizer adjusts GOGC after the next
// cycle and arms the next one.
func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		mu.Lock()
		defer mu.Unlock()
		if t.stopped {
			return
		}
		t.adjust()
		t.arm()
	})
}

// adjust sets GOGC for the next cycle from the heap the last one left
// live: the smallest percent whose goal reaches the floor, and never
// below the base. Called with mu held.
func (t *tuner) adjust() {
	metrics.Read(t.samples)
	live := t.samples[0].Value.Uint64()
	// The collector's goal is live + (live + stacks + globals) × GOGC/100
	// (the stacks and globals scanned count towards the growth allowed),
	// and never below its heap minimum, 4 MiB × GOGC/100: whichever
	// reaches the floor first sets GOGC.
	scanned := live + t.samples[1].Value.Uint64() + t.samples[2].Value.Uint64()
	want := t.base
	if live > 0 && live < t.floor {
		p := min((t.floor-live)*100/scanned, t.floor*100/heapMinimum) + 1
		if p > uint64(t.base) {
			want = int(min(p, 1<<20))
		}
	}
	if want != t.percent {
		debug.SetGCPercent(want)
		t.percent = want
	}
}

func (t *tuner) stop() {
	mu.Lock()
	defer mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	debug.SetGCPercent(t.base)
	current = nil
}

// readGOGC is the collector's GOGC now.
func readGOGC() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
