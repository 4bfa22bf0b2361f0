// Package api holds the wire types of Granary's HTTP APIs, shared by the
// services and their clients. It has no logic: JSON shapes only, with the
// field names and order of HDFS's WebHDFS (JsonUtil writes sorted keys, so
// the fields below are in alphabetical order).
package api

// FileStatus is WebHDFS's FileStatus object.
type FileStatus struct {
	AccessTime       int64  `json:"accessTime" example:"1320171722771"`
	BlockSize        int64  `json:"blockSize" example:"134217728"`
	ChildrenNum      int    `json:"childrenNum" example:"0"`
	FileID           int64  `json:"fileId" example:"16386"`
	Group            string `json:"group" example:"supergroup"`
	Length           int64  `json:"length" example:"24930"`
	ModificationTime int64  `json:"modificationTime" example:"1320171722771"`
	Owner            string `json:"owner" example:"webuser"`
	PathSuffix       string `json:"pathSuffix" example:"a.patch"`
	Permission       string `json:"permission" example:"644"`
	Replication      int    `json:"replication" example:"3"`
	StoragePolicy    int    `json:"storagePolicy" example:"0"`
	Type             string `json:"type" example:"FILE" enums:"FILE,DIRECTORY,SYMLINK"`
}

// FileStatusResponse is the GETFILESTATUS answer.
type FileStatusResponse struct {
	FileStatus FileStatus `json:"FileStatus"`
}

// FileStatuses is a list of FileStatus.
type FileStatuses struct {
	FileStatus []FileStatus `json:"FileStatus"`
}

// FileStatusesResponse is the LISTSTATUS answer.
type FileStatusesResponse struct {
	FileStatuses FileStatuses `json:"FileStatuses"`
}

// PartialListing is one page of a directory listing.
type PartialListing struct {
	FileStatuses FileStatuses `json:"FileStatuses"`
}

// DirectoryListing is the page of LISTSTATUS_BATCH.
type DirectoryListing struct {
	PartialListing   PartialListing `json:"partialListing"`
	RemainingEntries int            `json:"remainingEntries" example:"0"`
}

// DirectoryListingResponse is the LISTSTATUS_BATCH answer.
type DirectoryListingResponse struct {
	DirectoryListing DirectoryListing `json:"DirectoryListing"`
}

// ContentSummary is WebHDFS's ContentSummary.
type ContentSummary struct {
	DirectoryCount int64          `json:"directoryCount" example:"2"`
	FileCount      int64          `json:"fileCount" example:"1"`
	Length         int64          `json:"length" example:"24930"`
	Quota          int64          `json:"quota" example:"-1"`
	SpaceConsumed  int64          `json:"spaceConsumed" example:"24930"`
	SpaceQuota     int64          `json:"spaceQuota" example:"-1"`
	TypeQuota      map[string]any `json:"typeQuota"`
}

// ContentSummaryResponse is the GETCONTENTSUMMARY answer.
type ContentSummaryResponse struct {
	ContentSummary ContentSummary `json:"ContentSummary"`
}

// QuotaUsage is WebHDFS's QuotaUsage.
type QuotaUsage struct {
	FileAndDirectoryCount int64          `json:"fileAndDirectoryCount" example:"1"`
	Quota                 int64          `json:"quota" example:"100"`
	SpaceConsumed         int64          `json:"spaceConsumed" example:"24930"`
	SpaceQuota            int64          `json:"spaceQuota" example:"100000"`
	TypeQuota             map[string]any `json:"typeQuota"`
}

// QuotaUsageResponse is the GETQUOTAUSAGE answer.
type QuotaUsageResponse struct {
	QuotaUsage QuotaUsage `json:"QuotaUsage"`
}

// BooleanResponse is the answer of MKDIRS, RENAME, DELETE, SETREPLICATION, TRUNCATE.
type BooleanResponse struct {
	Boolean bool `json:"boolean" example:"true"`
}

