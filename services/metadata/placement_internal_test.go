package metadata

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/gather"
	"github.com/granary-fs/granary/internal/natstest"
	"github.com/granary-fs/granary/internal/poll"
)

// TestPlacementsGather: the placements writers ask for while one request
// is on its way to the coordinator (a real NATS server, a subscriber
// answering as the coordinator) go together in the next request, and each
// writer gets its own pipeline; a coordinator that answers only the first
// placement of a request (one from before More) has the others asked
// alone.
func TestPlacementsGather(t *testing.T) {
	for _, knowsMore := range []bool{true, false} {
		t.Run(fmt.Sprintf("coordinator answers More: %v", knowsMore), func(t *testing.T) {
			url := natstest.Start(t)
			nc := natstest.Connect(t, url)
			const subj = "granary.v1.ns1.coord.choosetargets"
			var mu sync.Mutex
			var sizes []int
			holding, release := make(chan struct{}), make(chan struct{})
			pipeline := func(p dnproto.Placement) []dnproto.DatanodeInfo {
				return []dnproto.DatanodeInfo{{UUID: "for " + p.ClientHost}}
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			if _, err := dnproto.Serve(nc, subj, log, dnproto.JSON(func(_ context.Context, req *dnproto.ChooseTargetsRequest) (any, error) {
				mu.Lock()
				sizes = append(sizes, 1+len(req.More))
				first := len(sizes) == 1
				mu.Unlock()
				if first {
					close(holding)
					<-release
				}
				reply := dnproto.ChooseTargetsReply{Targets: pipeline(req.Placement)}
				for _, p := range req.More {
					if knowsMore {
						reply.More = append(reply.More, pipeline(p))
					}
				}
				return reply, nil
			})); err != nil {
				t.Fatal(err)
			}
			c := &coordination{placements: gather.Gatherer[dnproto.Placement, []dnproto.DatanodeInfo]{Max: maxPlacementBatch}}
			send := func(req dnproto.ChooseTargetsRequest) (dnproto.ChooseTargetsReply, error) {
				var reply dnproto.ChooseTargetsReply
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := dnproto.CallRetrying(ctx, nc, subj, req, &reply, coordinatorTry)
				return reply, err
			}
			var wg sync.WaitGroup
			errs := make(chan error, 6)
			writer := func(i int) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					host := fmt.Sprintf("10.0.0.%d", i)
					got, err := c.place(context.Background(), dnproto.Placement{Replication: 1, ClientHost: host}, send)
					if err == nil && (len(got) != 1 || got[0].UUID != "for "+host) {
						err = fmt.Errorf("writer %d got %+v", i, got)
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			writer(0)
			<-holding
			for i := 1; i <= 5; i++ {
				writer(i)
			}
			poll.Until(t, 10*time.Second, "five placements gathered", func() bool { return c.placements.Waiting() == 5 })
			close(release)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			want := []int{1, 5}
			if !knowsMore {
				want = []int{1, 5, 1, 1, 1, 1} // the four not answered, alone
			}
			if !slices.Equal(sizes, want) {
				t.Fatalf("requests of %v placements, want %v", sizes, want)
			}
		})
	}
}
