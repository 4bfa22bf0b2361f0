package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
)

// adminUsage is dfsadmin's command list, as `granary admin` spells it.
const adminUsage = `Usage: granary admin
Note: Administrative commands can only be run as the superuser.
	[-report [-live] [-dead] [-decommissioning]]
	[-safemode <enter | leave | get | wait>]
	[-saveNamespace]
	[-rollEdits]
	[-refreshNodes]
	[-finalizeUpgrade]
	[-printTopology]
	[-metasave]
	[-decommission <datanode UUID>]
	[-recommission <datanode UUID>]
	[-refreshNamenodes <datanode host:port>]
	[-router -add <source> <nameservice> <destination>]   (like hdfs dfsrouteradmin)
	[-router -update <source> <nameservice> <destination>]
	[-router -rm <source>]
	[-router -ls]
	[-getServiceState <metadata URL>] [-getAllServiceState]   (like hdfs haadmin; -fs may list several)
	[-transitionToStandby <metadata URL>] [-failover <from URL> <to URL>]
	[-help]
Generic options: -conf <file>, -D <key=value>, -fs <metadata service URL>, -coordinator <coordinator URL>, -user <name>
`

// adminCmd is `granary admin`, HDFS's dfsadmin: it prints what dfsadmin prints.
func adminCmd(ctx context.Context, args []string, out io.Writer) error {
	// Hadoop's configuration and generic options (-conf, -D) first: they
	// give -fs and -user their defaults.
	conf, args, err := clientConf(args, os.Stderr)
	if err != nil {
		return usageError{err.Error()}
	}
	if err := checkAuth(conf); err != nil {
		return usageError{err.Error()}
	}
	defaultFS, err := metadataURLs(conf, env("GRANARY_METADATA_URL", "http://localhost:9870"))
	if err != nil {
		return usageError{err.Error()}
	}
	fs := flag.NewFlagSet("granary admin", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), adminUsage) }
	addr := fs.String("fs", defaultFS, "metadata service URL (fs.defaultFS, GRANARY_METADATA_URL)")
	userName := fs.String("user", cmp.Or(conf.Value("user.name"), currentUser()), "caller (user.name, HADOOP_USER_NAME)")
	safemode := fs.String("safemode", "", "get, enter, leave or wait")
	save := fs.Bool("saveNamespace", false, "save the namespace as a new fsimage (in safe mode)")
	report := fs.Bool("report", false, "print the cluster's capacity and datanodes, as dfsadmin -report")
	live := fs.Bool("live", false, "-report: live datanodes only")
	dead := fs.Bool("dead", false, "-report: dead datanodes only")
	decommissioning := fs.Bool("decommissioning", false, "-report: decommissioning datanodes only")
	topology := fs.Bool("printTopology", false, "print the datanodes by rack, as dfsadmin -printTopology")
	decom := fs.String("decommission", "", "start decommissioning the datanode with this UUID")
	recom := fs.String("recommission", "", "return the datanode with this UUID to service")
	refresh := fs.Bool("refreshNodes", false, "re-read the coordinator's hosts exclude file")
	finalize := fs.Bool("finalizeUpgrade", false, "finalize the upgrade: datanodes delete the previous layout of upgraded block pool slices")
	roll := fs.Bool("rollEdits", false, "roll the edit log (make every edit durable, print the next txid)")
	metasave := fs.Bool("metasave", false, "print the coordinator's block queues")
	refreshNN := fs.String("refreshNamenodes", "", "make the datanode at host:port re-read its nameservices and start or stop block pool services")
	routerAdmin := fs.Bool("router", false, "administer the router's mount table (-add, -update, -rm, -ls), as hdfs dfsrouteradmin")
	routerURL := fs.String("router-url", env("GRANARY_ROUTER_URL", "http://localhost:50071"), "router URL, for -router (GRANARY_ROUTER_URL)")
	mountAdd := fs.String("add", "", "-router: add the mount point <source> <nameservice> <destination>")
	mountUpdate := fs.String("update", "", "-router: change the mount point <source> <nameservice> <destination>")
	mountRm := fs.String("rm", "", "-router: remove the mount point <source>")
	mountLs := fs.Bool("ls", false, "-router: list the mount table")
	serviceState := fs.String("getServiceState", "", "print the HA state (active or standby) of the metadata service at this URL, as hdfs haadmin")
	allStates := fs.Bool("getAllServiceState", false, "print the HA state of every metadata service -fs lists, as hdfs haadmin")
	toStandby := fs.String("transitionToStandby", "", "make the active metadata service at this URL give up (it drains and ends; a standby takes over)")
	failover := fs.String("failover", "", "<from URL> <to URL>: graceful failover from the active to the standby named after it")
	coordURL := fs.String("coordinator", env("GRANARY_COORDINATOR_URL", "http://localhost:9880"), "coordinator URL, for -report (GRANARY_COORDINATOR_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *failover != "" || *routerAdmin {
		hc, err := cliHTTPClient()
		if err != nil {
			return err
		}
		if *failover != "" {
			if fs.NArg() != 1 {
				return usageError{"usage: granary admin -failover <from URL> <to URL>"}
			}
			return haFailover(ctx, out, hc, strings.TrimRight(*failover, "/"), strings.TrimRight(fs.Arg(0), "/"), *userName)
		}
		rc := &adminClient{base: strings.TrimRight(*routerURL, "/"), user: *userName, http: hc}
		return routerAdminCmd(ctx, rc, out, *mountAdd, *mountUpdate, *mountRm, *mountLs, fs.Args())
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments: %v", fs.Args())}
	}
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{"no admin command given"}
	}
	hc, err := cliHTTPClient()
	if err != nil {
		return err
	}
	hc.Timeout = 15 * time.Minute
	c := &adminClient{base: strings.TrimRight(*addr, "/"), user: *userName, http: hc}
	switch {
	case *safemode != "":
		switch *safemode {
		case "get", "enter", "leave", "wait":
		default:
			return usageError{fmt.Sprintf("invalid -safemode action %q: use get, enter, leave or wait", *safemode)}
		}
		var st api.SafeModeStatus
		if err := c.post(ctx, "/api/v1/admin/safemode/"+*safemode, &st); err != nil {
			return err
		}
		state := "OFF"
		if st.On {
			state = "ON"
		}
		fmt.Fprintf(out, "Safe mode is %s\n", state)
		return nil
	case *report:
		return printReport(ctx, strings.TrimRight(*coordURL, "/"), out, reportFilter{*live, *dead, *decommissioning})
	case *topology:
		return printTopology(ctx, strings.TrimRight(*coordURL, "/"), out)
	case *roll:
		var r api.SaveNamespaceResponse
		if err := c.post(ctx, "/api/v1/admin/rollEdits", &r); err != nil {
			return err
		}
		fmt.Fprintf(out, "Successfully rolled edit logs.\nNew segment starts at txid %d\n", r.TxID)
		return nil
	case *refresh:
		cc := &adminClient{base: strings.TrimRight(*coordURL, "/"), user: *userName, http: c.http}
		var r api.RefreshNodesResponse
		if err := cc.post(ctx, "/api/v1/admin/refreshNodes", &r); err != nil {
			return err
		}
		fmt.Fprintln(out, "Refresh nodes successful")
		return nil
	case *finalize:
		// The metadata service first, then the coordinator, whose
		// full-report replies make the datanodes finalize theirs.
		var r api.BooleanResponse
		if err := c.post(ctx, "/api/v1/admin/finalizeUpgrade", &r); err != nil {
			return err
		}
		cc := &adminClient{base: strings.TrimRight(*coordURL, "/"), user: *userName, http: c.http}
		if err := cc.post(ctx, "/api/v1/admin/finalizeUpgrade", &r); err != nil {
			return err
		}
		fmt.Fprintln(out, "Finalize upgrade successful")
		return nil
	case *metasave:
		resp, err := c.http.Get(strings.TrimRight(*coordURL, "/") + "/api/v1/admin/metasave?user.name=" + url.QueryEscape(*userName))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			return remoteErr(resp.StatusCode, body)
		}
		_, err = io.Copy(out, resp.Body)
		return err
	case *decom != "" || *recom != "":
		id, action := *decom, "decommission"
		if id == "" {
			id, action = *recom, "recommission"
		}
		cc := &adminClient{base: strings.TrimRight(*coordURL, "/"), user: *userName, http: c.http}
		var v api.DatanodeView
		if err := cc.post(ctx, "/api/v1/datanodes/"+url.PathEscape(id)+"/"+action, &v); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s %s: %s (%s:%d)\n", map[string]string{"decommission": "Decommission", "recommission": "Recommission"}[action], id, v.AdminState, v.IPAddr, v.HTTPPort)
		return nil
	case *refreshNN != "":
		// The datanode is reached the way the metadata service is (http
		// or https).
		scheme := "http"
		if strings.HasPrefix(*addr, "https://") {
			scheme = "https"
		}
		dc := &adminClient{base: scheme + "://" + *refreshNN, user: *userName, http: c.http}
		var r api.BooleanResponse
		return dc.post(ctx, "/api/v1/admin/refreshNamenodes", &r)
	case *toStandby != "":
		sc := &adminClient{base: strings.TrimRight(*toStandby, "/"), user: *userName, http: c.http}
		return sc.send(ctx, http.MethodPost, "/api/v1/admin/transitionToStandby", nil, nil, &api.BooleanResponse{})
	case *serviceState != "" || *allStates:
		urls := []string{*serviceState}
		if *allStates {
			urls = strings.Split(*addr, ",")
		}
		for _, u := range urls {
			u = strings.TrimRight(strings.TrimSpace(u), "/")
			state, err := haState(ctx, c.http, u, *userName)
			if err != nil {
				if !*allStates {
					return err
				}
				state = "unreachable: " + err.Error()
			}
			if *allStates {
				fmt.Fprintf(out, "%-40s %s\n", strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"), state)
			} else {
				fmt.Fprintln(out, state)
			}
		}
		return nil
	case *save:
		var r api.SaveNamespaceResponse
		if err := c.post(ctx, "/api/v1/admin/saveNamespace", &r); err != nil {
			return err
		}
		fmt.Fprintln(out, "Save namespace successful")
		return nil
	}
	fs.Usage()
	return usageError{"no admin command given"}
}

