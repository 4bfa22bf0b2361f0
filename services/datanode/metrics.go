package datanode

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	reg          *prometheus.Registry
	ibrSent      prometheus.Counter
	scanned      prometheus.Counter
	corruptFound prometheus.Counter
	volumeChecks prometheus.Counter
	// standbyCommandsIgnored counts commands of a standby (or stale
	// active) coordinator that were not executed (coordinator HA).
	standbyCommandsIgnored prometheus.Counter
	lifelines              prometheus.Counter
}

func newMetrics(s *Service) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		ibrSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "granary_datanode_incremental_report_entries_total", Help: "Replica changes sent in incremental block reports.",
		}),
	}
	m.scanned = prometheus.NewCounter(prometheus.CounterOpts{Name: "granary_datanode_block_scanner_replicas_total", Help: "Replicas verified by the block scanner."})
	m.corruptFound = prometheus.NewCounter(prometheus.CounterOpts{Name: "granary_datanode_block_scanner_corrupt_total", Help: "Corrupt replicas found by the block scanner."})
	m.volumeChecks = prometheus.NewCounter(prometheus.CounterOpts{Name: "granary_datanode_volume_checks_total", Help: "Passes of the volume checker over every volume."})
	m.standbyCommandsIgnored = prometheus.NewCounter(prometheus.CounterOpts{Name: "granary_datanode_standby_commands_ignored_total", Help: "Commands from a coordinator that is not the active one, ignored (seed 004's rule)."})
	m.lifelines = prometheus.NewCounter(prometheus.CounterOpts{Name: "granary_datanode_lifelines_total", Help: "Lifelines sent (a heartbeat was late)."})
	m.reg.MustRegister(s.pauses.Collectors("granary_datanode_")...)
	m.reg.MustRegister(m.ibrSent, m.scanned, m.corruptFound, m.volumeChecks, m.standbyCommandsIgnored, m.lifelines,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "granary_datanode_replicas", Help: "Replicas in the replica map."}, func() float64 {
			if s.store == nil {
				return 0
			}
			n := 0
			for _, bpid := range s.blockPools() {
				n += s.store.Count(bpid)
			}
			return float64(n)
		}),
		volumeMetadataOps{s},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "granary_datanode_failed_volumes", Help: "Failed volumes."}, func() float64 {
			if s.store == nil {
				return 0
			}
			return float64(s.store.FailedVolumes())
		}),
	)
	return m
}

// volumeMetadataOps reports each volume's profiled metadata operations
// (dfs.datanode.fileio.profiling.sampling.percentage; HDFS's
// DataNodeVolumeMetrics MetadataOperationRate).
type volumeMetadataOps struct{ s *Service }

var (
	metadataOpsDesc = prometheus.NewDesc("granary_datanode_volume_metadata_operations_total",
		"Profiled metadata operations on the volume's replica files (creates, renames, deletes).", []string{"volume"}, nil)
	metadataOpSecondsDesc = prometheus.NewDesc("granary_datanode_volume_metadata_operation_seconds_total",
		"Time the volume's profiled metadata operations took.", []string{"volume"}, nil)
)

func (c volumeMetadataOps) Describe(ch chan<- *prometheus.Desc) {
	ch <- metadataOpsDesc
	ch <- metadataOpSecondsDesc
}

func (c volumeMetadataOps) Collect(ch chan<- prometheus.Metric) {
	if c.s.store == nil {
		return
	}
	for _, v := range c.s.store.Volumes() {
		ops := v.MetadataOps()
		ch <- prometheus.MustNewConstMetric(metadataOpsDesc, prometheus.CounterValue, float64(ops.Count), v.Dir)
		ch <- prometheus.MustNewConstMetric(metadataOpSecondsDesc, prometheus.CounterValue, ops.Time.Seconds(), v.Dir)
	}
}
