package dnproto

import (
	"time"

	"github.com/granary-fs/granary/internal/blocktoken"
)

// NamespaceInfo is the answer of the handshake (HDFS's NamespaceInfo).
type NamespaceInfo struct {
	ClusterID       string `json:"clusterId"`
	NamespaceID     int64  `json:"namespaceId"`
	BlockPoolID     string `json:"blockPoolId"`
	LayoutVersion   int    `json:"layoutVersion"`
	CTime           int64  `json:"cTime"`
	SoftwareVersion string `json:"softwareVersion"`
	// HTTPAddresses are the host:port pairs of the metadata service's HTTP
	// API: a datanode accepts a WebHDFS namenoderpcaddress only from them.
	HTTPAddresses []string `json:"httpAddresses,omitempty"`
}

// StorageInfo names one volume of a datanode.
type StorageInfo struct {
	StorageID   string `json:"storageId"`
	StorageType string `json:"storageType"` // DISK
}

// Registration is a datanode's registerDatanode call.
type Registration struct {
	DatanodeUUID    string        `json:"datanodeUuid"`
	ClusterID       string        `json:"clusterId"`
	BlockPoolID     string        `json:"blockPoolId"`
	HostName        string        `json:"hostName"`
	IPAddr          string        `json:"ipAddr"`
	HTTPPort        int           `json:"httpPort"`
	Storages        []StorageInfo `json:"storages"`
	SoftwareVersion string        `json:"softwareVersion"`
}

// StorageReport is one volume's figures in a heartbeat.
type StorageReport struct {
	StorageID     string `json:"storageId"`
	Failed        bool   `json:"failed"`
	Capacity      int64  `json:"capacity"`
	DfsUsed       int64  `json:"dfsUsed"`
	Remaining     int64  `json:"remaining"`
	BlockPoolUsed int64  `json:"blockPoolUsed"`
}

// Heartbeat is sendHeartbeat.
type Heartbeat struct {
	DatanodeUUID    string          `json:"datanodeUuid"`
	BlockPoolID     string          `json:"blockPoolId"`
	Storages        []StorageReport `json:"storages"`
	XceiverCount    int             `json:"xceiverCount"`
	XmitsInProgress int             `json:"xmitsInProgress"`
	FailedVolumes   int             `json:"failedVolumes"`
	CacheCapacity   int64           `json:"cacheCapacity"`
	CacheUsed       int64           `json:"cacheUsed"`
	SlowDisks       []string        `json:"slowDisks,omitempty"`
	SlowPeers       []string        `json:"slowPeers,omitempty"`
	// RequestLease asks for a full-block-report lease.
	RequestLease bool `json:"requestLease"`
	// KeysGeneration is the generation of the block keys the datanode
	// holds: a reply carries KEYUPDATE when the coordinator's differ.
	KeysGeneration int64 `json:"keysGeneration,omitempty"`
}

// Command actions, as HDFS's DatanodeProtocol.DNA_*.
const (
	ActionInvalidate = "INVALIDATE"
	ActionReregister = "REGISTER"
	ActionShutdown   = "SHUTDOWN"
	ActionTransfer   = "TRANSFER"
	ActionFinalize   = "FINALIZE"
	ActionKeyUpdate  = "KEYUPDATE"
)

// BlockRef names a replica.
type BlockRef struct {
	ID       int64 `json:"id"`
	GenStamp int64 `json:"genStamp"`
	NumBytes int64 `json:"numBytes"`
}

// Command is a DatanodeCommand carried in a heartbeat reply.
type Command struct {
	Action      string     `json:"action"`
	BlockPoolID string     `json:"blockPoolId,omitempty"`
	Blocks      []BlockRef `json:"blocks,omitempty"`
	// Targets, for TRANSFER: per block, the HTTP addresses to copy it to.
	Targets [][]string `json:"targets,omitempty"`
	// Tokens, for TRANSFER in token mode: per block, the block token the
	// targets need (signed by the coordinator, WRITE and COPY).
	Tokens []string `json:"tokens,omitempty"`
	// Keys, for KEYUPDATE: the block keys (HDFS's ExportedBlockKeys).
	Keys *blocktoken.Keys `json:"keys,omitempty"`
}

// HeartbeatReply is the answer to a heartbeat.
type HeartbeatReply struct {
	Commands []Command `json:"commands,omitempty"`
	// LeaseID is a full-block-report lease (0: none granted).
	LeaseID uint64 `json:"leaseId,omitempty"`
	// HAState, Epoch and TxID are HDFS's NNHAStatusHeartbeat: the
	// coordinator's state ("active" or "standby") and, for an active, its
	// claim — the metadata writer epoch and txid at which it was made
	// active. A datanode follows an active whose claim is newer than the
	// last one it followed (docs/ha.md). Without coordinator HA the
	// coordinator is always active.
	HAState string `json:"haState"`
	Epoch   int64  `json:"epoch,omitempty"`
	TxID    int64  `json:"txid"`
}

