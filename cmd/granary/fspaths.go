package main

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
)

// The file system URIs a Hadoop user types: hdfs://host:port/path,
// webhdfs://host:port/path and http://host:port/path all reach the
// metadata service's WebHDFS at http://host:port (Granary has no RPC port:
// hdfs:// is WebHDFS underneath).

// defaultMetadataPort is dfs.namenode.http-address's port, used when a URI
// names none.
const defaultMetadataPort = "9870"

// fsBaseURL turns -fs or fs.defaultFS (a URI or host:port) into the
// metadata service's base URL.
func fsBaseURL(fsURI string) (string, error) {
	if !strings.Contains(fsURI, "://") {
		fsURI = "http://" + fsURI
	}
	u, err := url.Parse(fsURI)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%s: not a file system URI (hdfs://host:port, webhdfs://host:port or http://host:port)", fsURI)
	}
	scheme := "http"
	switch strings.ToLower(u.Scheme) {
	case "hdfs", "webhdfs", "http":
	case "https", "swebhdfs":
		scheme = "https"
	default:
		return "", fmt.Errorf("No FileSystem for scheme %q", u.Scheme)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defaultMetadataPort)
	}
	return scheme + "://" + host, nil
}

// haBases resolves an HA nameservice URI (hdfs://ns1, HDFS's logical
// URI) through Hadoop's client keys: dfs.ha.namenodes.ns1 lists the
// metadata services' IDs and dfs.namenode.http-address.ns1.<id> (or
// https-address for https and swebhdfs) each one's address. It returns
// their base URLs and the nameservice, or nothing when fsURI does not name
// a configured nameservice.
func haBases(fsURI string, conf map[string]string) (bases []string, ns string, err error) {
	u, perr := url.Parse(fsURI)
	if perr != nil || !strings.Contains(fsURI, "://") || u.Port() != "" {
		return nil, "", nil
	}
	ids, ok := conf["dfs.ha.namenodes."+u.Host]
	if !ok {
		return nil, "", nil
	}
	ns = u.Host
	scheme, key := "http", "dfs.namenode.http-address."
	if s := strings.ToLower(u.Scheme); s == "https" || s == "swebhdfs" {
		scheme, key = "https", "dfs.namenode.https-address."
	}
	for _, id := range strings.Split(ids, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		addr, ok := conf[key+ns+"."+id]
		if !ok || addr == "" {
			return nil, "", fmt.Errorf("%s%s.%s is not set (nameservice %s lists %s in dfs.ha.namenodes.%s)", key, ns, id, ns, id, ns)
		}
		bases = append(bases, scheme+"://"+addr)
	}
	if len(bases) == 0 {
		return nil, "", fmt.Errorf("dfs.ha.namenodes.%s lists no metadata service", ns)
	}
	return bases, ns, nil
}

// resolve turns a path argument into an absolute path of the cluster at
// base (or of HA nameservice logical, when set): a URI's path (its
// authority must be this cluster's: Hadoop's "Wrong FS"), or a relative
// path taken from the user's home directory /user/<name>, Hadoop's
// working directory.
func resolve(base, logical, user, p string) (string, error) {
	if strings.Contains(p, "://") {
		b, err := fsBaseURL(p)
		if err != nil {
			return "", err
		}
		if u, _ := url.Parse(p); logical != "" && u != nil && u.Host == logical {
			b = base
		}
		if !sameHost(b, base) {
			return "", fmt.Errorf("Wrong FS: %s, expected: %s", p, base)
		}
		u, _ := url.Parse(p)
		p = u.Path
		if p == "" {
			p = "/"
		}
	}
	if !strings.HasPrefix(p, "/") {
		p = path.Join("/user", user, p)
	}
	return p, nil
}

// sameHost compares two base URLs by host and port, "localhost" and
// 127.0.0.1 being the same.
func sameHost(a, b string) bool {
	norm := func(s string) string {
		u, err := url.Parse(s)
		if err != nil {
			return s
		}
		h := u.Hostname()
		if h == "localhost" || h == "::1" {
			h = "127.0.0.1"
		}
		return strings.ToLower(net.JoinHostPort(h, u.Port()))
	}
	return norm(a) == norm(b)
}
