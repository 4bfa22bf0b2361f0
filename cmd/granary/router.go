package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/granary-fs/granary/services/router"
)

// routerCmd is `granary router`, HDFS's DFSRouter.
func routerCmd(ctx context.Context, args []string, run bool) error {
	fs := flag.NewFlagSet("granary router", flag.ContinueOnError)
	if !run {
		fs.SetOutput(io.Discard)
	}
	cfg := router.Config{Nameservices: map[string]string{}}
	fs.StringVar(&cfg.HTTPAddr, "http-addr", env("GRANARY_ROUTER_HTTP_ADDR", ":50071"), "dfs.federation.router.http-address (GRANARY_ROUTER_HTTP_ADDR)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", env("GRANARY_ROUTER_DATABASE_URL", ""), "PostgreSQL URL of the mount table, the router's State Store (GRANARY_ROUTER_DATABASE_URL)")
	nsFlag := func(v string) error {
		for _, e := range splitList(v) {
			ns, u, ok := strings.Cut(e, "=")
			if !ok || ns == "" || !strings.Contains(u, "://") {
				return fmt.Errorf("-nameservice %q: want ns1=http://host:9870", e)
			}
			if prev := cfg.Nameservices[ns]; prev != "" {
				u = prev + "," + u // HA: the nameservice's next metadata service
			}
			cfg.Nameservices[ns] = u
		}
		return nil
	}
	if err := nsFlag(env("GRANARY_ROUTER_NAMESERVICES", "")); err != nil {
		return err
	}
	fs.Func("nameservice", "repeatable: a nameservice and its metadata service, ns1=http://host:9870; repeated for one nameservice, its HA metadata services, between which the router fails over (GRANARY_ROUTER_NAMESERVICES, comma separated)", nsFlag)
	fs.StringVar(&cfg.Superuser, "superuser", env("GRANARY_SUPERUSER", ""), "superuser name, who may change the mount table; default the user running the router (GRANARY_SUPERUSER)")
	fs.StringVar(&cfg.Supergroup, "supergroup", env("GRANARY_SUPERGROUP", "supergroup"), "dfs.permissions.superusergroup (GRANARY_SUPERGROUP)")
	authFlags(fs, &cfg.Auth)
	fs.DurationVar(&cfg.HTTPIdleTimeout, "http-idle-timeout", envDuration("GRANARY_HTTP_IDLE_TIMEOUT", 60e9), "hadoop.http.idle_timeout.ms (GRANARY_HTTP_IDLE_TIMEOUT)")
	level := fs.String("log-level", env("GRANARY_LOG_LEVEL", "info"), "debug, info, warn or error (GRANARY_LOG_LEVEL)")
	props, confMsgs, err := parseServiceFlags(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments: %v", fs.Args())}
	}
	cfg.Conf = props
	if cfg.Superuser == "" {
		cfg.Superuser = currentUser()
	}
	cfg.Logger = newLogger(os.Stderr, *level)
	logConf(cfg.Logger, confMsgs)
	if !run {
		return nil
	}
	if cfg.DatabaseURL == "" {
		return usageError{"granary router: -database-url (or GRANARY_ROUTER_DATABASE_URL) is required"}
	}
	svc, err := router.New(cfg)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