type adminClient struct {
	base, user string
	http       *http.Client
}

func (c *adminClient) post(ctx context.Context, path string, out any) error {
	u := c.base + path + "?user.name=" + url.QueryEscape(c.user)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var re errs.RemoteExceptionBody
		if json.Unmarshal(body, &re) == nil && re.RemoteException.Exception != "" {
			return errs.FromRemote(resp.StatusCode, re.RemoteException)
		}
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return json.Unmarshal(body, out)
}

// routerAdminCmd is `granary admin -router`, HDFS's dfsrouteradmin on the
// mount table: -add and -update take <source> then <nameservice>
// <destination> as arguments, -rm <source>, -ls prints the table.
func routerAdminCmd(ctx context.Context, c *adminClient, out io.Writer, add, update, rm string, ls bool, rest []string) error {
	switch {
	case add != "" || update != "":
		src, verb := add, "added"
		if src == "" {
			src, verb = update, "updated"
		}
		if len(rest) != 2 {
			return usageError{"usage: granary admin -router -add|-update <source> <nameservice> <destination>"}
		}
		body, _ := json.Marshal(api.MountEntry{Source: src, Nameservice: rest[0], Destination: rest[1]})
		if err := c.send(ctx, http.MethodPut, "/api/v1/router/mounttable", nil, body, &api.MountTable{}); err != nil {
			return err
		}
		fmt.Fprintf(out, "Successfully %s mount point %s\n", verb, src)
		return nil
	case rm != "":
		if err := c.send(ctx, http.MethodDelete, "/api/v1/router/mounttable", url.Values{"source": {rm}}, nil, &api.MountTable{}); err != nil {
			return err
		}
		fmt.Fprintf(out, "Successfully removed mount point %s\n", rm)
		return nil
	case ls:
		var t api.MountTable
		if err := c.send(ctx, http.MethodGet, "/api/v1/router/mounttable", nil, nil, &t); err != nil {
			return err
		}
		fmt.Fprintf(out, "Mount Table Entries:\n%-30s %-30s\n", "Source", "Destinations")
		for _, e := range t.Entries {
			fmt.Fprintf(out, "%-30s %-30s\n", e.Source, e.Nameservice+"->"+e.Destination)
		}
		return nil
	}
	return usageError{"granary admin -router: give -add, -update, -rm or -ls"}
}

