package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/rest"
	"github.com/granary-fs/granary/internal/units"
)

// reportFilter is -report's -live, -dead and -decommissioning: with none
// set, every section is printed.
type reportFilter struct{ live, dead, decommissioning bool }

func (f reportFilter) all() bool { return !f.live && !f.dead && !f.decommissioning }

// printReport prints the cluster as `hdfs dfsadmin -report` does.
func printReport(ctx context.Context, coordURL string, out io.Writer, filter reportFilter) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var cl api.ClusterView
	if err := rest.GetJSON(ctx, coordURL+"/api/v1/cluster", &cl); err != nil {
		return err
	}
	var dns api.DatanodeList
	if err := rest.GetJSON(ctx, coordURL+"/api/v1/datanodes", &dns); err != nil {
		return err
	}
	present := cl.DfsUsed + cl.Remaining
	fmt.Fprintf(out, "Configured Capacity: %d (%s)\n", cl.Capacity, units.ByteDesc(cl.Capacity))
	fmt.Fprintf(out, "Present Capacity: %d (%s)\n", present, units.ByteDesc(present))
	fmt.Fprintf(out, "DFS Remaining: %d (%s)\n", cl.Remaining, units.ByteDesc(cl.Remaining))
	fmt.Fprintf(out, "DFS Used: %d (%s)\n", cl.DfsUsed, units.ByteDesc(cl.DfsUsed))
	fmt.Fprintf(out, "DFS Used%%: %s\n", percent(cl.DfsUsed, present))
	fmt.Fprintf(out, "Replicated Blocks:\n")
	fmt.Fprintf(out, "\tUnder replicated blocks: %d\n", cl.UnderReplicated)
	fmt.Fprintf(out, "\tBlocks with corrupt replicas: %d\n", 0)
	fmt.Fprintf(out, "\tMissing blocks: %d\n", cl.Missing)
	fmt.Fprintf(out, "\tMissing blocks (with replication factor 1): %d\n", 0)
	fmt.Fprintf(out, "\tPending deletion blocks: %d\n", 0)
	fmt.Fprintln(out)
	fmt.Fprintln(out, "-------------------------------------------------")
	for _, section := range []struct {
		title, state string
		on           bool
	}{
		{"Live", "live", filter.all() || filter.live}, {"Stale", "stale", filter.all()}, {"Dead", "dead", filter.all() || filter.dead},
		{"Decommissioning", "decommissioning", filter.decommissioning},
	} {
		if !section.on {
			continue
		}
		var nodes []api.DatanodeView
		for _, d := range dns.Datanodes {
			if d.State == section.state || section.state == "decommissioning" && d.AdminState == "DECOMMISSION_INPROGRESS" {
				nodes = append(nodes, d)
			}
		}
		if section.state == "stale" && len(nodes) == 0 {
			continue
		}
		fmt.Fprintf(out, "%s datanodes (%d):\n\n", section.title, len(nodes))
		for _, d := range nodes {
			printDatanode(out, d)
		}
	}
	return nil
}

// printTopology prints the datanodes by rack, as `hdfs dfsadmin
// -printTopology` does.
func printTopology(ctx context.Context, coordURL string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var dns api.DatanodeList
	if err := rest.GetJSON(ctx, coordURL+"/api/v1/datanodes", &dns); err != nil {
		return err
	}
	racks := map[string][]api.DatanodeView{}
	for _, d := range dns.Datanodes {
		racks[d.Rack] = append(racks[d.Rack], d)
	}
	names := make([]string, 0, len(racks))
	for r := range racks {
		names = append(names, r)
	}
	sort.Strings(names)
	for _, r := range names {
		fmt.Fprintf(out, "Rack: %s\n", r)
		nodes := racks[r]
		sort.Slice(nodes, func(i, j int) bool {
			return fmt.Sprintf("%s:%d", nodes[i].IPAddr, nodes[i].HTTPPort) < fmt.Sprintf("%s:%d", nodes[j].IPAddr, nodes[j].HTTPPort)
		})
		for _, d := range nodes {
			state := map[string]string{"NORMAL": "In Service", "DECOMMISSION_INPROGRESS": "Decommission In Progress", "DECOMMISSIONED": "Decommissioned"}[d.AdminState]
			fmt.Fprintf(out, "   %s:%d (%s) %s\n", d.IPAddr, d.HTTPPort, d.HostName, state)
		}
		fmt.Fprintln(out)
	}
	return nil
}

