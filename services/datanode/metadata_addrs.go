package datanode

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
)

// metadataAddrs caches the metadata service's own HTTP addresses, which it
// tells over NATS (NamespaceInfo.HTTPAddresses).
type metadataAddrs struct {
	mu    sync.Mutex
	addrs []string
	at    time.Time
}

// metadataAddrsTTL is how long a known list answers without asking again.
const metadataAddrsTTL = 10 * time.Second

// checkMetadataAddr accepts a WebHDFS namenoderpcaddress only when the
// metadata service of this datanode's cluster says it is one of its
// addresses: the datanode never fetches from an address a request made up
// (server-side request forgery). A miss asks the metadata service again,
// so a restarted service on a new address is found.
func (s *Service) checkMetadataAddr(ctx context.Context, addr string) error {
	addr = strings.ToLower(addr)
	m := &s.nnAddrs
	m.mu.Lock()
	fresh := time.Since(m.at) < metadataAddrsTTL && slices.Contains(m.addrs, addr)
	m.mu.Unlock()
	if fresh {
		return nil
	}
	// Every nameservice's metadata service, as each may redirect here.
	var addrs []string
	var lastErr error
	for _, a := range s.poolList() {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var ni dnproto.NamespaceInfo
		err := dnproto.Call(cctx, s.nc, dnproto.In(a.ns, dnproto.SubjNamespaceInfo), struct{}{}, &ni)
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		addrs = append(addrs, ni.HTTPAddresses...)
	}
	if len(addrs) == 0 && lastErr != nil {
		return errs.Wrap(errs.Retriable, lastErr, "cannot ask the metadata service for its addresses")
	}
	m.mu.Lock()
	m.addrs, m.at = addrs, time.Now()
	m.mu.Unlock()
	if !slices.Contains(addrs, addr) {
		return errs.E(errs.IllegalArgument, "Invalid value for webhdfs parameter \"namenoderpcaddress\": %s is not an address of this cluster's metadata service (set its -advertise-addr)", addr)
	}
	return nil
}
