package api

// ExtendedBlock names a block in the native API (HDFS's ExtendedBlock).
type ExtendedBlock struct {
	BlockPoolID     string `json:"blockPoolId,omitempty" example:"BP-1-10.0.0.1-1700000000000"`
	BlockID         int64  `json:"blockId" example:"1073741825" validate:"required"`
	GenerationStamp int64  `json:"generationStamp" example:"1001" validate:"required"`
	NumBytes        int64  `json:"numBytes" example:"134217728" validate:"required"`
}

// DatanodeInfo is a datanode as clients see it.
type DatanodeInfo struct {
	UUID     string `json:"uuid" example:"5b0b2c4e-..." validate:"required"`
	HostName string `json:"hostName" example:"dn1" validate:"required"`
	IPAddr   string `json:"ipAddr" example:"10.0.0.5" validate:"required"`
	HTTPPort int    `json:"infoPort" example:"9864" validate:"required"`
	Rack     string `json:"networkLocation" example:"/default-rack" validate:"required"`
}

// LocatedBlock is a block with its locations.
type LocatedBlock struct {
	Block       ExtendedBlock  `json:"block" validate:"required"`
	StartOffset int64          `json:"startOffset" example:"0" validate:"required"`
	Locations   []DatanodeInfo `json:"locations" validate:"required"`
	IsCorrupt   bool           `json:"isCorrupt" example:"false" validate:"required"`
	// BlockToken is the block access token the datanodes need for this
	// block (token mode), sent in their X-Granary-Block-Token header.
	BlockToken *DelegationToken `json:"blockToken,omitempty"`
}

// LocatedBlocks is getBlockLocations' answer.
type LocatedBlocks struct {
	FileLength          int64          `json:"fileLength" example:"134217728" validate:"required"`
	IsUnderConstruction bool           `json:"isUnderConstruction" example:"false" validate:"required"`
	LocatedBlocks       []LocatedBlock `json:"locatedBlocks" validate:"required"`
	IsLastBlockComplete bool           `json:"isLastBlockComplete" example:"true" validate:"required"`
}

// LocatedBlocksResponse wraps LocatedBlocks.
type LocatedBlocksResponse struct {
	LocatedBlocks LocatedBlocks `json:"LocatedBlocks" validate:"required"`
}

// AddBlockRequest is ClientProtocol.addBlock.
type AddBlockRequest struct {
	Path       string         `json:"path" example:"/user/me/f"`
	ClientName string         `json:"clientName" example:"granary-cli-4711"`
	Previous   *ExtendedBlock `json:"previous,omitempty"`
	// ExcludeNodes are datanode UUIDs not to write to.
	ExcludeNodes []string `json:"excludeNodes,omitempty"`
}

// AbandonBlockRequest is ClientProtocol.abandonBlock.
type AbandonBlockRequest struct {
	Path       string `json:"path" example:"/user/me/f"`
	ClientName string `json:"clientName" example:"granary-cli-4711"`
	BlockID    int64  `json:"blockId" example:"1073741825"`
}

// UpdateBlockForPipelineRequest is ClientProtocol.updateBlockForPipeline:
// a new generation stamp for the file's last block after its pipeline
// failed. The answer is a LocatedBlock with the new stamp and no locations.
type UpdateBlockForPipelineRequest struct {
	Path       string        `json:"path" example:"/user/me/f"`
	ClientName string        `json:"clientName" example:"granary-cli-4711"`
	Block      ExtendedBlock `json:"block"`
}

// UpdatePipelineRequest is ClientProtocol.updatePipeline: the surviving
// pipeline holds the last block under newBlock's generation stamp.
type UpdatePipelineRequest struct {
	Path       string        `json:"path" example:"/user/me/f"`
	ClientName string        `json:"clientName" example:"granary-cli-4711"`
	OldBlock   ExtendedBlock `json:"oldBlock"`
	NewBlock   ExtendedBlock `json:"newBlock"`
}

