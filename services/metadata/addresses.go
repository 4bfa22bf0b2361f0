package metadata

import (
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
)

// ownAddresses lists host:port pairs that reach this service: the
// advertised address, then the listener's own, and when it listens on
// every interface the host name, localhost and each interface's address.
// Datanodes accept a WebHDFS namenoderpcaddress only from this list (they
// ask for it over NATS), so that a request cannot make a datanode fetch an
// arbitrary address.
func ownAddresses(listen net.Addr, advertise string) []string {
	var out []string
	add := func(host, port string) {
		a := strings.ToLower(net.JoinHostPort(host, port))
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if h, p, err := net.SplitHostPort(advertise); err == nil {
		add(h, p)
	}
	host, port, err := net.SplitHostPort(listen.String())
	if err != nil {
		return out
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsUnspecified() {
		add(host, port)
		if ip != nil && ip.IsLoopback() {
			add("localhost", port)
		}
		return out
	}
	if name, err := os.Hostname(); err == nil {
		add(name, port)
	}
	add("localhost", port)
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				add(n.IP.String(), port)
			}
		}
	}
	return out
}

// advertisedAddr is the namenoderpcaddress a WebHDFS redirect names: the
// advertised address, else the Host the client used when it is one of the
// service's own addresses, else the first of those.
func (s *Service) advertisedAddr(r *http.Request) string {
	if s.cfg.AdvertiseAddr != "" {
		return s.cfg.AdvertiseAddr
	}
	if slices.Contains(s.httpAddrs, strings.ToLower(r.Host)) || len(s.httpAddrs) == 0 {
		return r.Host
	}
	return s.httpAddrs[0]
}
