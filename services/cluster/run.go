package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

type member struct {
	cancel context.CancelFunc
	done   chan error
}

// start runs a service with its own context until stopMember; a service
// that stops by itself is reported on c.failed.
func (c *Cluster) start(ctx context.Context, name string, run func(context.Context) error, started <-chan struct{}) error {
	mctx, cancel := context.WithCancel(context.Background())
	m := &member{cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := run(mctx)
		if mctx.Err() == nil {
			select {
			case c.failed <- fmt.Errorf("%s stopped: %v", name, err):
			default:
			}
		}
		m.done <- err
	}()
	select {
	case <-started:
	case <-ctx.Done():
		cancel()
		<-m.done
		return ctx.Err()
	}
	select {
	case err := <-m.done:
		cancel()
		return fmt.Errorf("%s failed to start: %w", name, err)
	default:
	}
	c.members[name] = m
	return nil
}

func (c *Cluster) stopMember(name string) error {
	m := c.members[name]
	if m == nil {
		return nil
	}
	delete(c.members, name)
	m.cancel()
	return <-m.done
}

// startNATS runs n embedded NATS servers (JetStream on, in its own store
// directory, when n is 1): the first on addr, "127.0.0.1:4222" by default
// ("127.0.0.1:0" picks a port), the others on the ports after it. Several
// form a NATS cluster: each routes to the first, whose gossip completes the
// mesh.
func startNATS(addr, storeDir string, n int, users []*server.NkeyUser, tlsCfg *tls.Config) ([]*server.Server, error) {
	if addr == "" {
		addr = "127.0.0.1:4222"
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("NATS address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("NATS address %q: %w", addr, err)
	}
	n = max(n, 1)
	var servers []*server.Server
	for i := range n {
		opts := &server.Options{
			Host: host, Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
			MaxPayload: 8 << 20, Nkeys: users, TLSConfig: tlsCfg, TLS: tlsCfg != nil, TLSTimeout: 5,
		}
		if port != 0 {
			opts.Port = port + i
		}
		if n == 1 {
			opts.JetStream, opts.StoreDir = true, storeDir
		} else {
			opts.ServerName = fmt.Sprintf("granary-nats-%d", i+1)
			opts.Cluster = server.ClusterOpts{Name: "granary", Host: host, Port: server.RANDOM_PORT}
			if i > 0 {
				opts.Routes = []*url.URL{{Scheme: "nats", Host: servers[0].ClusterAddr().String()}}
			}
		}
		ns, err := server.NewServer(opts)
		if err != nil {
			shutdownNATS(servers)
			return nil, fmt.Errorf("embedded NATS: %w", err)
		}
		ns.Start()
		servers = append(servers, ns)
		if !ns.ReadyForConnections(10 * time.Second) {
			shutdownNATS(servers)
			return nil, fmt.Errorf("embedded NATS on %s:%d did not start", host, opts.Port)
		}
	}
	// A cluster serves once every server routes to every other.
	deadline := time.Now().Add(10 * time.Second)
	for _, ns := range servers {
		for n > 1 && ns.NumRemotes() < n-1 {
			if time.Now().After(deadline) {
				shutdownNATS(servers)
				return nil, fmt.Errorf("embedded NATS cluster: %s routes to %d servers of %d", ns.Name(), ns.NumRemotes(), n-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return servers, nil
}

func shutdownNATS(servers []*server.Server) {
	for _, ns := range servers {
		ns.Shutdown()
	}
}
