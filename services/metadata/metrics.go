package metadata

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the service's Prometheus metrics, in a registry of its own so
// that several services can live in one process (tests, `granary dev`).
type metrics struct {
	reg         *prometheus.Registry
	batches     prometheus.Counter
	ops         prometheus.Counter
	batchTime   prometheus.Histogram
	checkpoints prometheus.Counter
	requests    *prometheus.CounterVec
}

func newMetrics(s *Service) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "granary_metadata_edit_batches_total", Help: "Edit-log batches committed (group commits).",
		}),
		ops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "granary_metadata_edit_ops_total", Help: "Edit-log ops committed.",
		}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "granary_metadata_edit_batch_seconds", Help: "Time to commit one edit-log batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "granary_metadata_checkpoints_total", Help: "fsimages saved.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "granary_metadata_webhdfs_requests_total", Help: "WebHDFS requests by op and status.",
		}, []string{"op", "code"}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(s.pauses.Collectors("granary_metadata_")...)
	m.reg.MustRegister(m.batches, m.ops, m.batchTime, m.checkpoints, m.requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		gauge("granary_metadata_files", "Files in the namespace.", func() float64 {
			if ns := s.ns.Load(); ns != nil {
				f, _ := ns.Counts()
				return float64(f)
			}
			return 0
		}),
		gauge("granary_metadata_directories", "Directories in the namespace.", func() float64 {
			if ns := s.ns.Load(); ns != nil {
				_, d := ns.Counts()
				return float64(d)
			}
			return 0
		}),
		gauge("granary_metadata_last_txid", "Last committed transaction ID.", func() float64 {
			if e := s.edits.Load(); e != nil {
				return float64(e.Committed())
			}
			return 0
		}),
		gauge("granary_metadata_safe_mode", "1 while the namespace is in safe mode.", func() float64 {
			if s.safe.On() {
				return 1
			}
			return 0
		}),
		gauge("granary_metadata_last_checkpoint_txid", "Transaction ID of the newest fsimage.", func() float64 {
			return float64(s.lastImageTxID.Load())
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "granary_metadata_location_cache_hits_total",
			Help: "Block look-ups (readers', and the replica count of a file's complete) answered from the kept locations."}, func() float64 { h, _ := s.LocationCacheStats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "granary_metadata_location_cache_misses_total",
			Help: "Block look-ups (readers' of complete files, and the replica count of a file's complete) that asked the coordinator."}, func() float64 { _, m := s.LocationCacheStats(); return float64(m) }),
	)
	return m
}

// BatchCommitted implements store.EditLogMetrics.
func (m *metrics) BatchCommitted(ops int, d time.Duration) {
	m.batches.Inc()
	m.ops.Add(float64(ops))
	m.batchTime.Observe(d.Seconds())
}
