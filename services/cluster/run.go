package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// runGroup runs the services, each with its own context, and stops them in
// the reverse order of their start (datanodes, coordinator, metadata).
type runGroup struct {
	mu      sync.Mutex
	members []*member
	failed  chan error
}

type member struct {
	name   string
	cancel context.CancelFunc
	done   chan error
}

func (g *runGroup) start(ctx context.Context, name string, run func(context.Context) error, started <-chan struct{}) error {
	g.mu.Lock()
	if g.failed == nil {
		g.failed = make(chan error, 16)
	}
	g.mu.Unlock()
	mctx, cancel := context.WithCancel(context.Background())
	m := &member{name: name, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := run(mctx)
		m.done <- err
		if mctx.Err() == nil {
			g.failed <- fmt.Errorf("%s stopped: %v", name, err)
		}
	}()
	select {
	case <-started:
	case <-ctx.Done():
		cancel()
		return ctx.Err()
	}
	select {
	case err := <-m.done:
		cancel()
		return fmt.Errorf("%s failed to start: %w", name, err)
	default:
	}
	g.mu.Lock()
	g.members = append(g.members, m)
	g.mu.Unlock()
	return nil
}

// wait blocks until ctx is done or a member stops by itself.
func (g *runGroup) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-g.failed:
		return err
	}
}

// stop stops the members, last started first.
func (g *runGroup) stop() {
	g.mu.Lock()
	ms := g.members
	g.members = nil
	g.mu.Unlock()
	for i := len(ms) - 1; i >= 0; i-- {
		ms[i].cancel()
		<-ms[i].done
	}
}

// startNATS runs an embedded NATS server (JetStream on, in its own store
// directory) on addr, "127.0.0.1:4222" by default ("127.0.0.1:0" picks a port).
func startNATS(addr, storeDir string) (*server.Server, error) {
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
		MaxPayload: 8 << 20,
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
