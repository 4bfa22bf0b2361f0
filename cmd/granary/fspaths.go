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

// resolve turns a path argument into an absolute path of the cluster at
// base: a URI's path (its authority must be this cluster's: Hadoop's
// "Wrong FS"), or a relative path taken from the user's home directory
// /user/<name>, Hadoop's working directory.
func resolve(base, user, p string) (string, error) {
	if strings.Contains(p, "://") {
		b, err := fsBaseURL(p)
		if err != nil {
			return "", err
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
