// Package api holds the wire types of Granary's HTTP APIs, shared by the
// services and their clients. It has no logic: JSON shapes only, with the
// field names and order of HDFS's WebHDFS (JsonUtil writes sorted keys, so
// the fields below are in alphabetical order).
package api

// FileStatus is WebHDFS's FileStatus object.
type FileStatus struct {
	AccessTime       int64  `json:"accessTime" example:"1320171722771" validate:"required"`
	BlockSize        int64  `json:"blockSize" example:"134217728" validate:"required"`
	ChildrenNum      int    `json:"childrenNum" example:"0" validate:"required"`
	FileID           int64  `json:"fileId" example:"16386" validate:"required"`
	Group            string `json:"group" example:"supergroup" validate:"required"`
	Length           int64  `json:"length" example:"24930" validate:"required"`
	ModificationTime int64  `json:"modificationTime" example:"1320171722771" validate:"required"`
	Owner            string `json:"owner" example:"webuser" validate:"required"`
	PathSuffix       string `json:"pathSuffix" example:"a.patch" validate:"required"`
	Permission       string `json:"permission" example:"644" validate:"required"`
	Replication      int    `json:"replication" example:"3" validate:"required"`
	StoragePolicy    int    `json:"storagePolicy" example:"0" validate:"required"`
	Type             string `json:"type" example:"FILE" enums:"FILE,DIRECTORY,SYMLINK" validate:"required"`
}

// FileStatusResponse is the GETFILESTATUS answer.
type FileStatusResponse struct {
	FileStatus FileStatus `json:"FileStatus" validate:"required"`
}

// FileStatuses is a list of FileStatus.
type FileStatuses struct {
	FileStatus []FileStatus `json:"FileStatus" validate:"required"`
}

// FileStatusesResponse is the LISTSTATUS answer.
type FileStatusesResponse struct {
	FileStatuses FileStatuses `json:"FileStatuses" validate:"required"`
}

// PartialListing is one page of a directory listing.
type PartialListing struct {
	FileStatuses FileStatuses `json:"FileStatuses" validate:"required"`
}

// DirectoryListing is the page of LISTSTATUS_BATCH.
type DirectoryListing struct {
	PartialListing   PartialListing `json:"partialListing" validate:"required"`
	RemainingEntries int            `json:"remainingEntries" example:"0" validate:"required"`
}

// DirectoryListingResponse is the LISTSTATUS_BATCH answer.
type DirectoryListingResponse struct {
	DirectoryListing DirectoryListing `json:"DirectoryListing" validate:"required"`
}

// ContentSummary is WebHDFS's ContentSummary.
type ContentSummary struct {
	DirectoryCount int64          `json:"directoryCount" example:"2" validate:"required"`
	FileCount      int64          `json:"fileCount" example:"1" validate:"required"`
	Length         int64          `json:"length" example:"24930" validate:"required"`
	Quota          int64          `json:"quota" example:"-1" validate:"required"`
	SpaceConsumed  int64          `json:"spaceConsumed" example:"24930" validate:"required"`
	SpaceQuota     int64          `json:"spaceQuota" example:"-1" validate:"required"`
	TypeQuota      map[string]any `json:"typeQuota" validate:"required"`
}

// ContentSummaryResponse is the GETCONTENTSUMMARY answer.
type ContentSummaryResponse struct {
	ContentSummary ContentSummary `json:"ContentSummary" validate:"required"`
}

// QuotaUsage is WebHDFS's QuotaUsage.
type QuotaUsage struct {
	FileAndDirectoryCount int64          `json:"fileAndDirectoryCount" example:"1" validate:"required"`
	Quota                 int64          `json:"quota" example:"100" validate:"required"`
	SpaceConsumed         int64          `json:"spaceConsumed" example:"24930" validate:"required"`
	SpaceQuota            int64          `json:"spaceQuota" example:"100000" validate:"required"`
	TypeQuota             map[string]any `json:"typeQuota" validate:"required"`
}

// QuotaUsageResponse is the GETQUOTAUSAGE answer.
type QuotaUsageResponse struct {
	QuotaUsage QuotaUsage `json:"QuotaUsage" validate:"required"`
}

