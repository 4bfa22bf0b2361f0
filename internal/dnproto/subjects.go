// Package dnproto is Granary's NATS contract: every subject, and every
// request and reply payload, exchanged between datanodes, the coordinator
// and the metadata service (HDFS's DatanodeProtocol and the NameNode's
// internal block-management calls). Control messages are JSON; block
// reports use the compact binary encoding of blockreport.go. The subjects
// carry a version; docs/nats-protocol.md and api/asyncapi.yaml describe them.
package dnproto

import "strings"

// Every subject carries the nameservice ({ns}, In): two nameservices on one
// NATS never see each other's traffic (HDFS federation: each NameNode of a
// nameservice talks to the datanodes' actor for its block pool only).

// DefaultNameservice is dfs.nameservice.id's value when none is set.
const DefaultNameservice = "ns1"

// In is subj in nameservice ns.
func In(ns, subj string) string { return strings.Replace(subj, "{ns}", ns, 1) }

// Datanode → coordinator (request/reply). These subjects carry the
// datanode's NATS identity in place of {identity} (ForIdentity), so that a
// NATS server can let each datanode publish only its own, and the
// coordinator knows which identity sent a message (IdentityOf).
const (
	// SubjHandshake: phase 1, returns NamespaceInfo (versionRequest).
	SubjHandshake = "granary.v1.{ns}.dn.{identity}.handshake"
	// SubjRegister: phase 2, Registration → RegisterReply (registerDatanode).
	SubjRegister = "granary.v1.{ns}.dn.{identity}.register"
	// SubjHeartbeat: Heartbeat → HeartbeatReply (sendHeartbeat).
	SubjHeartbeat = "granary.v1.{ns}.dn.{identity}.heartbeat"
	// SubjBlockReport: one binary full-report chunk → BlockReportReply.
	SubjBlockReport = "granary.v1.{ns}.dn.{identity}.blockreport"
	// SubjIncrementalReport: IncrementalReport → Ack (blockReceivedAndDeleted).
	SubjIncrementalReport = "granary.v1.{ns}.dn.{identity}.ibr"
	// SubjBadBlocks: BadBlocks → Ack (reportBadBlocks).
	SubjBadBlocks = "granary.v1.{ns}.dn.{identity}.badblocks"
	// SubjLifeline: Lifeline → Ack (DatanodeLifelineProtocol's
	// sendLifeline): sent when a heartbeat is late, answered apart from
	// heartbeats, so that a coordinator too busy for heartbeats does not
	// declare live datanodes dead.
	SubjLifeline = "granary.v1.{ns}.dn.{identity}.lifeline"
)

// ForIdentity is subj as the datanode with NATS identity id sends it.
func ForIdentity(subj, id string) string { return strings.Replace(subj, "{identity}", id, 1) }

// AnyIdentity is subj for every datanode (the coordinator subscribes to it).
func AnyIdentity(subj string) string { return strings.Replace(subj, "{identity}", "*", 1) }

// ToCoordinator is a datanode subject addressed to the coordinator with HA
// ID coord (granary.v1.<ns>.dn.<identity>.<verb>.<coord>): with coordinator
// HA every datanode talks to each coordinator of its nameservice on
// subjects of its own. Without an ID (one coordinator) it is subj.
func ToCoordinator(subj, coord string) string {
	if coord == "" {
		return subj
	}
	return subj + "." + coord
}

// IdentityOf returns the datanode identity in a datanode subject
// (granary.v1.<ns>.dn.<identity>.<verb>[.<coord>]), or "".
func IdentityOf(subject string) string {
	parts := strings.Split(subject, ".")
	if len(parts) < 6 || len(parts) > 7 || parts[3] != "dn" {
		return ""
	}
	return parts[4]
}

// Metadata ⇄ coordinator.
const (
	// SubjNamespaceEvents: metadata publishes BlockEvents after each commit.
	SubjNamespaceEvents = "granary.v1.{ns}.ns.events"
	// SubjNamespaceInventory: coordinator asks metadata for a page of the
	// namespace's blocks (InventoryRequest → InventoryPage).
	SubjNamespaceInventory = "granary.v1.{ns}.ns.inventory"
	// SubjNamespaceInfo: coordinator asks metadata for NamespaceInfo.
	SubjNamespaceInfo = "granary.v1.{ns}.ns.info"
	// SubjBlockKeys: coordinator asks metadata for the block keys
	// (→ blocktoken.Keys; generation 0: block tokens are off).
	SubjBlockKeys = "granary.v1.{ns}.ns.blockkeys"
	// SubjCoordinatorClaim: a coordinator with an HA ID asks the active
	// metadata service for the active role, and keeps it by asking again
	// (CoordinatorClaimRequest → CoordinatorClaim).
	SubjCoordinatorClaim = "granary.v1.{ns}.ns.coordinator"
	// SubjLocationsChanged: the active coordinator tells the metadata
	// services which cached block locations changed (LocationsChanged, no
	// reply; docs/nats-protocol.md).
	SubjLocationsChanged = "granary.v1.{ns}.ns.locations"
	// SubjLocationsReceived: the active coordinator tells the metadata
	// services the locations of blocks being written that a datanode
	// reported RECEIVED, as answers to keep (LocationsReceived, no reply;
	// docs/nats-protocol.md).
	SubjLocationsReceived = "granary.v1.{ns}.ns.received"
	// SubjSafeModeCounts: metadata asks the coordinator for SafeModeCounts.
	SubjSafeModeCounts = "granary.v1.{ns}.coord.safemode"
	// SubjChooseTargets: ChooseTargetsRequest → ChooseTargetsReply.
	SubjChooseTargets = "granary.v1.{ns}.coord.choosetargets"
	// SubjReaderBadBlocks: the metadata service reports replicas a
	// client's end-to-end check found corrupt (BadBlocks → Ack).
	SubjReaderBadBlocks = "granary.v1.{ns}.coord.badblocks"
	// SubjBlockLocations: LocationsRequest → LocationsReply.
	SubjBlockLocations = "granary.v1.{ns}.coord.locations"
	// SubjCluster: metadata asks for the cluster summary (→ api.ClusterView,
	// the body of the coordinator's GET /api/v1/cluster).
	SubjCluster = "granary.v1.{ns}.coord.cluster"
	// SubjDatanodes: metadata asks for every datanode (→ api.DatanodeList,
	// the body of the coordinator's GET /api/v1/datanodes).
	SubjDatanodes = "granary.v1.{ns}.coord.datanodes"
)

// AllSubjects lists every subject, for the contract test and the docs.
var AllSubjects = []string{
	SubjHandshake, SubjRegister, SubjHeartbeat, SubjBlockReport, SubjIncrementalReport, SubjBadBlocks, SubjLifeline,
	SubjNamespaceEvents, SubjNamespaceInventory, SubjNamespaceInfo, SubjBlockKeys, SubjCoordinatorClaim, SubjLocationsChanged, SubjLocationsReceived, SubjSafeModeCounts, SubjChooseTargets, SubjBlockLocations,
	SubjReaderBadBlocks,
	SubjCluster, SubjDatanodes,
}

// QueueGroup is the queue group every responder subscribes in, so that more
// than one responder process can share a subject.
const QueueGroup = "granary"
