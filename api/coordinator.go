package api

import "time"

// DatanodeView is one datanode as `hdfs dfsadmin -report` shows it.
type DatanodeView struct {
	UUID          string    `json:"uuid" example:"3f2a..." validate:"required"`
	HostName      string    `json:"hostName" example:"dn1.example.com" validate:"required"`
	IPAddr        string    `json:"ipAddr" example:"10.0.0.5" validate:"required"`
	HTTPPort      int       `json:"httpPort" example:"9864" validate:"required"`
	Rack          string    `json:"rack" example:"/default-rack" validate:"required"`
	State         string    `json:"state" example:"live" enums:"live,stale,dead" validate:"required"`
	AdminState    string    `json:"adminState" example:"NORMAL" validate:"required"`
	Capacity      int64     `json:"capacity" validate:"required"`
	DfsUsed       int64     `json:"dfsUsed" validate:"required"`
	NonDfsUsed    int64     `json:"nonDfsUsed" validate:"required"`
	Remaining     int64     `json:"remaining" validate:"required"`
	BlockPoolUsed int64     `json:"blockPoolUsed" validate:"required"`
	CacheCapacity int64     `json:"cacheCapacity" validate:"required"`
	CacheUsed     int64     `json:"cacheUsed" validate:"required"`
	XceiverCount  int       `json:"xceiverCount" validate:"required"`
	FailedVolumes int       `json:"failedVolumes" validate:"required"`
	Blocks        int       `json:"blocks" validate:"required"`
	LastContact   int64     `json:"lastContactSeconds" validate:"required"`
	LastHeartbeat time.Time `json:"lastHeartbeat" validate:"required"`
	LastReport    time.Time `json:"lastBlockReport" validate:"required"`
	RegisteredAt  time.Time `json:"registeredAt" validate:"required"`
	Storages      []string  `json:"storages" validate:"required"`
	// StorageTypes are the storages' types, in the order of Storages
	// (DISK, SSD, ARCHIVE, ...: the data directory's [TYPE] prefix).
	StorageTypes []string `json:"storageTypes" validate:"required"`
}

// ClusterView is the cluster summary (the head of dfsadmin -report).
type ClusterView struct {
	Capacity        int64 `json:"capacity" validate:"required"`
	DfsUsed         int64 `json:"dfsUsed" validate:"required"`
	NonDfsUsed      int64 `json:"nonDfsUsed" validate:"required"`
	Remaining       int64 `json:"remaining" validate:"required"`
	BlockPoolUsed   int64 `json:"blockPoolUsed" validate:"required"`
	Live            int   `json:"liveDatanodes" validate:"required"`
	Stale           int   `json:"staleDatanodes" validate:"required"`
	Dead            int   `json:"deadDatanodes" validate:"required"`
	Blocks          int   `json:"blocks" validate:"required"`
	Decommissioning int   `json:"decommissioningDatanodes" validate:"required"`
	Missing         int   `json:"missingBlocks" validate:"required"`
	UnderReplicated int   `json:"underReplicatedBlocks" validate:"required"`
	Synced          bool  `json:"namespaceSynced" validate:"required"`
	NamespaceSafe   bool  `json:"namespaceInSafeMode" validate:"required"`
}

// BlockView is one block with its replicas.
type BlockView struct {
	ID          int64    `json:"id" validate:"required"`
	GenStamp    int64    `json:"genStamp" validate:"required"`
	NumBytes    int64    `json:"numBytes" validate:"required"`
	Replication int      `json:"replication" validate:"required"`
	Complete    bool     `json:"complete" validate:"required"`
	InodeID     int64    `json:"inodeId" validate:"required"`
	Locations   []string `json:"locations" validate:"required"` // datanode UUIDs
}

// DatanodeList is the answer of the coordinator's GET /api/v1/datanodes.
type DatanodeList struct {
	Datanodes []DatanodeView `json:"datanodes" validate:"required"`
}

// RefreshNodesResponse says how many datanodes changed admin state.
type RefreshNodesResponse struct {
	Changed int `json:"changed" example:"1" validate:"required"`
}