// GetAdditionalDatanodeRequest is ClientProtocol.getAdditionalDatanode: a
// datanode to add to the pipeline of the file's last block after others
// failed (replace-datanode-on-failure). The answer is a LocatedBlock whose
// locations are the added datanodes.
type GetAdditionalDatanodeRequest struct {
	Path               string        `json:"path" example:"/user/me/f"`
	ClientName         string        `json:"clientName" example:"granary-cli-4711"`
	Block              ExtendedBlock `json:"block"`
	Existing           []string      `json:"existing" example:"5f0e..."`
	Exclude            []string      `json:"exclude,omitempty"`
	NumAdditionalNodes int           `json:"numAdditionalNodes" example:"1"`
}

// ReportBadBlocksRequest is ClientProtocol.reportBadBlocks: each block's
// locations are the datanodes whose replica a reader found corrupt.
type ReportBadBlocksRequest struct {
	Blocks []LocatedBlock `json:"blocks"`
}

// BlockWriteResult is a datanode's answer to a block write: the datanodes
// of the pipeline (HTTP addresses) that stored the block, and the one that
// failed (those after a failed node are in neither list: the stream did not
// reach them).
type BlockWriteResult struct {
	BlockID int64    `json:"blockId" example:"1073741825" validate:"required"`
	Length  int64    `json:"length" example:"134217728" validate:"required"`
	Stored  []string `json:"stored" validate:"required"`
	Failed  []string `json:"failed" validate:"required"`
}

// BlockChecksum is a replica's checksum: the MD5 of its CRCs.
type BlockChecksum struct {
	BlockID     int64  `json:"blockId" example:"1073741825" validate:"required"`
	MD5         string `json:"md5" example:"3b5d5c3712955042212316173ccf37be" validate:"required"`
	CRCPerBlock int64  `json:"crcPerBlock" example:"262144" validate:"required"`
	BytesPerCRC int    `json:"bytesPerCrc" example:"512" validate:"required"`
	CRCType     string `json:"crcType" example:"CRC32C" validate:"required"`
}

// ReplicaInfo is one replica a datanode holds (HDFS's ReplicaRecoveryInfo).
type ReplicaInfo struct {
	BlockID   int64  `json:"blockId" example:"1073741825" validate:"required"`
	GenStamp  int64  `json:"genStamp" example:"1005" validate:"required"`
	NumBytes  int64  `json:"numBytes" example:"1300" validate:"required"`
	StorageID string `json:"storageId" example:"DS-2f1c0d5e-8a7b-4c3d-9e1f-0a2b3c4d5e6f" validate:"required"`
}

// AppendRequest is ClientProtocol.append.
type AppendRequest struct {
	Path       string `json:"path" example:"/user/me/f"`
	ClientName string `json:"clientName" example:"granary-cli-4711"`
}

// CreateResponse is the new file and, when the request asked for it with
// firstBlock, its first block and pipeline (as addBlock answers them).
type CreateResponse struct {
	FileStatus FileStatus    `json:"FileStatus" validate:"required"`
	Block      *LocatedBlock `json:"block,omitempty"`
}

// AppendResponse is the reopened file and its last block (the previous
// block of the next addBlock).
type AppendResponse struct {
	FileStatus FileStatus     `json:"FileStatus" validate:"required"`
	LastBlock  *ExtendedBlock `json:"lastBlock,omitempty"`
}

// RenewLeaseRequest is ClientProtocol.renewLease.
type RenewLeaseRequest struct {
	ClientName string `json:"clientName" example:"granary-cli-4711"`
}

// The headers that identify a client call (HDFS's RPC header clientId and
// callId): a client sends its fixed client ID and a new call number with
// every call, and the same pair when it resends a call after a lost answer
// or a failover, so that the metadata service's retry cache answers a
// non-idempotent operation it already applied (create, append, delete,
// rename, concat, updatePipeline) instead of applying it twice.
const (
	ClientIDHeader = "X-Granary-Client-Id" // 1 to 64 letters, digits, '-' or '_'
	CallIDHeader   = "X-Granary-Call-Id"   // a decimal number ≥ 0
)
