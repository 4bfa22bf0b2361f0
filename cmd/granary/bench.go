package main

import (
	"context"
	"io"

	"github.com/granary-fs/granary/services/cluster/failbench"
	"github.com/granary-fs/granary/services/cluster/iobench"
	"github.com/granary-fs/granary/services/coordinator/cobench"
	"github.com/granary-fs/granary/services/datanode/dnbench"
	"github.com/granary-fs/granary/services/metadata/nnbench"
)

const benchUsage = `usage: granary bench nn|coordinator|dnscan|io|smallfiles|put|rereplication|failover [flags]
  nn           -op create|mkdirs|open|fileStatus|listStatus|rename|delete|httpFileStatus|heap|imageLoad|all [-threads N] [-files M] [-nogather] [-cpuprofile F]
  coordinator  -op fbr|heartbeat|heartbeat-nats|all [-blocks N] [-datanodes N] [-duration D]
  dnscan       [-replicas N] [-volumes N] [-dir DIR]
  io           [-nrFiles N] [-fileSize MB] [-blockSize MB] [-synconclose] [-syncbehindwrites] [-dropbehindwrites] [-rounds N] [-auth simple|token|both]   (like TestDFSIO)
  smallfiles   [-files N] [-clients N] [-size BYTES] [-auth simple|token|both] [-cpuprofile F] [-memprofile F]   (like weed benchmark)
  put          [-size MB] [-bin GRANARY]   (granary fs -put of one file as its own process: its peak RSS)
  rereplication [-blocks N] [-blockSize BYTES] [-datanodes N] [-redundancy-interval D] [-max-streams N]
  failover     [-runs N] [-clients N]   (kill -9 of the active metadata service under load: takeover, errors, lost)
               -coordinator [-files N] [-watch D]   (the active coordinator stopped: takeover, first command, transfers after)`

// benchCmd is `granary bench ...`.
func benchCmd(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError{benchUsage}
	}
	switch args[0] {
	case "nn":
		return nnbench.Main(ctx, args[1:], out)
	case "coordinator":
		return cobench.Main(ctx, args[1:], out)
	case "dnscan":
		return dnbench.Main(ctx, args[1:], out)
	case "io":
		return iobench.IOMain(ctx, args[1:], out)
	case "smallfiles":
		return iobench.SmallFilesMain(ctx, args[1:], out)
	case "put":
		return iobench.PutMain(ctx, args[1:], out)
	case "rereplication":
		return iobench.ReReplicationMain(ctx, args[1:], out)
	case "failover":
		return failbench.Main(ctx, args[1:], out)
	}
	return usageError{benchUsage}
}
