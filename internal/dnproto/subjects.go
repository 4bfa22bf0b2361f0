// Package dnproto is Granary's NATS contract: every subject, and every
// request and reply payload, exchanged between datanodes, the coordinator
// and the metadata service (HDFS's DatanodeProtocol and the NameNode's
// internal block-management calls). Control messages are JSON; block
// reports use the compact binary encoding of blockreport.go. The subjects
// carry a version; docs/nats-protocol.md and api/asyncapi.yaml describe them.
package dnproto

// Datanode → coordinator (request/reply).
const (
	// SubjHandshake: phase 1, returns NamespaceInfo (versionRequest).
	SubjHandshake = "granary.v1.dn.handshake"
	// SubjRegister: phase 2, Registration → RegisterReply (registerDatanode).
	SubjRegister = "granary.v1.dn.register"
	// SubjHeartbeat: Heartbeat → HeartbeatReply (sendHeartbeat).
	SubjHeartbeat = "granary.v1.dn.heartbeat"
	// SubjBlockReport: one binary full-report chunk → BlockReportReply.
	SubjBlockReport = "granary.v1.dn.blockreport"
	// SubjIncrementalReport: IncrementalReport → Ack (blockReceivedAndDeleted).
	SubjIncrementalReport = "granary.v1.dn.ibr"
	// SubjBadBlocks: BadBlocks → Ack (reportBadBlocks).
	SubjBadBlocks = "granary.v1.dn.badblocks"
)

// Metadata ⇄ coordinator.
const (
	// SubjNamespaceEvents: metadata publishes BlockEvents after each commit.
	SubjNamespaceEvents = "granary.v1.ns.events"
	// SubjNamespaceInventory: coordinator asks metadata for a page of the
	// namespace's blocks (InventoryRequest → InventoryPage).
	SubjNamespaceInventory = "granary.v1.ns.inventory"
	// SubjNamespaceInfo: coordinator asks metadata for NamespaceInfo.
	SubjNamespaceInfo = "granary.v1.ns.info"
	// SubjBlockKeys: coordinator asks metadata for the block keys
	// (→ blocktoken.Keys; generation 0: block tokens are off).
	SubjBlockKeys = "granary.v1.ns.blockkeys"
	// SubjSafeModeCounts: metadata asks the coordinator for SafeModeCounts.
	SubjSafeModeCounts = "granary.v1.coord.safemode"
	// SubjChooseTargets: ChooseTargetsRequest → ChooseTargetsReply.
	SubjChooseTargets = "granary.v1.coord.choosetargets"
	// SubjBlockLocations: LocationsRequest → LocationsReply.
	SubjBlockLocations = "granary.v1.coord.locations"
	// SubjCluster: metadata asks for the cluster summary (→ api.ClusterView,
	// the body of the coordinator's GET /api/v1/cluster).
	SubjCluster = "granary.v1.coord.cluster"
	// SubjDatanodes: metadata asks for every datanode (→ api.DatanodeList,
	// the body of the coordinator's GET /api/v1/datanodes).
	SubjDatanodes = "granary.v1.coord.datanodes"
)

// AllSubjects lists every subject, for the contract test and the docs.
var AllSubjects = []string{
	SubjHandshake, SubjRegister, SubjHeartbeat, SubjBlockReport, SubjIncrementalReport, SubjBadBlocks,
	SubjNamespaceEvents, SubjNamespaceInventory, SubjNamespaceInfo, SubjBlockKeys, SubjSafeModeCounts, SubjChooseTargets, SubjBlockLocations,
	SubjCluster, SubjDatanodes,
}

// QueueGroup is the queue group every responder subscribes in, so that more
// than one responder process can share a subject.
const QueueGroup = "granary"
