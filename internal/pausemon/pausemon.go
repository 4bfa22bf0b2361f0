// Package pausemon is HDFS's JvmPauseMonitor for a Go process: a goroutine
// sleeps 500 ms at a time and, when a sleep took much longer (a GC pause,
// the host machine stalled, the process stopped), logs HDFS's line
// "Detected pause in JVM or host machine (eg GC): pause of approximately N
// ms" — at info past 1 s, warn past 10 s (jvm.pause.info-threshold.ms,
// jvm.pause.warn-threshold.ms) — and counts it, with the figures of HDFS's
// JvmMetrics (GcNumInfoThresholdExceeded, GcNumWarnThresholdExceeded,
// GcTotalExtraSleepTime).
package pausemon

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/granary-fs/granary/internal/lifecycle"
)

// HDFS's defaults.
const (
	SleepTime     = 500 * time.Millisecond
	InfoThreshold = time.Second
	WarnThreshold = 10 * time.Second
)

// Monitor counts the pauses it detected.
type Monitor struct {
	InfoThreshold, WarnThreshold time.Duration
	Log                          *slog.Logger

	infoExceeded, warnExceeded atomic.Int64
	extraSleep                 atomic.Int64 // ms

	now   func() time.Time
	sleep func(context.Context, time.Duration) bool
}

// New returns a monitor with HDFS's thresholds.
func New(log *slog.Logger) *Monitor {
	return &Monitor{InfoThreshold: InfoThreshold, WarnThreshold: WarnThreshold, Log: log, now: time.Now, sleep: lifecycle.Sleep}
}

// Run watches until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	var gcBefore runtime.MemStats
	runtime.ReadMemStats(&gcBefore)
	for {
		start := m.now()
		if !m.sleep(ctx, SleepTime) {
			return
		}
		extra := m.now().Sub(start) - SleepTime
		if extra <= 0 {
			continue
		}
		m.record(extra, &gcBefore)
	}
}

// record accounts for one sleep that overran by extra.
func (m *Monitor) record(extra time.Duration, gcBefore *runtime.MemStats) {
	if extra > min(m.InfoThreshold, m.WarnThreshold) {
		var gc runtime.MemStats
		runtime.ReadMemStats(&gc)
		msg := fmt.Sprintf("Detected pause in JVM or host machine (eg GC): pause of approximately %dms", extra.Milliseconds())
		gcs := fmt.Sprintf("GC pool 'go' had collection(s): count=%d time=%dms", gc.NumGC-gcBefore.NumGC,
			time.Duration(gc.PauseTotalNs-gcBefore.PauseTotalNs).Milliseconds())
		if extra > m.WarnThreshold {
			m.warnExceeded.Add(1)
			m.Log.Warn(msg, "gc", gcs)
		} else {
			m.infoExceeded.Add(1)
			m.Log.Info(msg, "gc", gcs)
		}
		*gcBefore = gc
	}
	m.extraSleep.Add(extra.Milliseconds())
}

// Figures are HDFS's JvmMetrics pause figures.
type Figures struct {
	GcNumInfoThresholdExceeded int64
	GcNumWarnThresholdExceeded int64
	GcTotalExtraSleepTime      int64 // ms
}

// Figures returns the counts so far.
func (m *Monitor) Figures() Figures {
	return Figures{m.infoExceeded.Load(), m.warnExceeded.Load(), m.extraSleep.Load()}
}

// Collectors export the figures to Prometheus under prefix
// (granary_<service>_).
func (m *Monitor) Collectors(prefix string) []prometheus.Collector {
	counter := func(name, help string, f func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: prefix + name, Help: help}, func() float64 { return float64(f()) })
	}
	return []prometheus.Collector{
		counter("pause_info_threshold_exceeded_total", "Pauses longer than jvm.pause.info-threshold.ms (HDFS's GcNumInfoThresholdExceeded).", m.infoExceeded.Load),
		counter("pause_warn_threshold_exceeded_total", "Pauses longer than jvm.pause.warn-threshold.ms (HDFS's GcNumWarnThresholdExceeded).", m.warnExceeded.Load),
		counter("pause_extra_sleep_milliseconds_total", "Time the pause monitor's sleeps overran (HDFS's GcTotalExtraSleepTime).", m.extraSleep.Load),
	}
}
