package main

import (
	"context"
	"io"

	"github.com/granary-fs/granary/services/metadata/nnbench"
)

// benchCmd is `granary bench nn ...`.
func benchCmd(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "nn" {
		return usageError{"usage: granary bench nn -op create|mkdirs|open|fileStatus|rename|delete|listStatus|httpFileStatus|heap|imageLoad|all [-threads N] [-files M]"}
	}
	return nnbench.Main(ctx, args[1:], out)
}
