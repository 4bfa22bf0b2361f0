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
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var ni dnproto.NamespaceInfo
	if err := dnproto.Call(cctx, s.actor.nc, s.subj(dnproto.SubjNamespaceInfo), struct{}{}, &ni); err != nil {
		return errs.Wrap(errs.Retriable, err, "cannot ask the metadata service for its addresses")
	}
	m.mu.Lock()
	m.addrs, m.at = ni.HTTPAddresses, time.Now()
	m.mu.Unlock()
	if !slices.Contains(ni.HTTPAddresses, addr) {
		return errs.E(errs.IllegalArgument, "Invalid value for webhdfs parameter \"namenoderpcaddress\": %s is not an address of this cluster's metadata service (set its -advertise-addr)", addr)
	}
	return nil
}
