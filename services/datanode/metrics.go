package datanode

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/granary-fs/granary/services/datanode/internal/storage"
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
		volumeFileIO{s},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "granary_datanode_failed_volumes", Help: "Failed volumes."}, func() float64 {
			if s.store == nil {
				return 0
			}
			return float64(s.store.FailedVolumes())
		}),
	)
	return m
}

// volumeFileIO reports each volume's profiled operations on replica files
// (dfs.datanode.fileio.profiling.sampling.percentage; HDFS's
// DataNodeVolumeMetrics).
type volumeFileIO struct{ s *Service }

var (
	fileIOOpsDesc = prometheus.NewDesc("granary_datanode_volume_file_io_operations_total",
		"Profiled operations on the volume's replica files, by kind: metadata (creates, renames and links, deletes), read, write, sync.", []string{"volume", "op"}, nil)
	fileIOSecondsDesc = prometheus.NewDesc("granary_datanode_volume_file_io_seconds_total",
		"Time the volume's profiled operations took, by kind.", []string{"volume", "op"}, nil)
	fileIOErrorsDesc = prometheus.NewDesc("granary_datanode_volume_file_io_errors_total",
		"Profiled operations on the volume's replica files that failed.", []string{"volume"}, nil)
)

func (c volumeFileIO) Describe(ch chan<- *prometheus.Desc) {
	ch <- fileIOOpsDesc
	ch <- fileIOSecondsDesc
	ch <- fileIOErrorsDesc
}

func (c volumeFileIO) Collect(ch chan<- prometheus.Metric) {
	if c.s.store == nil {
		return
	}
	for _, v := range c.s.store.Volumes() {
		stats, failed := v.FileIO()
		for k, st := range stats {
			ch <- prometheus.MustNewConstMetric(fileIOOpsDesc, prometheus.CounterValue, float64(st.Count), v.Dir, storage.IOKinds[k])
			ch <- prometheus.MustNewConstMetric(fileIOSecondsDesc, prometheus.CounterValue, st.Time.Seconds(), v.Dir, storage.IOKinds[k])
		}
		ch <- prometheus.MustNewConstMetric(fileIOErrorsDesc, prometheus.CounterValue, float64(failed), v.Dir)
	}
}
