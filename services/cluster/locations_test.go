package cluster_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/metadata"
)

// TestKeptLocationsFollowChanges: readers' look-ups of a complete file are
// answered from the metadata service's kept locations, and every change
// the coordinator makes to them — a replica added by setrep 3, an excess
// one deleted by setrep 2, a datanode declared dead — reaches the readers
// at once through the coordinator's announcements, although nothing kept
// expires for an hour here; so does a coordinator's restart.
func TestKeptLocationsFollowChanges(t *testing.T) {
	c := testCluster(t, 3, func(cfg *cluster.Config) {
		hook := cfg.Metadata
		cfg.Metadata = func(m *metadata.Config) { hook(m); m.LocationCacheTTL = time.Hour }
	})
	cl := newClient(c, "hdfs")
	writeFile(t, cl, "/kept/f", randomBytes(10_000, 7), client.CreateOptions{Replication: 2})
	hits := func() float64 { return metricValue(t, c.MetadataURL, "granary_metadata_location_cache_hits_total") }
	// The coordinator's own view, and the readers' (through the cache).
	holders := func() []string {
		bs := locations(t, c, "/kept/f")
		u := bs[0].uuids()
		slices.Sort(u)
		return u
	}
	truth := func() []string {
		ids := locations(t, c, "/kept/f") // a look-up: the block's ID
		var u []string
		for _, d := range c.Coordinator.Manager().Locations([]int64{ids[0].Block.BlockID}, nil, "")[0].Locations {
			u = append(u, d.UUID)
		}
		slices.Sort(u)
		return u
	}
	eventually(t, 10*time.Second, "two replicas", func() bool { return len(holders()) == 2 })
	before := hits()
	for range 5 {
		holders()
	}
	if got := hits() - before; got < 5 {
		t.Fatalf("%v of 5 look-ups of a complete file answered from the kept locations", got)
	}
	follow := func(what string, want int) {
		t.Helper()
		eventually(t, 30*time.Second, "the coordinator to hold "+strconv.Itoa(want)+" replicas after "+what, func() bool { return len(truth()) == want })
		// Announced: the readers see it within moments, not after the
		// hour a kept answer could otherwise live.
		eventually(t, 5*time.Second, "the readers to see the coordinator's locations after "+what, func() bool {
			return slices.Equal(holders(), truth())
		})
	}
	for _, r := range []int{3, 2} {
		if ok, err := cl.SetReplication(context.Background(), "/kept/f", r); err != nil || !ok {
			t.Fatalf("setrep %d: %v %v", r, ok, err)
		}
		follow("setrep "+strconv.Itoa(r), r)
	}
	// A holder stops: once it is declared dead the readers stop being sent
	// to it, and the replacement replica shows.
	gone := holders()[0]
	if err := c.StopDatanode(index(t, c, gone)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the stopped holder gone from the coordinator's locations", func() bool { return !slices.Contains(truth(), gone) })
	eventually(t, 5*time.Second, "the readers to stop seeing the stopped holder", func() bool { return !slices.Contains(holders(), gone) })
	follow("a datanode's death", 2)

	// A restarted coordinator (another run, with its own numbering)
	// announces that nothing kept from its previous run is to be used.
	misses := func() float64 { return metricValue(t, c.MetadataURL, "granary_metadata_location_cache_misses_total") }
	holders()
	before = misses()
	holders()
	if misses() != before {
		t.Fatal("a kept look-up was not answered from the kept locations")
	}
	if err := c.StopCoordinator(); err != nil {
		t.Fatal(err)
	}
	if err := c.StartCoordinator(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a look-up after the coordinator's restart to ask it", func() bool {
		holders()
		return misses() > before
	})
}

// TestCompleteNeedsNoLookUp: the coordinator sends the metadata service
// the locations of each block a datanode reports RECEIVED, before it
// acknowledges the report, so the complete that follows (is the last block
// minimally replicated?) needs no look-up of its own: writing small files
// makes the coordinator answer fewer location look-ups than there are files
// (one each before), and reading them back is answered from what the
// metadata service kept. With three replicas, each reported apart, what
// readers are answered is every holder.
func TestCompleteNeedsNoLookUp(t *testing.T) {
	c := testCluster(t, 3, nil)
	cl := newClient(c, "hdfs")
	lookUps := func() float64 {
		n, _ := metricSample(t, c.CoordinatorURL, `granary_coordinator_requests_total{outcome="ok",subject="locations"}`)
		return n // none yet: 0
	}
	hits := func() float64 { return metricValue(t, c.MetadataURL, "granary_metadata_location_cache_hits_total") }
	const files = 20
	name := func(repl, i int) string { return "/complete/r" + strconv.Itoa(repl) + "/f" + strconv.Itoa(i) }
	before, hitsBefore := lookUps(), hits()
	for i := range files {
		writeFile(t, cl, name(1, i), randomBytes(1000, int64(i)), client.CreateOptions{Replication: 1})
	}
	if n := lookUps() - before; n >= files {
		t.Fatalf("%v location look-ups for %d files written", n, files)
	}
	if hits() == hitsBefore {
		t.Fatal("no complete was answered from the kept locations")
	}
	before = lookUps()
	for i := range files {
		if got := readFile(t, cl, name(1, i)); len(got) != 1000 {
			t.Fatalf("read back %d bytes", len(got))
		}
	}
	if n := lookUps() - before; n >= files {
		t.Fatalf("%v location look-ups for %d files read after they were written", n, files)
	}
	var three []string
	for i := range 5 {
		writeFile(t, cl, name(3, i), randomBytes(1000, int64(i)), client.CreateOptions{Replication: 3})
		three = append(three, name(3, i))
	}
	checkReplicas(t, c, three, 3)
}

// TestNoLocationCacheNoAnswersSent: a metadata service that keeps no
// locations (-location-cache-size 0) never asks answers to keep, so
// the coordinator follows none and sends no locations of blocks written;
// files are written and read as before.
func TestNoLocationCacheNoAnswersSent(t *testing.T) {
	c := testCluster(t, 1, func(cfg *cluster.Config) {
		hook := cfg.Metadata
		cfg.Metadata = func(m *metadata.Config) { hook(m); m.LocationCacheSize = -1 }
	})
	nc, err := nats.Connect(c.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sent, err := nc.SubscribeSync(dnproto.In(dnproto.DefaultNameservice, dnproto.SubjLocationsReceived))
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	cl := newClient(c, "hdfs")
	for i := range 3 {
		p := "/uncached/f" + strconv.Itoa(i)
		writeFile(t, cl, p, randomBytes(1000, int64(i)), client.CreateOptions{Replication: 1})
		if got := readFile(t, cl, p); len(got) != 1000 {
			t.Fatalf("read back %d bytes", len(got))
		}
	}
	// Each report was acknowledged before its file's write returned, and
	// the coordinator sends before it acknowledges: whatever it sent has
	// reached the server before this round trip does, and this
	// connection's queue with it.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := sent.Pending(); n != 0 {
		t.Fatalf("%d messages of received locations sent to a metadata service that keeps none", n)
	}
}