// PathResponse is the answer of GETHOMEDIRECTORY and GETTRASHROOT.
type PathResponse struct {
	Path string `json:"Path" example:"/user/webuser"`
}

// FsServerDefaults is WebHDFS's FsServerDefaults.
type FsServerDefaults struct {
	BlockSize              int64  `json:"blockSize" example:"134217728"`
	BytesPerChecksum       int    `json:"bytesPerChecksum" example:"512"`
	ChecksumType           int    `json:"checksumType" example:"2"`
	DefaultStoragePolicyID int    `json:"defaultStoragePolicyId" example:"7"`
	EncryptDataTransfer    bool   `json:"encryptDataTransfer" example:"false"`
	FileBufferSize         int    `json:"fileBufferSize" example:"4096"`
	KeyProviderURI         string `json:"keyProviderUri" example:""`
	Replication            int    `json:"replication" example:"3"`
	TrashInterval          int64  `json:"trashInterval" example:"0"`
	WritePacketSize        int    `json:"writePacketSize" example:"65536"`
}

// FsServerDefaultsResponse is the GETSERVERDEFAULTS answer.
type FsServerDefaultsResponse struct {
	FsServerDefaults FsServerDefaults `json:"FsServerDefaults"`
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
	On      bool   `json:"on" example:"false"`
	Message string `json:"message" example:"Safe mode is OFF."`
}

// JMXResponse is the answer of the metadata service's /jmx: HDFS's JMX
// servlet shape, one object per bean with its "name" and attributes.
type JMXResponse struct {
	Beans []map[string]any `json:"beans"`
}

// SaveNamespaceResponse is the admin API's saveNamespace answer.
type SaveNamespaceResponse struct {
	TxID int64 `json:"txid" example:"4711"`
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
	URLString string `json:"urlString" example:"HAAEaGRmcwRoZGZz..."`
}

// TokenResponse is GETDELEGATIONTOKEN's body; Token is null with simple
// authentication.
type TokenResponse struct {
	Token *DelegationToken `json:"Token" extensions:"x-nullable"`
}

// BlockLocations is GETFILEBLOCKLOCATIONS' answer body.
type BlockLocations struct {
	BlockLocation []BlockLocation `json:"BlockLocation"`
}

// BlockLocation is Hadoop's BlockLocation as JsonUtil writes it.
type BlockLocation struct {
	CachedHosts   []string `json:"cachedHosts"`
	Corrupt       bool     `json:"corrupt"`
	Hosts         []string `json:"hosts"`
	Length        int64    `json:"length"`
	Names         []string `json:"names"`
	Offset        int64    `json:"offset"`
	StorageTypes  []string `json:"storageTypes"`
	TopologyPaths []string `json:"topologyPaths"`
}

// FileChecksum is WebHDFS's FileChecksum (MD5MD5CRC32FileChecksum).
type FileChecksum struct {
	Algorithm string `json:"algorithm" example:"MD5-of-0MD5-of-512CRC32C"`
	Bytes     string `json:"bytes" example:"000002000000000000000000a4c9f6a1a3b0a0c5c2a1bde12e4b9a76"`
	Length    int    `json:"length" example:"28"`
}

// FileChecksumResponse is the GETFILECHECKSUM answer.
type FileChecksumResponse struct {
	FileChecksum FileChecksum `json:"FileChecksum"`
}

// LocationResponse is the answer of a two-step operation with noredirect=true.
type LocationResponse struct {
	Location string `json:"Location" example:"http://dn1:9864/webhdfs/v1/tmp/f?op=CREATE&namenoderpcaddress=nn:9870&user.name=me"`
}

// WebHDFSPutResponse documents the answers of the PUT operations with a
// body: {"boolean": ...} (MKDIRS, RENAME, SETREPLICATION) or
// {"Location": ...} (CREATE with noredirect=true).
type WebHDFSPutResponse struct {
	Boolean  *bool  `json:"boolean,omitempty" example:"true"`
	Location string `json:"Location,omitempty"`
}
