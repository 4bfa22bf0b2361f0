package nnbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/granary-fs/granary/internal/lifecycle"
	"github.com/granary-fs/granary/services/metadata"
)

// standbyLag runs a standby metadata service (HA, -namenode-id nn2) on the
// benchmark's database while the benchmark writes as the active, and
// samples how far behind it is: the age of the oldest committed edit it
// has not applied yet (0 when it has applied everything committed).
type standbyLag struct {
	svc  *metadata.Service
	stop context.CancelFunc
	done chan error

	mu      sync.Mutex
	samples []time.Duration
	commits []commitAt // committed txid over time, oldest first
}

type commitAt struct {
	txid int64
	at   time.Time
}

func startStandby(ctx context.Context, url string) (*standbyLag, error) {
	svc := metadata.New(metadata.Config{
		DatabaseURL: url, NamenodeID: "nn2", HTTPAddr: "127.0.0.1:0", Superuser: "bench", DBMaxConns: 4,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	rctx, stop := context.WithCancel(ctx)
	s := &standbyLag{svc: svc, stop: stop, done: make(chan error, 1)}
	go func() { s.done <- svc.Run(rctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for svc.StandbyTxID() < 0 || svc.HAState() != "standby" {
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("the standby ended: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.close()
			return nil, fmt.Errorf("the standby did not load the namespace")
		}
	}
	return s, nil
}

// sample records the active's committed txid and the standby's lag.
func (s *standbyLag) sample(committed int64) {
	now := time.Now()
	applied := s.svc.StandbyTxID()
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.commits); n == 0 || s.commits[n-1].txid != committed {
		s.commits = append(s.commits, commitAt{committed, now})
	}
	lag := time.Duration(0)
	for _, c := range s.commits {
		if c.txid > applied {
			lag = now.Sub(c.at)
			break
		}
	}
	s.samples = append(s.samples, lag)
}

// run samples every 20 ms until ctx ends.
func (s *standbyLag) run(ctx context.Context, committed func() int64) {
	lifecycle.Every(ctx, 20*time.Millisecond, func() { s.sample(committed()) })
}

// report prints the lag's median and maximum over the run.
func (s *standbyLag) report(out io.Writer) {
	s.mu.Lock()
	d := slices.Clone(s.samples)
	s.mu.Unlock()
	slices.Sort(d)
	if len(d) == 0 {
		return
	}
	fmt.Fprintf(out, "standby lag (a standby metadata service tailing the edit log, %d samples): median %v, p99 %v, max %v\n",
		len(d), d[len(d)/2].Round(time.Millisecond), d[len(d)*99/100].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
}

func (s *standbyLag) close() {
	s.stop()
	<-s.done
}
