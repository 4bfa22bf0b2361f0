package metadata

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
)

// The NameNode's JMX beans that HDFS's web UI and operators' monitoring
// read through /jmx, with the attributes Granary can fill truthfully.
const (
	beanNameNodeInfo      = "Hadoop:service=NameNode,name=NameNodeInfo"
	beanFSNamesystemState = "Hadoop:service=NameNode,name=FSNamesystemState"
	beanFSNamesystem      = "Hadoop:service=NameNode,name=FSNamesystem"
	beanNameNodeStatus    = "Hadoop:service=NameNode,name=NameNodeStatus"
	beanJvmMetrics        = "Hadoop:service=NameNode,name=JvmMetrics"
)

var jmxBeans = []string{beanNameNodeInfo, beanFSNamesystemState, beanFSNamesystem, beanNameNodeStatus, beanJvmMetrics}

// jmx godoc
//
//	@Summary		NameNode JMX beans (HDFS's /jmx servlet)
//	@Description	The beans HDFS's web UI reads: NameNodeInfo, FSNamesystemState, FSNamesystem and NameNodeStatus, and JvmMetrics (the pause monitor's figures), with HDFS's attribute names. qry is a JMX object-name pattern ("Hadoop:service=NameNode,name=NameNodeInfo", "Hadoop:service=NameNode,*", "Hadoop:*"); a pattern matching nothing answers {"beans":[]}. Datanode figures come from the coordinator.
//	@Tags			admin
//	@Produce		json
//	@Param			qry	query		string	false	"JMX object-name pattern"
//	@Success		200	{object}	api.JMXResponse
//	@Failure		400	{object}	errs.RemoteExceptionBody
//	@Failure		403	{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			jmx
//	@Router			/jmx [get]
func (s *Service) jmx(w http.ResponseWriter, r *http.Request) {
	var names []string
	if q := r.URL.Query().Get("qry"); q != "" {
		pat, err := parseObjectName(q)
		if err != nil {
			writeError(w, err)
			return
		}
		for _, n := range jmxBeans {
			if p, _ := parseObjectName(n); pat.matches(p) {
				names = append(names, n)
			}
		}
	} else {
		names = jmxBeans
	}
	beans, err := s.jmxBeans(r.Context(), names)
	if err != nil {
		writeError(w, err)
		return
	}
	_ = writeJSON(w, http.StatusOK, api.JMXResponse{Beans: beans})
}

