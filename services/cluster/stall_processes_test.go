package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/client"
)

// TestWriteSurvivesAStalledDatanode: a datanode process that stops
// answering in the middle of a write (SIGSTOP: its connections stay open,
// nothing is read or acknowledged) does not hang the writer. When it is the
// first of the pipeline, the client's watchdog (dfs.client.socket-timeout)
// gives up on it and recovers the pipeline with the others; when it is the
// second, the first datanode's watchdog reports it failed and the block
// goes on without it. Either way the file is written whole. Then the
// first datanode of a pipeline is killed with kill -9 half-way through a
// block larger than what the writer keeps (writerKeepsOnlyUnacknowledgedPackets).
func TestWriteSurvivesAStalledDatanode(t *testing.T) {
	c := newProcCluster(t, func(c *procCluster) { c.dnArgs = []string{"-socket-timeout", "2s"} })
	for i := range 4 {
		c.addDatanode(filepath.Join(c.dir, fmt.Sprintf("dn%d", i+1)))
	}
	eventually(t, 30*time.Second, "4 live datanodes", func() bool { return c.cluster().Live == 4 })
	for pos := range 2 {
		t.Run(fmt.Sprintf("pipeline node %d stopped", pos), func(t *testing.T) {
			c.t = t
			cl := c.client()
			cl.SocketTimeout = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			path := fmt.Sprintf("/stall/f%d", pos)
			data := randomBytes(12<<20, int64(40+pos))
			w, err := cl.Create(ctx, path, client.CreateOptions{Replication: 3, BlockSize: 8 << 20})
			if err != nil {
				t.Fatal(err)
			}
			half := 4 << 20
			if _, err := w.Write(data[:half]); err != nil {
				t.Fatal(err)
			}
			victim := c.datanodeIndex(w.Pipeline()[pos])
			c.dns[victim].Signal(syscall.SIGSTOP)
			defer c.dns[victim].Signal(syscall.SIGCONT)
			if _, err := w.Write(data[half:]); err != nil {
				t.Fatalf("write with datanode %d stopped: %v", pos, err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("close with datanode %d stopped: %v", pos, err)
			}
			c.dns[victim].Signal(syscall.SIGCONT)
			c.acked[path] = data
			c.checkAcked(fmt.Sprintf("after datanode %d stopped", pos))
		})
	}
	t.Run("first datanode killed", func(t *testing.T) {
		c.t = t
		writerKeepsOnlyUnacknowledgedPackets(c)
	})
	t.Run("first datanode of a one-packet block killed", func(t *testing.T) {
		c.t = t
		onePacketBlockSurvivesAKilledDatanode(c)
	})
}

// onePacketBlockSurvivesAKilledDatanode: a file that is one packet at its
// close goes in one plain PUT; when the first datanode of its pipeline was
// killed (kill -9) before the close, the PUT fails and the block goes on
// the survivors, as a stream's recovery with nothing acknowledged, and the
// file reads back whole.
func onePacketBlockSurvivesAKilledDatanode(c *procCluster) {
	t := c.t
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data := randomBytes(1000, 50)
	w, err := c.client().Create(ctx, "/stall/small", client.CreateOptions{Replication: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	pipeline := w.Pipeline()
	if len(pipeline) < 2 {
		t.Fatalf("pipeline %v: two datanodes or more wanted", pipeline)
	}
	c.dns[c.datanodeIndex(pipeline[0])].Kill9()
	if err := w.Close(); err != nil {
		t.Fatalf("close with the first datanode killed: %v", err)
	}
	// Only this file is read back: with a second datanode of four killed,
	// a block the earlier cases left on two datanodes may have lost both.
	if got := readFile(t, c.client(), "/stall/small"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, wrote %d", len(got), len(data))
	}
}

// datanodeIndex is the index of the datanode process with UUID uuid.
func (c *procCluster) datanodeIndex(uuid string) int {
	c.t.Helper()
	for _, d := range c.datanodes() {
		if d.UUID == uuid {
			for i, p := range c.dnPorts {
				if p == d.HTTPPort {
					return i
				}
			}
		}
	}
	c.t.Fatalf("no datanode process has UUID %s", uuid)
	return -1
}

// writerKeepsOnlyUnacknowledgedPackets: a writer holds at most the packets
// in flight (80 of 64 KiB, HDFS's dfs.client.write.max-packets-in-flight),
// not its block; when the first datanode is killed (kill -9) in the middle
// of a block larger than that, the survivors are cut to the acknowledged
// length under a new stamp and only the unacknowledged packets are sent
// again.
func writerKeepsOnlyUnacknowledgedPackets(c *procCluster) {
	t := c.t
	cl := c.client()
	const bs = 16 << 20
	const most = 81 * 64 << 10
	data := randomBytes(2*bs+4321, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := cl.Create(ctx, "/window/f", client.CreateOptions{BlockSize: bs, Replication: 3})
	if err != nil {
		t.Fatal(err)
	}
	var inFlight *api.ExtendedBlock
	var pipeline []string
	for off := 0; off < len(data); off += 1 << 20 {
		if _, err := w.Write(data[off:min(len(data), off+1<<20)]); err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
		if held := w.Buffered(); held > most {
			t.Fatalf("the writer holds %d bytes at offset %d, more than the %d packets in flight", held, off, most/(64<<10))
		}
		if off == bs+bs/2 {
			// Half-way through the second block: its first datanode dies.
			pipeline, inFlight = w.Pipeline(), w.Block()
			c.dns[c.datanodeIndex(pipeline[0])].Kill9()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	c.acked["/window/f"] = data
	c.checkAcked("after the first datanode was killed")
	var lbs api.LocatedBlocksResponse
	if code := c.getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/blockLocations?path=/window/f&user.name=hdfs", c.metaPort), &lbs); code != 200 {
		t.Fatalf("block locations: %d", code)
	}
	blocks := lbs.LocatedBlocks.LocatedBlocks
	if len(blocks) != 3 || blocks[1].Block.BlockID != inFlight.BlockID || blocks[1].Block.GenerationStamp <= inFlight.GenerationStamp {
		t.Fatalf("the second block after the recovery: %+v; it was %+v", blocks, inFlight)
	}
	for _, d := range blocks[1].Locations {
		if d.UUID == pipeline[0] {
			t.Fatalf("the killed datanode still holds the recovered block: %+v", blocks[1].Locations)
		}
	}
}
