package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/granary-fs/granary/internal/natsauth"
)

// natsauthCmd is `granary natsauth`: the nkey seeds of the metadata
// service, the coordinator and each named datanode (kept when they exist)
// and the authorization block of a nats-server.conf that gives each
// identity exactly its subjects (docs/security.md).
func natsauthCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("granary natsauth", flag.ContinueOnError)
	dir := fs.String("dir", env("GRANARY_NATSAUTH_DIR", ""), "where the seeds (<identity>.nk) and nats-auth.conf go (GRANARY_NATSAUTH_DIR)")
	dns := fs.String("datanodes", env("GRANARY_NATSAUTH_DATANODES", "dn1,dn2,dn3"), "the datanodes' NATS identities, comma separated (each runs with -nats-identity NAME) (GRANARY_NATSAUTH_DATANODES)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		return usageError{"usage: granary natsauth -dir DIR [-datanodes dn1,dn2,dn3]"}
	}
	ids, err := natsauth.Generate(*dir, splitList(*dns))
	if err != nil {
		return err
	}
	conf := filepath.Join(*dir, "nats-auth.conf")
	if err := os.WriteFile(conf, []byte(natsauth.Config(ids)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s and the seeds of %d identities in %s\n", conf, len(ids), *dir)
	fmt.Fprintf(out, "nats-server: include it from the server's config (include %q), or run nats-server -c %s\n", "nats-auth.conf", conf)
	fmt.Fprintf(out, "services: -nats-nkey-file %s/<identity>.nk (datanodes also -nats-identity <identity>)\n", *dir)
	return nil
}
