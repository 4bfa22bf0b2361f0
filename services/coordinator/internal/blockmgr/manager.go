// Package blockmgr is the coordinator's domain: the datanode registry with
// liveness (HDFS's DatanodeManager and HeartbeatManager), the block map of
// the namespace's blocks and their reported replicas (BlockManager), full
// and incremental report processing, invalidation, and placement. It holds
// only soft state, rebuilt from re-registrations, block reports and the
// metadata service's inventory. It imports no NATS or HTTP package.
//
// Lock rules: Manager.mu guards everything below it. Every exported method
// takes it; none does I/O or waits while holding it.
package blockmgr

import (
	"math/rand"

	"github.com/granary-fs/granary/internal/dnproto"
	"sync"
	"time"
)

// Config holds the coordinator's intervals and limits (hdfs-default.xml).
type Config struct {
	HeartbeatInterval time.Duration // dfs.heartbeat.interval, 3 s
	RecheckInterval   time.Duration // dfs.namenode.heartbeat.recheck-interval, 300 s
	StaleInterval     time.Duration // dfs.namenode.stale.datanode.interval, 30 s
	MaxFBRLeases      int           // dfs.namenode.max.full.block.report.leases, 6
	FBRLeaseLength    time.Duration // dfs.namenode.full.block.report.lease.length.ms, 5 min
	ReplicationMin    int           // dfs.namenode.replication.min, 1
	InvalidateLimit   int           // dfs.block.invalidate.limit, 1000 per heartbeat
	// ReplQueueThreshold is dfs.namenode.replqueue.threshold-pct (default
	// the safe-mode threshold, 0.999): in safe mode the replication queues
	// are initialised once that fraction of the blocks is reported.
	ReplQueueThreshold float64
	// MinDatanodeVersion is dfs.namenode.min.supported.datanode.version:
	// an older datanode is refused at registration.
	MinDatanodeVersion string
	// UnknownReplicaGrace is how long a replica of a block the namespace
	// does not know is kept before it is invalidated (default 30 s): the
	// namespace event of a new block can arrive after the replica's report.
	UnknownReplicaGrace time.Duration
	MaxStreams          int           // dfs.namenode.replication.max-streams, 2
	PendingTimeout      time.Duration // dfs.namenode.reconstruction.pending.timeout-sec, 300 s
	// IgnoreLoad is dfs.namenode.redundancy.considerLoad=false: placement
	// does not skip datanodes busier than twice the average.
	IgnoreLoad bool
	Topology   map[string]string
	Now        func() time.Time
}

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.ReplQueueThreshold == 0 {
		c.ReplQueueThreshold = 0.999
	}
	if c.MinDatanodeVersion == "" {
		c.MinDatanodeVersion = dnproto.MinDatanodeVersion
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 3 * time.Second
	}
	if c.RecheckInterval == 0 {
		c.RecheckInterval = 300 * time.Second
	}
	if c.StaleInterval == 0 {
		c.StaleInterval = 30 * time.Second
	}
	if c.MaxFBRLeases == 0 {
		c.MaxFBRLeases = 6
	}
	if c.FBRLeaseLength == 0 {
		c.FBRLeaseLength = 5 * time.Minute
	}
	if c.ReplicationMin == 0 {
		c.ReplicationMin = 1
	}
	if c.InvalidateLimit == 0 {
		c.InvalidateLimit = 1000
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = 2
	}
	if c.PendingTimeout == 0 {
		c.PendingTimeout = 300 * time.Second
	}
	if c.UnknownReplicaGrace == 0 {
		c.UnknownReplicaGrace = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Config is the manager's configuration, defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

// DeadInterval is 2 × recheck + 10 × heartbeat (630 s by default).
func (c *Config) DeadInterval() time.Duration {
	return 2*c.RecheckInterval + 10*c.HeartbeatInterval
}

// Manager is the coordinator's state.
type Manager struct {
	mu  sync.Mutex
	cfg Config
	rng *rand.Rand

	nodes  map[string]*Node  // by datanode UUID
	blocks map[int64]*Block  // the namespace's blocks
	leases map[uint64]*lease // outstanding full-block-report leases
	lease  uint64            // last lease ID issued

	// Namespace mirror state (see namespace.go).
	synced     bool
	epoch, seq int64
	nsSafeMode bool
	pending    []*dnproto.BlockEvents // publications received while unsynced
	// pendingBad are bad-block reports received while unsynced, for blocks
	// the mirror does not hold yet: applied when the inventory is.
	pendingBad []pendingBad

	pendingRepl map[int64]*pending // scheduled transfers by block
	// receivedEarly are blocks being written that the namespace events
	// made known after their replicas were reported RECEIVED.
	receivedEarly []int64
	stats         RedundancyStats

	// standby: with coordinator HA, this block manager keeps its map warm
	// but sends no command but REGISTER (SetActive).
	standby bool
	// included is the dfs.hosts include list (nil: every host may join).
	included map[string]bool
	// waitingFirstReport are nodes that never reported and were refused a
	// lease (all taken), with when they last asked: they come first.
	waitingFirstReport map[string]time.Time
	// ann numbers the changes to locations the metadata service keeps
	// (announce.go).
	ann announcements
}

// SetActive makes the manager the active one, which sends commands, or a
// standby, which keeps the block map but drops the commands it has not
// sent: the next active decides them again from its own map.
func (m *Manager) SetActive(active bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.standby = !active
	if active {
		return
	}
	for _, n := range m.nodes {
		n.invalidate, n.transfers = nil, nil
	}
	clear(m.pendingRepl)
}

// New returns an empty manager.
func New(cfg Config) *Manager {
	cfg.Defaults()
	return &Manager{
		cfg: cfg, rng: rand.New(rand.NewSource(time.Now().UnixNano())),
		nodes: map[string]*Node{}, blocks: map[int64]*Block{}, leases: map[uint64]*lease{}, pendingRepl: map[int64]*pending{},
		waitingFirstReport: map[string]time.Time{},
		nsSafeMode:         true, ann: newAnnouncements(),
	}
}

type pendingBad struct {
	id, genStamp int64
	node         *Node
}

// Block is one namespace block and the datanodes holding a replica that
// matches it.
type Block struct {
	ID, GenStamp, NumBytes int64
	Replication            uint16
	Complete               bool
	InodeID                int64
	holders                []*Node
	corrupt                map[*Node]bool // replicas reported corrupt
}

// replica is what one datanode reported of one block.
type replica struct {
	genStamp, numBytes int64
	state              uint8
	storage            uint16 // index into Node.storageIDs
	report             uint64 // the last full report that listed it
}

// addHolder links n's replica to b (an announced location change).
func (m *Manager) addHolder(b *Block, n *Node) {
	for _, h := range b.holders {
		if h == n {
			return
		}
	}
	b.holders = append(b.holders, n)
	m.locChanged(b.ID)
}

// removeHolder unlinks n's replica from b (an announced location change).
func (m *Manager) removeHolder(b *Block, n *Node) {
	for i, h := range b.holders {
		if h == n {
			b.holders[i] = b.holders[len(b.holders)-1]
			b.holders[len(b.holders)-1] = nil
			b.holders = b.holders[:len(b.holders)-1]
			m.locChanged(b.ID)
			return
		}
	}
}

// matches reports whether a replica is a good copy of b.
func (b *Block) matches(r replica) bool {
	if r.genStamp != b.GenStamp {
		return false
	}
	return !b.Complete || r.state != 0 || r.numBytes == b.NumBytes
}