// BooleanResponse is the answer of MKDIRS, RENAME, DELETE, SETREPLICATION, TRUNCATE.
type BooleanResponse struct {
	Boolean bool `json:"boolean" example:"true" validate:"required"`
}

// PathResponse is the answer of GETHOMEDIRECTORY and GETTRASHROOT.
type PathResponse struct {
	Path string `json:"Path" example:"/user/webuser" validate:"required"`
}

// FsServerDefaults is WebHDFS's FsServerDefaults.
type FsServerDefaults struct {
	BlockSize              int64  `json:"blockSize" example:"134217728" validate:"required"`
	BytesPerChecksum       int    `json:"bytesPerChecksum" example:"512" validate:"required"`
	ChecksumType           int    `json:"checksumType" example:"2" validate:"required"`
	DefaultStoragePolicyID int    `json:"defaultStoragePolicyId" example:"7" validate:"required"`
	EncryptDataTransfer    bool   `json:"encryptDataTransfer" example:"false" validate:"required"`
	FileBufferSize         int    `json:"fileBufferSize" example:"4096" validate:"required"`
	KeyProviderURI         string `json:"keyProviderUri" example:"" validate:"required"`
	Replication            int    `json:"replication" example:"3" validate:"required"`
	TrashInterval          int64  `json:"trashInterval" example:"0" validate:"required"`
	WritePacketSize        int    `json:"writePacketSize" example:"65536" validate:"required"`
}

// FsServerDefaultsResponse is the GETSERVERDEFAULTS answer.
type FsServerDefaultsResponse struct {
	FsServerDefaults FsServerDefaults `json:"FsServerDefaults" validate:"required"`
}

// CreateRequest is the native API's create (HDFS ClientProtocol.create).
type CreateRequest struct {
	Path         string `json:"path" example:"/user/me/empty"`
	ClientName   string `json:"clientName" example:"granary-cli-4711"`
	Overwrite    bool   `json:"overwrite" example:"false"`
	CreateParent bool   `json:"createParent" example:"true"`
	Replication  int    `json:"replication,omitempty" example:"3"`
	BlockSize    int64  `json:"blockSize,omitempty" example:"134217728"`
	Permission   string `json:"permission,omitempty" example:"644"`
	// FirstBlock also allocates the file's first block and its pipeline in
	// the same commit (create followed by addBlock, one round trip less).
	// A writer that ends up writing nothing abandons it before complete.
	FirstBlock bool `json:"firstBlock,omitempty" example:"true"`
}

// CompleteRequest is the native API's complete: Last is the file's last
// block with its final length (absent for a file without blocks).
type CompleteRequest struct {
	Path       string         `json:"path" example:"/user/me/empty"`
	ClientName string         `json:"clientName" example:"granary-cli-4711"`
	Last       *ExtendedBlock `json:"last,omitempty"`
}

// SafeModeStatus is the admin API's safe-mode answer.
type SafeModeStatus struct {
	On      bool   `json:"on" example:"false" validate:"required"`
	Message string `json:"message" example:"Safe mode is OFF." validate:"required"`
}

// JMXResponse is the answer of the metadata service's /jmx: HDFS's JMX
// servlet shape, one object per bean with its "name" and attributes.
type JMXResponse struct {
	Beans []map[string]any `json:"beans" validate:"required"`
}

// SaveNamespaceResponse is the admin API's saveNamespace answer.
type SaveNamespaceResponse struct {
	TxID int64 `json:"txid" example:"4711" validate:"required"`
}

// WebHDFSGetResponse documents the answers of the GET operations in one
// schema: each answer carries exactly one of these keys.
type WebHDFSGetResponse struct {
	FileStatus       *FileStatus       `json:"FileStatus,omitempty"`
	FileStatuses     *FileStatuses     `json:"FileStatuses,omitempty"`
	DirectoryListing *DirectoryListing `json:"DirectoryListing,omitempty"`
	ContentSummary   *ContentSummary   `json:"ContentSummary,omitempty"`
	QuotaUsage       *QuotaUsage       `json:"QuotaUsage,omitempty"`
	FsServerDefaults *FsServerDefaults `json:"FsServerDefaults,omitempty"`
	Path             string            `json:"Path,omitempty"`
	Location         string            `json:"Location,omitempty"`
	BlockLocations   *BlockLocations   `json:"BlockLocations,omitempty"`
	// Token is GETDELEGATIONTOKEN's answer: null when security is off, as
	// HDFS answers it.
	Token *DelegationToken `json:"Token,omitempty" extensions:"x-nullable"`
}

