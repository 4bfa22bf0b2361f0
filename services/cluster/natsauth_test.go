package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/natsconn"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/coordinator"
)

// attacker is a NATS connection that records the server's permission
// errors.
type attacker struct {
	nc     *nats.Conn
	mu     sync.Mutex
	denied []string
}

func connectAttacker(t *testing.T, url, nkeyFile, identity string) (*attacker, error) {
	t.Helper()
	a := &attacker{}
	opts := []nats.Option{nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		a.mu.Lock()
		a.denied = append(a.denied, err.Error())
		a.mu.Unlock()
	})}
	if nkeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(nkeyFile)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, o, nats.CustomInboxPrefix("_INBOX."+identity))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	a.nc = nc
	return a, nil
}

func (a *attacker) wasDenied(what string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, d := range a.denied {
		if strings.Contains(d, "Permissions Violation") && strings.Contains(d, what) {
			return true
		}
	}
	return false
}

// forgeInvalidate answers every heartbeat it sees with INVALIDATE of the
// block (the attack: the first reply wins).
func (a *attacker) forgeInvalidate(t *testing.T, bpid string, b dnproto.BlockRef) {
	t.Helper()
	reply, _ := json.Marshal(dnproto.HeartbeatReply{HAState: "active", Commands: []dnproto.Command{{Action: dnproto.ActionInvalidate, BlockPoolID: bpid, Blocks: []dnproto.BlockRef{b}}}})
	if _, err := a.nc.Subscribe(ns1(dnproto.AnyIdentity(dnproto.SubjHeartbeat)), func(m *nats.Msg) { _ = m.Respond(reply) }); err != nil {
		t.Fatal(err)
	}
	_ = a.nc.Flush()
}

// holds reports whether the datanode at base serves the block.
func holds(t *testing.T, base string, bpid string, id int64) bool {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/blocks/%d?bpid=%s&length=1", base, id, bpid))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestNATSAuthorization: on an open NATS anyone can act as the
// coordinator (a forged INVALIDATE deletes a replica) or register a fake
// datanode; with SecureNATS a process without credentials cannot connect,
// and a datanode's credentials can neither take heartbeats, answer another
// datanode, speak for it, nor publish namespace events.
func TestNATSAuthorization(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			c := testCluster(t, 2, func(cfg *cluster.Config) { cfg.SecureNATS = secure })
			cl := newClient(c, "hdfs")
			writeFile(t, cl, "/victim", bytes.Repeat([]byte("v"), 5000), client.CreateOptions{Replication: 2})
			loc := locations(t, c, "/victim")[0]
			bpid := loc.Block.BlockPoolID
			b := dnproto.BlockRef{ID: loc.Block.BlockID, GenStamp: loc.Block.GenerationStamp, NumBytes: loc.Block.NumBytes}
			fake := dnproto.Registration{DatanodeUUID: "fake-datanode", BlockPoolID: bpid, HostName: "evil", IPAddr: "10.6.6.6", HTTPPort: 1, SoftwareVersion: dnproto.SoftwareVersion,
				Storages: []dnproto.StorageInfo{{StorageID: "DS-evil", StorageType: "DISK"}}}
			call := func(nc *nats.Conn, subj string, req, resp any) error {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				return dnproto.Call(ctx, nc, subj, req, resp)
			}
			// The handshake tells anyone who may make it the cluster ID.
			handshake := func(a *attacker, id string) {
				var ni dnproto.NamespaceInfo
				if err := call(a.nc, ns1(dnproto.ForIdentity(dnproto.SubjHandshake, id)), struct{}{}, &ni); err != nil {
					t.Fatalf("handshake as %s: %v", id, err)
				}
				fake.ClusterID = ni.ClusterID
			}
			if !secure {
				a, err := connectAttacker(t, c.NATSURL, "", "")
				if err != nil {
					t.Fatal(err)
				}
				handshake(a, "evil")
				a.forgeInvalidate(t, bpid, b)
				eventually(t, 15*time.Second, "the forged INVALIDATE to delete a replica", func() bool {
					return !holds(t, c.DatanodeURLs[0], bpid, b.ID) || !holds(t, c.DatanodeURLs[1], bpid, b.ID)
				})
				if err := call(a.nc, ns1(dnproto.ForIdentity(dnproto.SubjRegister, "evil")), fake, nil); err != nil {
					t.Fatalf("an open NATS refused a fake registration: %v", err)
				}
				return
			}
			// No credentials: no connection at all.
			if _, err := connectAttacker(t, c.NATSURL, "", ""); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
				t.Fatalf("connecting without credentials: %v", err)
			}
			// dn2's credentials.
			a, err := connectAttacker(t, c.NATSURL, c.NATSKey("dn2"), "dn2")
			if err != nil {
				t.Fatal(err)
			}
			handshake(a, "dn2")
			a.forgeInvalidate(t, bpid, b)
			eventually(t, 5*time.Second, "the heartbeat subscription to be refused", func() bool { return a.wasDenied("Subscription") })
			// Forged TRANSFER straight to dn1's inbox, forged namespace
			// events, a registration on dn1's subject.
			transfer, _ := json.Marshal(dnproto.HeartbeatReply{Commands: []dnproto.Command{{Action: dnproto.ActionTransfer, BlockPoolID: bpid, Blocks: []dnproto.BlockRef{b}, Targets: [][]string{{"10.6.6.6:1"}}}}})
			_ = a.nc.Publish("_INBOX.dn1.forged", transfer)
			_ = a.nc.Publish(ns1(dnproto.SubjNamespaceEvents), []byte(`{"events":[]}`))
			_ = a.nc.Flush()
			eventually(t, 5*time.Second, "the forged publications to be refused", func() bool {
				return a.wasDenied(`"_INBOX.dn1.forged"`) && a.wasDenied(ns1(dnproto.SubjNamespaceEvents))
			})
			if err := call(a.nc, ns1(dnproto.ForIdentity(dnproto.SubjRegister, "dn1")), fake, nil); err == nil {
				t.Fatal("dn2's credentials registered on dn1's subject")
			}
			// On its own subject, dn2 cannot speak for dn1's UUID.
			dn1 := c.Datanodes[0].UUID()
			var reply dnproto.HeartbeatReply
			err = call(a.nc, ns1(dnproto.ForIdentity(dnproto.SubjHeartbeat, "dn2")), dnproto.Heartbeat{DatanodeUUID: dn1, BlockPoolID: bpid}, &reply)
			if err == nil || !strings.Contains(err.Error(), "may not speak for it") {
				t.Fatalf("dn2 heartbeating for dn1: %v", err)
			}
			reg := fake
			reg.DatanodeUUID = dn1
			if err := call(a.nc, ns1(dnproto.ForIdentity(dnproto.SubjRegister, "dn2")), reg, nil); err == nil || !strings.Contains(err.Error(), "may not register it") {
				t.Fatalf("dn2 registering dn1's UUID: %v", err)
			}
			// Meanwhile the cluster works and no replica was touched.
			consistently(t, 2*time.Second, "both replicas to stay", func() bool {
				return holds(t, c.DatanodeURLs[0], bpid, b.ID) && holds(t, c.DatanodeURLs[1], bpid, b.ID)
			})
			if got := readFile(t, cl, "/victim"); len(got) != 5000 {
				t.Fatalf("read %d bytes", len(got))
			}
			// The services' own connections use the same helper as
			// production (natsconn), which refuses a bad identity.
			if _, err := natsconn.Connect(natsconn.Config{URL: c.NATSURL, Identity: "a.b"}); err == nil {
				t.Fatal("an identity with a dot was accepted")
			}
		})
	}
}