// send makes one request with a JSON body (may be nil) and decodes the
// JSON answer.
func (c *adminClient) send(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	if q == nil {
		q = url.Values{}
	}
	q.Set("user.name", c.user)
	req, err := http.NewRequestWithContext(ctx, method, c.base+path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return remoteErr(resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

// haState asks the metadata service at base for its HA state (the
// NameNodeStatus JMX bean's State, as haadmin reads it over RPC).
func haState(ctx context.Context, hc *http.Client, base, user string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/jmx?qry="+url.QueryEscape("Hadoop:service=NameNode,name=NameNodeStatus")+"&user.name="+url.QueryEscape(user), nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", remoteErr(resp.StatusCode, data)
	}
	var jmx struct{ Beans []map[string]any }
	if err := json.Unmarshal(data, &jmx); err != nil || len(jmx.Beans) == 0 {
		return "", fmt.Errorf("%s: no NameNodeStatus bean", base)
	}
	state, _ := jmx.Beans[0]["State"].(string)
	return state, nil
}

// haFailover is haadmin -failover: the active at from gives up (it stops
// taking requests, drains those in flight and ends), then the standby at
// to is waited for until it is active.
func haFailover(ctx context.Context, out io.Writer, hc *http.Client, from, to, user string) error {
	if st, err := haState(ctx, hc, to, user); err != nil {
		return err
	} else if st != "standby" {
		return fmt.Errorf("failover target %s is %s, not standby", to, st)
	}
	fc := &adminClient{base: from, user: user, http: hc}
	if err := fc.send(ctx, http.MethodPost, "/api/v1/admin/transitionToStandby", nil, nil, &api.BooleanResponse{}); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if st, err := haState(ctx, hc, to, user); err == nil && st == "active" {
			fmt.Fprintf(out, "Failover to %s successful\n", to)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("failover: %s did not become active within 2 minutes", to)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