// DelegationToken is a delegation token as WebHDFS sends it (JsonUtil).
type DelegationToken struct {
	URLString string `json:"urlString" example:"HAAEaGRmcwRoZGZz..." validate:"required"`
}

// LongResponse is RENEWDELEGATIONTOKEN's body: the token's new expiry
// (milliseconds since the epoch).
type LongResponse struct {
	Long int64 `json:"long" example:"1320962673997" validate:"required"`
}

// TokenResponse is GETDELEGATIONTOKEN's body; Token is null with simple
// authentication.
type TokenResponse struct {
	Token *DelegationToken `json:"Token" extensions:"x-nullable" validate:"required"`
}

// BlockLocations is GETFILEBLOCKLOCATIONS' answer body.
type BlockLocations struct {
	BlockLocation []BlockLocation `json:"BlockLocation" validate:"required"`
}

// BlockLocation is Hadoop's BlockLocation as JsonUtil writes it.
type BlockLocation struct {
	CachedHosts   []string `json:"cachedHosts" validate:"required"`
	Corrupt       bool     `json:"corrupt" validate:"required"`
	Hosts         []string `json:"hosts" validate:"required"`
	Length        int64    `json:"length" validate:"required"`
	Names         []string `json:"names" validate:"required"`
	Offset        int64    `json:"offset" validate:"required"`
	StorageTypes  []string `json:"storageTypes" validate:"required"`
	TopologyPaths []string `json:"topologyPaths" validate:"required"`
}

// FileChecksum is WebHDFS's FileChecksum (MD5MD5CRC32FileChecksum).
type FileChecksum struct {
	Algorithm string `json:"algorithm" example:"MD5-of-0MD5-of-512CRC32C" validate:"required"`
	Bytes     string `json:"bytes" example:"000002000000000000000000a4c9f6a1a3b0a0c5c2a1bde12e4b9a76" validate:"required"`
	Length    int    `json:"length" example:"28" validate:"required"`
}

// FileChecksumResponse is the GETFILECHECKSUM answer.
type FileChecksumResponse struct {
	FileChecksum FileChecksum `json:"FileChecksum" validate:"required"`
}

// LocationResponse is the answer of a two-step operation with noredirect=true.
type LocationResponse struct {
	Location string `json:"Location" example:"http://dn1:9864/webhdfs/v1/tmp/f?op=CREATE&namenoderpcaddress=nn:9870&user.name=me" validate:"required"`
}

// WebHDFSPutResponse documents the answers of the PUT operations with a
// body: {"boolean": ...} (MKDIRS, RENAME, SETREPLICATION) or
// {"Location": ...} (CREATE with noredirect=true) or {"long": ...}
// (RENEWDELEGATIONTOKEN).
type WebHDFSPutResponse struct {
	Boolean  *bool  `json:"boolean,omitempty" example:"true"`
	Location string `json:"Location,omitempty"`
	Long     *int64 `json:"long,omitempty" example:"1320962673997"`
}

// ConfProperty is one setting of a service's effective configuration, as
// HDFS's /conf?format=json lists it.
type ConfProperty struct {
	Key      string `json:"key" example:"dfs.namenode.http-address" validate:"required"`
	Value    string `json:"value" example:":9870" validate:"required"`
	IsFinal  bool   `json:"isFinal" validate:"required"`
	Resource string `json:"resource" example:"granary metadata" validate:"required"`
}

// ConfResponse is /conf's body.
type ConfResponse struct {
	Properties []ConfProperty `json:"properties" validate:"required"`
}

// MountEntry is one entry of the router's mount table (HDFS RBF's
// MountTable): a source path of the global namespace, the nameservice and
// the path there it maps to.
type MountEntry struct {
	Source      string `json:"source" example:"/data" validate:"required"`
	Nameservice string `json:"nameservice" example:"ns1" validate:"required"`
	Destination string `json:"destination" example:"/data" validate:"required"`
	Created     int64  `json:"created" example:"1320171722771" validate:"required"`
}

// MountTable is the router's mount table.
type MountTable struct {
	Entries []MountEntry `json:"entries" validate:"required"`
}