// jmxBeans builds the named beans, asking the coordinator for the datanode
// figures when one of them needs it.
func (s *Service) jmxBeans(ctx context.Context, names []string) ([]map[string]any, error) {
	beans := []map[string]any{}
	if len(names) == 0 {
		return beans, nil
	}
	var cl api.ClusterView
	var dns api.DatanodeList
	// A standby has no coordinator to ask: its datanode figures are 0, as a
	// standby NameNode's UI shows none.
	if needsCoordinator(names) && !s.standby.Load() {
		if s.coord == nil {
			return nil, errs.E(errs.IO, "no coordinator: this metadata service runs without block management")
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := dnproto.CallRetrying(cctx, s.coord.nc, s.subj(dnproto.SubjCluster), struct{}{}, &cl, coordinatorTry); err != nil {
			return nil, err
		}
		if err := dnproto.CallRetrying(cctx, s.coord.nc, s.subj(dnproto.SubjDatanodes), struct{}{}, &dns, coordinatorTry); err != nil {
			return nil, err
		}
	}
	var files, dirs, blocks, txid int64
	if ns := s.ns.Load(); ns != nil {
		files, dirs = ns.Counts()
		blocks, txid = ns.CompleteBlocks(), ns.TxID()
	}
	safeMode, fsState := "", "Operational" // HDFS's values out of safe mode
	if s.safe.On() {
		safeMode, fsState = s.safe.Tip(), "safeMode"
	}
	for _, name := range names {
		b := map[string]any{"name": name}
		switch name {
		case beanNameNodeInfo:
			b["modelerType"] = "org.apache.hadoop.hdfs.server.namenode.FSNamesystem"
			b["ClusterId"] = s.info.ClusterID
			b["BlockPoolId"] = s.info.BlockPoolID
			b["Version"] = SoftwareVersion
			b["SoftwareVersion"] = SoftwareVersion
			b["NNStartedTimeInMillis"] = s.startedAt.UnixMilli()
			b["Safemode"] = safeMode
			b["TotalFiles"] = files + dirs
			b["TotalBlocks"] = blocks
			b["Total"] = cl.Capacity
			b["Used"] = cl.DfsUsed
			b["Free"] = cl.Remaining
			b["NonDfsUsedSpace"] = cl.NonDfsUsed
			b["BlockPoolUsedSpace"] = cl.BlockPoolUsed
			b["PercentUsed"] = percent(cl.DfsUsed, cl.Capacity)
			b["PercentRemaining"] = percent(cl.Remaining, cl.Capacity)
			b["PercentBlockPoolUsed"] = percent(cl.BlockPoolUsed, cl.Capacity)
			b["NumberOfMissingBlocks"] = cl.Missing
			live, dead, decom := nodeMaps(dns.Datanodes)
			b["LiveNodes"], b["DeadNodes"], b["DecomNodes"] = live, dead, decom
		case beanFSNamesystemState:
			b["modelerType"] = "org.apache.hadoop.hdfs.server.namenode.FSNamesystem"
			b["FSState"] = fsState
			b["CapacityTotal"] = cl.Capacity
			b["CapacityUsed"] = cl.DfsUsed
			b["CapacityRemaining"] = cl.Remaining
			b["BlocksTotal"] = blocks
			b["FilesTotal"] = files + dirs
			b["UnderReplicatedBlocks"] = cl.UnderReplicated
			b["NumLiveDataNodes"] = cl.Live + cl.Stale
			b["NumDeadDataNodes"] = cl.Dead
			b["NumStaleDataNodes"] = cl.Stale
			b["NumDecommissioningDataNodes"] = cl.Decommissioning
			failed := 0
			for _, d := range dns.Datanodes {
				failed += d.FailedVolumes
			}
			b["VolumeFailuresTotal"] = failed
		case beanFSNamesystem:
			b["modelerType"] = "FSNamesystem"
			b["tag.Context"] = "dfs"
			b["tag.HAState"] = s.HAState()
			b["LastCheckpointTime"] = s.lastImageAt.Load()
			b["TransactionsSinceLastCheckpoint"] = txid - s.lastImageTxID.Load()
			b["LastWrittenTransactionId"] = txid
			b["FilesTotal"] = files + dirs
			b["BlocksTotal"] = blocks
		case beanJvmMetrics:
			// HDFS's JvmMetrics, the figures a Go process has: the pause
			// monitor's, the heap and the goroutines (as threads).
			var mem runtime.MemStats
			runtime.ReadMemStats(&mem)
			f := s.pauses.Figures()
			b["modelerType"] = "JvmMetrics"
			b["tag.Context"] = "jvm"
			b["tag.ProcessName"] = "NameNode"
			b["MemHeapUsedM"] = float64(mem.HeapAlloc) / (1 << 20)
			b["MemHeapCommittedM"] = float64(mem.HeapSys) / (1 << 20)
			b["GcCount"] = mem.NumGC
			b["GcTimeMillis"] = time.Duration(mem.PauseTotalNs).Milliseconds()
			b["ThreadsRunnable"] = runtime.NumGoroutine()
			b["GcNumInfoThresholdExceeded"] = f.GcNumInfoThresholdExceeded
			b["GcNumWarnThresholdExceeded"] = f.GcNumWarnThresholdExceeded
			b["GcTotalExtraSleepTime"] = f.GcTotalExtraSleepTime
		case beanNameNodeStatus:
			b["modelerType"] = "org.apache.hadoop.hdfs.server.namenode.NameNode"
			b["NNRole"] = "NameNode"
			b["State"] = s.HAState()
			if s.cfg.NamenodeID != "" {
				b["NamenodeId"] = s.cfg.NamenodeID
			}
			if c := s.coord; c != nil {
				c.claimMu.Lock()
				if c.claimant != "" {
					b["ActiveCoordinator"] = c.claimant // coordinator HA: the one holding the role
				}
				c.claimMu.Unlock()
			}
			b["SecurityEnabled"] = false
			b["HostAndPort"] = s.listener.Addr().String()
		}
		beans = append(beans, b)
	}
	return beans, nil
}

func needsCoordinator(names []string) bool {
	for _, n := range names {
		if n == beanNameNodeInfo || n == beanFSNamesystemState {
			return true
		}
	}
	return false
}

// percent is HDFS's DFSUtilClient.getPercentUsed: 100 when the capacity is 0.
func percent(used, capacity int64) float64 {
	if capacity <= 0 {
		return 100
	}
	return float64(used) * 100 / float64(capacity)
}

// nodeMaps renders NameNodeInfo's LiveNodes, DeadNodes and DecomNodes:
// JSON objects, as strings, keyed by the datanode's hostname:port.
func nodeMaps(nodes []api.DatanodeView) (live, dead, decom string) {
	lm, dm, cm := map[string]any{}, map[string]any{}, map[string]any{}
	for _, d := range nodes {
		addr := net.JoinHostPort(d.IPAddr, strconv.Itoa(d.HTTPPort))
		key := net.JoinHostPort(d.HostName, strconv.Itoa(d.HTTPPort))
		if d.State == "dead" {
			dm[key] = map[string]any{
				"lastContact": d.LastContact, "decommissioned": d.AdminState == "DECOMMISSIONED",
				"adminState": d.AdminState, "xferaddr": addr,
			}
			continue
		}
		lm[key] = map[string]any{
			"infoAddr": addr, "xferaddr": addr, "lastContact": d.LastContact,
			"usedSpace": d.DfsUsed, "adminState": d.AdminState, "nonDfsUsedSpace": d.NonDfsUsed,
			"capacity": d.Capacity, "numBlocks": d.Blocks, "version": SoftwareVersion,
			"used": d.DfsUsed, "remaining": d.Remaining, "blockPoolUsed": d.BlockPoolUsed,
			"blockPoolUsedPercent": percent(d.BlockPoolUsed, d.Capacity), "volfails": d.FailedVolumes,
			"lastBlockReport": lastReportMinutes(d.LastReport), "storageTypes": strings.Join(slices.Compact(slices.Sorted(slices.Values(d.StorageTypes))), ","),
		}
		if d.AdminState == "DECOMMISSION_INPROGRESS" {
			cm[key] = map[string]any{"xferaddr": addr}
		}
	}
	return jsonString(lm), jsonString(dm), jsonString(cm)
}

// lastReportMinutes is NameNodeInfo's lastBlockReport: minutes since the
// datanode's last full block report (-1: none yet).
func lastReportMinutes(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return int64(time.Since(t) / time.Minute)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v) // maps of strings, numbers and booleans
	return string(b)
}