// TestBlockPoolIsEnforced: the coordinator refuses heartbeats and reports
// that name another block pool than its namespace's (Unregistered), so
// that equal block IDs of two pools can never meet in its block map.
func TestBlockPoolIsEnforced(t *testing.T) {
	c := testCluster(t, 1, nil)
	nc, err := nats.Connect(c.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	uuid := c.Datanodes[0].UUID()
	bpid := locationsPool(t, c)
	call := func(subj string, req any) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return dnproto.Call(ctx, nc, ns1(dnproto.ForIdentity(subj, uuid)), req, nil)
	}
	if err := call(dnproto.SubjHeartbeat, dnproto.Heartbeat{DatanodeUUID: uuid, BlockPoolID: bpid}); err != nil {
		t.Fatalf("a heartbeat for the namespace's pool: %v", err)
	}
	for name, req := range map[string]struct {
		subj string
		body any
	}{
		"heartbeat":   {dnproto.SubjHeartbeat, dnproto.Heartbeat{DatanodeUUID: uuid, BlockPoolID: "BP-other"}},
		"incremental": {dnproto.SubjIncrementalReport, dnproto.IncrementalReport{DatanodeUUID: uuid, BlockPoolID: "BP-other"}},
		"bad blocks":  {dnproto.SubjBadBlocks, dnproto.BadBlocks{DatanodeUUID: uuid, BlockPoolID: "BP-other"}},
	} {
		if err := call(req.subj, req.body); err == nil || !strings.Contains(err.Error(), "is not this namespace's") {
			t.Errorf("%s for another pool: %v", name, err)
		}
	}
	chunk := dnproto.EncodeChunk(&dnproto.ReportChunk{DatanodeUUID: uuid, BlockPoolID: "BP-other", StorageID: "DS-x", Count: 1, Last: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dnproto.CallRaw(ctx, nc, ns1(dnproto.ForIdentity(dnproto.SubjBlockReport, uuid)), chunk, nil); err == nil || !strings.Contains(err.Error(), "is not this namespace's") {
		t.Errorf("a full report for another pool: %v", err)
	}
}

// locationsPool is the cluster's block pool ID, as a written file's block
// names it.
func locationsPool(t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	writeFile(t, newClient(c, "hdfs"), "/pool", []byte("p"), client.CreateOptions{Replication: 1})
	return locations(t, c, "/pool")[0].Block.BlockPoolID
}

// ns1 is a subject in the default nameservice.
func ns1(subj string) string { return dnproto.In(dnproto.DefaultNameservice, subj) }

// TestNameservicesDoNotShareTraffic: a coordinator of another nameservice
// on the same NATS hears nothing of this one: no datanode registers with
// it, while this nameservice's coordinator keeps all of them.
func TestNameservicesDoNotShareTraffic(t *testing.T) {
	c := testCluster(t, 2, nil)
	other, err := coordinator.New(coordinator.Config{NATSURL: c.NATSURL, HTTPAddr: "127.0.0.1:0", Nameservice: "ns2", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- other.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-other.Started()
	// ns1's datanodes heartbeat every 100 ms: many rounds go by.
	consistently(t, 2*time.Second, "ns2's coordinator to know no datanode", func() bool {
		return len(other.Manager().Datanodes()) == 0 && c.Coordinator.Manager().Cluster().Live == 2
	})
	writeFile(t, newClient(c, "hdfs"), "/ns1-only", []byte("x"), client.CreateOptions{Replication: 2})
}
