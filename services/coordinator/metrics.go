package coordinator

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/granary-fs/granary/internal/dnproto"
)

type metrics struct {
	reg              *prometheus.Registry
	requests         *prometheus.CounterVec
	reportedReplicas prometheus.Counter
	reportSeconds    prometheus.Histogram
	reconcileRuns    prometheus.Counter
}

func newMetrics(s *Service) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "granary_coordinator_requests_total", Help: "NATS requests served, by subject and outcome.",
		}, []string{"subject", "outcome"}),
		reportedReplicas: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "granary_coordinator_reported_replicas_total", Help: "Replicas processed in full block reports.",
		}),
		reportSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "granary_coordinator_block_report_chunk_seconds", Help: "Time to process one block-report chunk.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		reconcileRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "granary_coordinator_reconcile_runs_total", Help: "Passes that checked suspect replicas against the namespace.",
		}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(s.pauses.Collectors("granary_coordinator_")...)
	m.reg.MustRegister(m.requests, m.reportedReplicas, m.reportSeconds, m.reconcileRuns,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "granary_coordinator_transfers_scheduled_total", Help: "Replica transfers (re-replication) the redundancy monitor scheduled.",
		}, func() float64 { return float64(s.TransfersScheduled()) }),
		gauge("granary_coordinator_ha_active", "1 while this coordinator is the active one (always without coordinator HA).", func() float64 {
			if s.IsActive() {
				return 1
			}
			return 0
		}),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		gauge("granary_coordinator_live_datanodes", "Live datanodes.", func() float64 { return float64(s.mgr.Cluster().Live) }),
		gauge("granary_coordinator_stale_datanodes", "Stale datanodes.", func() float64 { return float64(s.mgr.Cluster().Stale) }),
		gauge("granary_coordinator_dead_datanodes", "Dead datanodes.", func() float64 { return float64(s.mgr.Cluster().Dead) }),
		gauge("granary_coordinator_blocks", "Blocks in the block map.", func() float64 { return float64(s.mgr.Cluster().Blocks) }),
		gauge("granary_coordinator_missing_blocks", "Complete blocks with no live replica.", func() float64 { return float64(s.mgr.Cluster().Missing) }),
		gauge("granary_coordinator_under_replicated_blocks", "Blocks with fewer live replicas than their replication.", func() float64 {
			return float64(s.mgr.Cluster().UnderReplicated)
		}),
		gauge("granary_coordinator_corrupt_blocks", "Blocks with replicas reported corrupt (last redundancy pass).", func() float64 { return float64(s.mgr.Stats().Corrupt) }),
		gauge("granary_coordinator_pending_replication_blocks", "Blocks with transfers scheduled and not yet done.", func() float64 { return float64(s.mgr.Stats().PendingReplication) }),
		gauge("granary_coordinator_excess_replicas", "Excess replicas found by the last redundancy pass.", func() float64 { return float64(s.mgr.Stats().Excess) }),
	)
	return m
}

// counted wraps a handler to count its outcomes.
func (s *Service) counted(subj string, h dnproto.Handler) dnproto.Handler {
	if s.cfg.CoordinatorID != "" {
		subj = strings.TrimSuffix(subj, "."+s.cfg.CoordinatorID)
	}
	label := subj[strings.LastIndex(subj, ".")+1:]
	// The two counters are looked up once, not per request.
	ok, failed := s.metrics.requests.WithLabelValues(label, "ok"), s.metrics.requests.WithLabelValues(label, "error")
	return func(ctx context.Context, data []byte) (any, error) {
		resp, err := h(ctx, data)
		if err != nil {
			failed.Inc()
		} else {
			ok.Inc()
		}
		return resp, err
	}
}