func printDatanode(out io.Writer, d api.DatanodeView) {
	fmt.Fprintf(out, "Name: %s:%d (%s)\n", d.IPAddr, d.HTTPPort, d.HostName)
	fmt.Fprintf(out, "Hostname: %s\n", d.HostName)
	if d.Rack != "/default-rack" {
		fmt.Fprintf(out, "Rack: %s\n", d.Rack)
	}
	status := map[string]string{
		"NORMAL": "Normal", "DECOMMISSION_INPROGRESS": "Decommission in progress", "DECOMMISSIONED": "Decommissioned",
	}[d.AdminState]
	fmt.Fprintf(out, "Decommission Status : %s\n", status)
	fmt.Fprintf(out, "Storage types: %s\n", storageTypes(d.StorageTypes))
	fmt.Fprintf(out, "Configured Capacity: %d (%s)\n", d.Capacity, units.ByteDesc(d.Capacity))
	fmt.Fprintf(out, "DFS Used: %d (%s)\n", d.DfsUsed, units.ByteDesc(d.DfsUsed))
	fmt.Fprintf(out, "Non DFS Used: %d (%s)\n", d.NonDfsUsed, units.ByteDesc(d.NonDfsUsed))
	fmt.Fprintf(out, "DFS Remaining: %d (%s)\n", d.Remaining, units.ByteDesc(d.Remaining))
	fmt.Fprintf(out, "DFS Used%%: %s\n", percent(d.DfsUsed, d.Capacity))
	fmt.Fprintf(out, "DFS Remaining%%: %s\n", percentRemaining(d.Remaining, d.Capacity))
	fmt.Fprintf(out, "Configured Cache Capacity: %d (%s)\n", d.CacheCapacity, units.ByteDesc(d.CacheCapacity))
	fmt.Fprintf(out, "Cache Used: %d (%s)\n", d.CacheUsed, units.ByteDesc(d.CacheUsed))
	fmt.Fprintf(out, "Cache Remaining: %d (%s)\n", d.CacheCapacity-d.CacheUsed, units.ByteDesc(d.CacheCapacity-d.CacheUsed))
	fmt.Fprintf(out, "Cache Used%%: %s\n", percent(d.CacheUsed, d.CacheCapacity))
	fmt.Fprintf(out, "Cache Remaining%%: %s\n", percentRemaining(d.CacheCapacity-d.CacheUsed, d.CacheCapacity))
	fmt.Fprintf(out, "Xceivers: %d\n", d.XceiverCount)
	fmt.Fprintf(out, "Last contact: %s\n", d.LastHeartbeat.Local().Format(javaDate))
	if !d.LastReport.IsZero() {
		fmt.Fprintf(out, "Last Block Report: %s\n", d.LastReport.Local().Format(javaDate))
	} else {
		fmt.Fprintf(out, "Last Block Report: Never\n")
	}
	fmt.Fprintf(out, "Num of Blocks: %d\n", d.Blocks)
	if d.FailedVolumes > 0 {
		fmt.Fprintf(out, "Volume Failures: %d\n", d.FailedVolumes)
	}
	fmt.Fprintln(out)
}

// javaDate is java.util.Date's toString layout, which dfsadmin prints.
const javaDate = "Mon Jan 02 15:04:05 MST 2006"

// percent is DFSUtilClient.getPercentUsed: 100% of nothing is used.
func percent(part, whole int64) string {
	if whole <= 0 {
		return "100.00%"
	}
	return fmt.Sprintf("%.2f%%", float64(part)*100/float64(whole))
}

// percentRemaining is DFSUtilClient.getPercentRemaining: 0% of nothing remains.
func percentRemaining(part, whole int64) string {
	if whole <= 0 {
		return "0.00%"
	}
	return fmt.Sprintf("%.2f%%", float64(part)*100/float64(whole))
}

// storageTypes counts a datanode's storages by type: "DISK (2), SSD (1)".
func storageTypes(types []string) string {
	count := map[string]int{}
	var order []string
	for _, t := range types {
		if count[t] == 0 {
			order = append(order, t)
		}
		count[t]++
	}
	parts := make([]string, len(order))
	for i, t := range order {
		parts[i] = fmt.Sprintf("%s (%d)", t, count[t])
	}
	return strings.Join(parts, ", ")
}