// objectName is a JMX ObjectName or pattern: a domain and key properties;
// wild means the property list ends in ",*" (other properties allowed).
type objectName struct {
	domain string
	props  map[string]string
	wild   bool
}

func parseObjectName(s string) (objectName, error) {
	domain, rest, ok := strings.Cut(s, ":")
	if !ok || domain == "" || rest == "" {
		return objectName{}, errs.E(errs.IllegalArgument, "Invalid value for parameter \"qry\": %q is not a JMX object name (domain:key=value,...)", s)
	}
	on := objectName{domain: domain, props: map[string]string{}}
	for _, kv := range strings.Split(rest, ",") {
		if kv == "*" {
			on.wild = true
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return objectName{}, errs.E(errs.IllegalArgument, "Invalid value for parameter \"qry\": %q is not a JMX object name (domain:key=value,...)", s)
		}
		on.props[k] = v
	}
	return on, nil
}

// matches reports whether the concrete name n matches pattern p: the
// domain and every property of p equal ("*" as a value or domain matches
// anything), and without ",*" no property of n beyond p's.
func (p objectName) matches(n objectName) bool {
	if p.domain != "*" && p.domain != n.domain {
		return false
	}
	for k, v := range p.props {
		nv, ok := n.props[k]
		if !ok || (v != "*" && v != nv) {
			return false
		}
	}
	return p.wild || len(p.props) == len(n.props)
}