// Lifeline is a datanode's lightweight liveness message (HDFS's
// sendLifeline): its storages' figures and load, no commands back.
type Lifeline struct {
	DatanodeUUID    string          `json:"datanodeUuid"`
	BlockPoolID     string          `json:"blockPoolId"`
	Storages        []StorageReport `json:"storages"`
	XceiverCount    int             `json:"xceiverCount"`
	XmitsInProgress int             `json:"xmitsInProgress"`
	FailedVolumes   int             `json:"failedVolumes"`
}

// CoordinatorLease is how long the active metadata service keeps the
// active role of a coordinator that stopped asking for it; the coordinator
// itself stops acting as active that long after its last granted ask was
// sent, so the two never overlap.
const CoordinatorLease = 2 * time.Second

// CoordinatorClaimRequest asks for the active role.
type CoordinatorClaimRequest struct {
	CoordinatorID string `json:"coordinatorId"`
}

// CoordinatorClaim answers it: whether the asker is active, and the claim
// it is active with (writer epoch, txid); Holder names the active.
type CoordinatorClaim struct {
	Active bool   `json:"active"`
	Holder string `json:"holder"`
	Epoch  int64  `json:"epoch"`
	TxID   int64  `json:"txid"`
}

// RegisterReply is the answer to a registration.
type RegisterReply struct {
	DatanodeUUID string `json:"datanodeUuid"`
	// Keys are the block keys when block tokens are on.
	Keys *blocktoken.Keys `json:"keys,omitempty"`
}

// BlockReportReply answers one full-report chunk.
type BlockReportReply struct {
	Commands []Command `json:"commands,omitempty"`
}

// Replica states in reports, as HDFS's ReplicaState.
const (
	StateFinalized uint8 = 0
	StateRBW       uint8 = 1
	StateRWR       uint8 = 2
)

// IBR statuses, as HDFS's ReceivedDeletedBlockInfo.BlockStatus.
const (
	Receiving = "RECEIVING"
	Received  = "RECEIVED"
	Deleted   = "DELETED"
)

// ReceivedDeleted is one entry of an incremental report.
type ReceivedDeleted struct {
	Block     BlockRef `json:"block"`
	Status    string   `json:"status"`
	StorageID string   `json:"storageId"`
}

// IncrementalReport is blockReceivedAndDeleted.
type IncrementalReport struct {
	DatanodeUUID string            `json:"datanodeUuid"`
	BlockPoolID  string            `json:"blockPoolId"`
	Blocks       []ReceivedDeleted `json:"blocks"`
}

// BadBlocks is reportBadBlocks: corrupt replicas found by a datanode.
type BadBlocks struct {
	DatanodeUUID string     `json:"datanodeUuid"`
	BlockPoolID  string     `json:"blockPoolId"`
	StorageID    string     `json:"storageId"`
	Blocks       []BlockRef `json:"blocks"`
}

// Ack is an empty success.
type Ack struct{}

// BlockEvent is one change of a namespace block, with its absolute new
// state (so applying an event twice is harmless).
type BlockEvent struct {
	ID          int64  `json:"id"`
	GenStamp    int64  `json:"genStamp"`
	NumBytes    int64  `json:"numBytes"`
	Replication uint16 `json:"replication"`
	Complete    bool   `json:"complete"`
	Removed     bool   `json:"removed"`
	InodeID     int64  `json:"inodeId"`
}

// BlockEvents is one publication of namespace changes. Seq is the txid of
// the last edit it reflects; PrevSeq is the Seq of the previous publication
// of the same Epoch: a receiver whose last Seq differs has missed one and
// must resynchronise from the inventory.
type BlockEvents struct {
	// SafeMode tells whether the namespace is in safe mode (no replica
	// may be deleted then).
	SafeMode bool         `json:"safeMode"`
	Epoch    int64        `json:"epoch"`
	Seq      int64        `json:"seq"`
	PrevSeq  int64        `json:"prevSeq"`
	Events   []BlockEvent `json:"events"`
}

// InventoryRequest asks for the namespace's blocks after AfterID.
type InventoryRequest struct {
	AfterID int64 `json:"afterId"`
	Limit   int   `json:"limit"`
	// Snapshot identifies the snapshot being paged (0 for a new one).
	Snapshot uint64 `json:"snapshot"`
}

// InventoryPage is one page of the namespace's blocks, ordered by ID. Seq
// is the last published event Seq when the snapshot was taken.
type InventoryPage struct {
	Epoch    int64        `json:"epoch"`
	Seq      int64        `json:"seq"`
	Snapshot uint64       `json:"snapshot"`
	Blocks   []BlockEvent `json:"blocks"`
	More     bool         `json:"more"`
}

// SafeModeCounts is what the metadata service's safe mode needs.
type SafeModeCounts struct {
	// SafeBlocks: complete blocks with at least replication.min live replicas.
	SafeBlocks    int64 `json:"safeBlocks"`
	LiveDatanodes int   `json:"liveDatanodes"`
	// Synced is false until the coordinator holds the namespace's blocks.
	Synced bool `json:"synced"`
}

