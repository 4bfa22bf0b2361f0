package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/granary-fs/granary/internal/errs"
)

// fsckCmd is `granary fsck PATH [-files -blocks -locations -racks -openforwrite]`, HDFS's
// fsck: it prints the report and exits 0 when the subtree is HEALTHY, 1
// otherwise.
func fsckCmd(ctx context.Context, args []string, out, errw io.Writer) int {
	conf, args, err := clientConf(args, errw)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 2
	}
	if err := checkAuth(conf); err != nil {
		fmt.Fprintln(errw, err)
		return 2
	}
	base, err := metadataURLs(conf, env("GRANARY_METADATA_URL", "http://localhost:9870"))
	if err != nil {
		fmt.Fprintln(errw, err)
		return 2
	}
	base, _, _ = strings.Cut(base, ",")
	q := url.Values{"user.name": {cmp.Or(conf.Value("user.name"), currentUser())}}
	path := ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-files", "-blocks", "-locations", "-racks", "-openforwrite":
			q.Set(strings.TrimPrefix(a, "-"), "true")
		case "-fs":
			if i+1 < len(args) {
				base = args[i+1]
				i++
			}
		default:
			if strings.HasPrefix(a, "-") || path != "" {
				fmt.Fprintf(errw, "fsck: Illegal option '%s'\nUsage: granary fsck <path> [-openforwrite] [-files [-blocks [-locations | -racks]]]\n", a)
				return 2
			}
			path = a
		}
	}
	if path == "" {
		path = "/"
	}
	q.Set("path", path)
	fmt.Fprintf(out, "Connecting to namenode via %s/api/v1/admin/fsck?%s\n", strings.TrimRight(base, "/"), q.Encode())
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/v1/admin/fsck?"+q.Encode(), nil)
	if err != nil {
		fmt.Fprintln(errw, "fsck:", err)
		return 1
	}
	hc, err := cliHTTPClient()
	if err != nil {
		fmt.Fprintln(errw, "fsck:", err)
		return 1
	}
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Fprintln(errw, "fsck:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(errw, "fsck: %v\n", remoteErr(resp.StatusCode, body))
		return 1
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		fmt.Fprintln(errw, "fsck:", err)
		return 1
	}
	if resp.Header.Get("X-Granary-Fsck-Status") != "HEALTHY" {
		return 1
	}
	return 0
}

func remoteErr(status int, body []byte) error {
	var re struct {
		RemoteException errs.RemoteException
	}
	if err := json.Unmarshal(body, &re); err == nil && re.RemoteException.Exception != "" {
		return errs.FromRemote(status, re.RemoteException)
	}
	return fmt.Errorf("%d %s", status, body)
}
