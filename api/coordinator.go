package api

import "time"

// DatanodeView is one datanode as `hdfs dfsadmin -report` shows it.
type DatanodeView struct {
	UUID          string    `json:"uuid" example:"3f2a..."`
	HostName      string    `json:"hostName" example:"dn1.example.com"`
	IPAddr        string    `json:"ipAddr" example:"10.0.0.5"`
	HTTPPort      int       `json:"httpPort" example:"9864"`
	Rack          string    `json:"rack" example:"/default-rack"`
	State         string    `json:"state" example:"live" enums:"live,stale,dead"`
	AdminState    string    `json:"adminState" example:"NORMAL"`
	Capacity      int64     `json:"capacity"`
	DfsUsed       int64     `json:"dfsUsed"`
	NonDfsUsed    int64     `json:"nonDfsUsed"`
	Remaining     int64     `json:"remaining"`
	BlockPoolUsed int64     `json:"blockPoolUsed"`
	CacheCapacity int64     `json:"cacheCapacity"`
	CacheUsed     int64     `json:"cacheUsed"`
	XceiverCount  int       `json:"xceiverCount"`
	FailedVolumes int       `json:"failedVolumes"`
	Blocks        int       `json:"blocks"`
	LastContact   int64     `json:"lastContactSeconds"`
	LastHeartbeat time.Time `json:"lastHeartbeat"`
	LastReport    time.Time `json:"lastBlockReport"`
	RegisteredAt  time.Time `json:"registeredAt"`
	Storages      []string  `json:"storages"`
}

// ClusterView is the cluster summary (the head of dfsadmin -report).
type ClusterView struct {
	Capacity        int64 `json:"capacity"`
	DfsUsed         int64 `json:"dfsUsed"`
	NonDfsUsed      int64 `json:"nonDfsUsed"`
	Remaining       int64 `json:"remaining"`
	BlockPoolUsed   int64 `json:"blockPoolUsed"`
	Live            int   `json:"liveDatanodes"`
	Stale           int   `json:"staleDatanodes"`
	Dead            int   `json:"deadDatanodes"`
	Blocks          int   `json:"blocks"`
	Decommissioning int   `json:"decommissioningDatanodes"`
	Missing         int   `json:"missingBlocks"`
	UnderReplicated int   `json:"underReplicatedBlocks"`
	Synced          bool  `json:"namespaceSynced"`
	NamespaceSafe   bool  `json:"namespaceInSafeMode"`
}

// BlockView is one block with its replicas.
type BlockView struct {
	ID          int64    `json:"id"`
	GenStamp    int64    `json:"genStamp"`
	NumBytes    int64    `json:"numBytes"`
	Replication int      `json:"replication"`
	Complete    bool     `json:"complete"`
	InodeID     int64    `json:"inodeId"`
	Locations   []string `json:"locations"` // datanode UUIDs
}

// DatanodeList is the answer of the coordinator's GET /api/v1/datanodes.
type DatanodeList struct {
	Datanodes []DatanodeView `json:"datanodes"`
}

// RefreshNodesResponse says how many datanodes changed admin state.
type RefreshNodesResponse struct {
	Changed int `json:"changed" example:"1"`
}