// Placement asks for datanodes to write a new block to.
type Placement struct {
	Replication int      `json:"replication"`
	ClientHost  string   `json:"clientHost"`
	Exclude     []string `json:"exclude,omitempty"` // datanode UUIDs
	BlockSize   int64    `json:"blockSize"`
}

// ChooseTargetsRequest asks for the pipeline of a new block and, with
// More, for those of other new blocks in the same message (writers'
// placements the metadata service gathered while one request was on its
// way), answered in order.
type ChooseTargetsRequest struct {
	Placement
	More []Placement `json:"more,omitempty"`
}

// DatanodeInfo describes a datanode to clients (HDFS's DatanodeInfo).
type DatanodeInfo struct {
	UUID         string `json:"uuid"`
	HostName     string `json:"hostName"`
	IPAddr       string `json:"ipAddr"`
	HTTPPort     int    `json:"httpPort"`
	Rack         string `json:"rack"`
	StorageID    string `json:"storageId,omitempty"`
	Decommission bool   `json:"decommissioning,omitempty"`
	// Decommissioned: the node's decommission is complete (its replicas
	// are read last).
	Decommissioned bool `json:"decommissioned,omitempty"`
}

// ChooseTargetsReply lists the pipeline, first node first, and in More
// those of the request's More, in order.
type ChooseTargetsReply struct {
	Targets []DatanodeInfo   `json:"targets"`
	More    [][]DatanodeInfo `json:"more,omitempty"`
}

// LocationsRequest asks where blocks are.
type LocationsRequest struct {
	Blocks []int64 `json:"blocks"`
	// ClientHost is the reader's address: each block's holders come back
	// nearest first (absent: random order, decommissioned nodes last).
	ClientHost string `json:"clientHost,omitempty"`
	// GenStamps, when given, are the namespace's stamp of each block: when
	// the coordinator's mirror has not caught up with it yet (a block just
	// recovered or appended to), the replicas of that stamp are answered.
	GenStamps []int64 `json:"genStamps,omitempty"`
	// Newer asks, instead, for the replicas whose generation stamp is newer
	// than the namespace's: a pipeline recovery or an append the datanodes
	// finished but the namespace never recorded (lease recovery adopts them).
	Newer bool `json:"newer,omitempty"`
	// Cache asks for the reply's Cache: the asker keeps the answer and
	// the coordinator tells it when a kept block's locations change
	// (SubjLocationsChanged).
	Cache bool `json:"cache,omitempty"`
}

// BlockLocation is one block's live replicas.
type BlockLocation struct {
	ID        int64          `json:"id"`
	Locations []DatanodeInfo `json:"locations"`
	// Lengths are the replica lengths the datanodes reported, in the order
	// of Locations (lease recovery uses them).
	Lengths []int64 `json:"lengths"`
	// GenStamps are the replicas' generation stamps, in the same order
	// (with Newer only).
	GenStamps []int64 `json:"genStamps,omitempty"`
	Corrupt   bool    `json:"corrupt"`
}

// LocationsReply answers a LocationsRequest in its order.
type LocationsReply struct {
	Blocks []BlockLocation `json:"blocks"`
	// Cache (asked with LocationsRequest.Cache) says what may be kept.
	Cache *LocationCache `json:"cache,omitempty"`
}

// LocationCache tells a metadata service which answered locations it may
// keep, and where they stand in the coordinator's stream of changes.
type LocationCache struct {
	// Instance names this run of the active coordinator: changes are
	// numbered per instance.
	Instance string `json:"instance"`
	// Seq is the number of the last location change the answer reflects.
	Seq uint64 `json:"seq"`
	// ReaderRack is the rack of the request's ClientHost, to sort kept
	// locations for that reader again (SortLocations).
	ReaderRack string `json:"readerRack"`
	// Cacheable says, per block, whether the answer may be kept: the
	// coordinator will announce its next change (a kept answer is sorted
	// again for each reader).
	Cacheable []bool `json:"cacheable"`
}

// LocationsReceived (SubjLocationsReceived) is the answer Request would
// have had — LocationsRequest.Cache set, no reader — for blocks being
// written that a datanode just reported RECEIVED: a metadata service keeps
// it as it keeps a look-up's answer, so that the file's complete (is its
// last block minimally replicated?) and a first read after it need not
// ask. The coordinator sends it before it acknowledges the report.
type LocationsReceived struct {
	Request LocationsRequest `json:"request"`
	Reply   LocationsReply   `json:"reply"`
}

// LocationsChanged (SubjLocationsChanged) announces the location changes
// numbered (From, To] of coordinator Instance: the kept answers of Blocks
// are stale — of every block with All. Seqs, when there, numbers each
// block's change: a kept answer given at or after it (its Seq) reflects
// it and stays. A receiver whose last change is not From has missed an
// announcement and drops everything it kept.
type LocationsChanged struct {
	Instance string   `json:"instance"`
	From     uint64   `json:"from"`
	To       uint64   `json:"to"`
	Blocks   []int64  `json:"blocks,omitempty"`
	Seqs     []uint64 `json:"seqs,omitempty"`
	All      bool     `json:"all,omitempty"`
}
