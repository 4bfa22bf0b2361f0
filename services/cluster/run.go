package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
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

// startNATS runs an embedded NATS server (JetStream on, in its own store
// directory) on addr, "127.0.0.1:4222" by default ("127.0.0.1:0" picks a port).
func startNATS(addr, storeDir string, users []*server.NkeyUser, tlsCfg *tls.Config) (*server.Server, error) {
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
	if port == 0 {
		port = server.RANDOM_PORT
	}
	ns, err := server.NewServer(&server.Options{
		Host: host, Port: port, JetStream: true, StoreDir: storeDir, NoSigs: true, NoLog: true,
		MaxPayload: 8 << 20, Nkeys: users, TLSConfig: tlsCfg, TLS: tlsCfg != nil, TLSTimeout: 5,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded NATS on %s did not start", addr)
	}
	return ns, nil
}
