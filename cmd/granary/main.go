// Command granary is Granary's one binary: the services, the all-in-one
// development cluster, and the operator and benchmark tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/granary-fs/granary/internal/heapfloor"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

const usage = `Usage: granary <command> [arguments]

Services:
  metadata             run the metadata service (HDFS NameNode); see 'granary metadata -h'
  metadata format      format a new namespace [-force] [-clusterid ID]
  metadata genclusterid
  metadata metadataversion
  metadata migrate     apply database migrations and exit
  coordinator          run the coordinator (HDFS BlockManager); see 'granary coordinator -h'
  datanode             run a datanode; see 'granary datanode -h'
  router               run a router over several nameservices (HDFS DFSRouter); see 'granary router -h'

Operations:
  dev                  run the whole cluster in one process (PostgreSQL, NATS, metadata, coordinator, 3 datanodes)
  fs                   file system shell, like hdfs dfs: -ls -put -get -cat -mkdir -rm -mv -du -count -stat ...
  fsck <path>          check the health of a subtree: -files -blocks -locations -racks (like hdfs fsck)
  fetchdt FILE         fetch a delegation token into a token file for HADOOP_TOKEN_FILE_LOCATION; --print, --renew, --cancel (like hdfs fetchdt)
  admin                administer the cluster: -report, -safemode get|enter|leave|wait, -saveNamespace
  bench nn             namespace throughput benchmark (like NNThroughputBenchmark)
  secure-init          nkeys, a nats-server.conf and a throwaway CA for a secured cluster: -dir DIR -hosts h1,h2
  dev-issuer           a development OIDC issuer (signs a token for any user): -url https://host:9871
  natsauth             nkey seeds and a nats-server.conf authorization for the services: -dir DIR -datanodes dn1,dn2
  healthcheck URL      exit 0 when URL answers 200 (container health checks; trusts GRANARY_TLS_CA)
  version              print the version
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "metadata", "coordinator", "datanode", "router", "dev", "bench":
		// The services' heap floor (HADOOP_HEAPSIZE_MIN's kind); the
		// client commands keep Go's collector as it is, small.
		floor, ferr := heapfloor.FromEnv()
		if ferr != nil {
			fmt.Fprintln(os.Stderr, "granary:", ferr)
			os.Exit(2)
		}
		defer heapfloor.Start(floor)()
	}
	switch os.Args[1] {
	case "metadata":
		err = metadataCmd(ctx, args, true)
	case "coordinator":
		err = coordinatorCmd(ctx, args, true)
	case "datanode":
		err = datanodeCmd(ctx, args, true)
	case "router":
		err = routerCmd(ctx, args, true)
	case "secure-init":
		err = secureInitCmd(args, os.Stdout, true)
	case "dev-issuer":
		err = devIssuerCmd(ctx, args, true)
	case "natsauth":
		err = natsauthCmd(args, os.Stdout)
	case "healthcheck":
		err = healthcheckCmd(ctx, args)
	case "admin":
		err = adminCmd(ctx, args, os.Stdout)
	case "fsck":
		os.Exit(fsckCmd(ctx, args, os.Stdout, os.Stderr))
	case "fs", "dfs":
		os.Exit(fsCmd(ctx, args, os.Stdout, os.Stderr))
	case "fetchdt":
		os.Exit(fetchdtCmd(ctx, args, os.Stdout, os.Stderr))
	case "dev":
		err = devCmd(ctx, args)
	case "bench":
		err = benchCmd(ctx, args, os.Stdout)
	case "version", "-version", "--version":
		fmt.Println("granary", version)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "granary: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "granary:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "granary:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// env returns the GRANARY_* environment value of name or def.
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func envBool(name string, def bool) bool {
	if v := os.Getenv(name); v != "" {
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return def
}

func envFloat(name string, def float64) float64 {
	if v := os.Getenv(name); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// currentUser is the caller's name for simple authentication:
// HADOOP_USER_NAME, else the OS user.
func currentUser() string {
	if u := os.Getenv("HADOOP_USER_NAME"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "dr.who"
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// healthcheckCmd is `granary healthcheck URL`: the health check of the
// container images, which have no curl.
func healthcheckCmd(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return usageError{"usage: granary healthcheck URL"}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return err
	}
	hc, err := cliHTTPClient()
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", args[0], resp.Status)
	}
	return nil
}

// validateCommand checks that args form a command line of a service
// subcommand with valid flags, without running it (the compose file test).
func validateCommand(args []string) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	switch args[0] {
	case "metadata":
		return metadataCmd(context.Background(), args[1:], false)
	case "coordinator":
		return coordinatorCmd(context.Background(), args[1:], false)
	case "datanode":
		return datanodeCmd(context.Background(), args[1:], false)
	case "router":
		return routerCmd(context.Background(), args[1:], false)
	case "secure-init":
		return secureInitCmd(args[1:], io.Discard, false)
	case "dev-issuer":
		return devIssuerCmd(context.Background(), args[1:], false)
	case "healthcheck":
		if len(args) != 2 {
			return usageError{"usage: granary healthcheck URL"}
		}
		_, err := url.ParseRequestURI(args[1])
		return err
	}
	return usageError{fmt.Sprintf("not a service command: %q", args[0])}
}
