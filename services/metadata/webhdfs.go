package metadata

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/rest"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// webhdfsCall is one WebHDFS request after parsing.
type webhdfsCall struct {
	op   string
	path string
	p    *params
	user *namespace.User
	id   auth.Identity
}

// webhdfsOps lists the ops per method, as HDFS's GetOpParam, PutOpParam,
// PostOpParam and DeleteOpParam; ops Granary does not implement yet are
// answered with UnsupportedOperationException.
var webhdfsOps = map[string]map[string]func(s *Service, w http.ResponseWriter, r *http.Request, c *webhdfsCall) error{
	http.MethodGet: {
		"GETFILESTATUS": (*Service).getFileStatus, "LISTSTATUS": (*Service).listStatus,
		"LISTSTATUS_BATCH": (*Service).listStatusBatch, "GETCONTENTSUMMARY": (*Service).getContentSummary,
		"GETQUOTAUSAGE": (*Service).getQuotaUsage, "GETHOMEDIRECTORY": (*Service).getHomeDirectory,
		"GETTRASHROOT": (*Service).getTrashRoot, "GETSERVERDEFAULTS": (*Service).getServerDefaults,
		"OPEN": (*Service).openOp, "GETFILECHECKSUM": (*Service).checksumOp, "GETFILEBLOCKLOCATIONS": (*Service).fileBlockLocationsOp, "GET_BLOCK_LOCATIONS": nil,
		"GETACLSTATUS": nil, "GETXATTRS": nil, "LISTXATTRS": nil, "CHECKACCESS": nil, "GETALLSTORAGEPOLICY": nil,
		"GETSTORAGEPOLICY": nil, "GETSNAPSHOTDIFF": nil, "GETSNAPSHOTTABLEDIRECTORYLIST": nil,
		"GETDELEGATIONTOKEN": (*Service).getDelegationToken, "GETSTATUS": nil, "GETECPOLICY": nil, "GETSNAPSHOTLIST": nil,
	},
	http.MethodPut: {
		"MKDIRS": (*Service).mkdirs, "RENAME": (*Service).rename, "SETPERMISSION": (*Service).setPermission,
		"SETOWNER": (*Service).setOwner, "SETTIMES": (*Service).setTimes, "SETREPLICATION": (*Service).setReplication,
		"SETQUOTA": (*Service).setQuota,
		"CREATE":   (*Service).createOp, "CREATESYMLINK": nil, "RENEWDELEGATIONTOKEN": (*Service).renewDelegationToken, "CANCELDELEGATIONTOKEN": (*Service).cancelDelegationToken,
		"MODIFYACLENTRIES": nil, "REMOVEACLENTRIES": nil, "REMOVEDEFAULTACL": nil, "REMOVEACL": nil, "SETACL": nil,
		"SETXATTR": nil, "REMOVEXATTR": nil, "ALLOWSNAPSHOT": nil, "DISALLOWSNAPSHOT": nil, "CREATESNAPSHOT": nil,
		"RENAMESNAPSHOT": nil, "SETSTORAGEPOLICY": nil, "SATISFYSTORAGEPOLICY": nil, "SETQUOTABYSTORAGETYPE": nil,
		"ENABLEECPOLICY": nil, "DISABLEECPOLICY": nil, "SETECPOLICY": nil,
	},
	http.MethodPost: {
		"APPEND": (*Service).appendOp, "CONCAT": (*Service).concatOp, "TRUNCATE": (*Service).truncateOp, "UNSETSTORAGEPOLICY": nil, "UNSETECPOLICY": nil,
	},
	http.MethodDelete: {
		"DELETE": (*Service).deleteOp, "DELETESNAPSHOT": nil,
	},
}

var opParamClass = map[string]string{
	http.MethodGet: "GetOpParam", http.MethodPut: "PutOpParam", http.MethodPost: "PostOpParam", http.MethodDelete: "DeleteOpParam",
}

// webhdfs godoc
//
//	@Summary		WebHDFS namespace operations (GET)
//	@Description	GETFILESTATUS, LISTSTATUS, LISTSTATUS_BATCH, GETCONTENTSUMMARY, GETQUOTAUSAGE, GETHOMEDIRECTORY, GETTRASHROOT, GETSERVERDEFAULTS. Answers are HDFS's JSON objects; errors are RemoteException bodies with HDFS's status mapping.
//	@Tags			webhdfs
//	@Produce		json
//	@Param			path		path		string	true	"absolute path without the leading slash"
//	@Param			op			query		string	true	"operation"	Enums(GETFILESTATUS,LISTSTATUS,LISTSTATUS_BATCH,GETCONTENTSUMMARY,GETQUOTAUSAGE,GETHOMEDIRECTORY,GETTRASHROOT,GETSERVERDEFAULTS,OPEN,GETFILECHECKSUM,GETFILEBLOCKLOCATIONS,GETDELEGATIONTOKEN)
//	@Param			user.name	query		string	false	"caller (simple authentication); dr.who when absent"
//	@Param			doas		query		string	false	"user to act as (superuser only)"
//	@Param			startAfter	query		string	false	"LISTSTATUS_BATCH: the last pathSuffix of the previous page"
//	@Param			offset		query		integer	false	"OPEN, GETFILEBLOCKLOCATIONS: first byte"
//	@Param			length		query		integer	false	"OPEN, GETFILEBLOCKLOCATIONS: bytes"
//	@Param			noredirect	query		boolean	false	"OPEN, GETFILECHECKSUM: answer 200 {Location} instead of 307"
//	@Param			renewer		query		string	false	"GETDELEGATIONTOKEN: the token's renewer"
//	@Success		200			{object}	api.WebHDFSGetResponse	"exactly one key, by op: FileStatus, FileStatuses, DirectoryListing, ContentSummary, QuotaUsage, FsServerDefaults, Path, BlockLocations, Token (null with simple authentication), or Location (noredirect)"
//	@Success		307			{string}	string					"OPEN, GETFILECHECKSUM: Location header names a datanode"
//	@Failure		400			{object}	errs.RemoteExceptionBody	"IllegalArgumentException, InvalidPathException, UnsupportedOperationException"
//	@Failure		403			{object}	errs.RemoteExceptionBody	"AccessControlException and other IOExceptions"
//	@Failure		404			{object}	errs.RemoteExceptionBody	"FileNotFoundException"
//	@Failure		500			{object}	errs.RemoteExceptionBody	"unexpected failure"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			webhdfsGet
//	@Router			/webhdfs/v1/{path} [get]
func (s *Service) webhdfsGet(w http.ResponseWriter, r *http.Request) { s.webhdfs(w, r) }

// webhdfsPut godoc
//
//	@Summary		WebHDFS namespace operations (PUT)
//	@Description	MKDIRS, RENAME, SETPERMISSION, SETOWNER, SETTIMES, SETREPLICATION, SETQUOTA. MKDIRS, RENAME and SETREPLICATION answer {"boolean": ...}; the setters answer 200 with an empty body.
//	@Tags			webhdfs
//	@Produce		json
//	@Param			path				path		string	true	"absolute path without the leading slash"
//	@Param			op					query		string	true	"operation"	Enums(MKDIRS,RENAME,SETPERMISSION,SETOWNER,SETTIMES,SETREPLICATION,SETQUOTA,CREATE,RENEWDELEGATIONTOKEN,CANCELDELEGATIONTOKEN)
//	@Param			user.name			query		string	false	"caller"
//	@Param			X-Granary-Client-Id	header		string	false	"the client's ID, sent with X-Granary-Call-Id: a retried call with the same pair that was applied (create, append, rename, delete, concat, updatePipeline) is answered from the retry cache, also after a failover"
//	@Param			X-Granary-Call-Id	header		integer	false	"the call's number (see X-Granary-Client-Id)"
//	@Param			doas				query		string	false	"user to act as (superuser only)"
//	@Param			permission			query		string	false	"octal permission, e.g. 755"
//	@Param			destination			query		string	false	"RENAME: the absolute destination path"
//	@Param			owner				query		string	false	"SETOWNER: new owner"
//	@Param			group				query		string	false	"SETOWNER: new group"
//	@Param			modificationtime	query		integer	false	"SETTIMES: ms since the epoch, -1 keeps it"
//	@Param			accesstime			query		integer	false	"SETTIMES: ms since the epoch, -1 keeps it"
//	@Param			replication			query		integer	false	"SETREPLICATION: new factor"
//	@Param			namespacequota		query		integer	false	"SETQUOTA: name quota, -1 clears"
//	@Param			storagespacequota	query		integer	false	"SETQUOTA: space quota in bytes, -1 clears"
//	@Param			overwrite			query		boolean	false	"CREATE: replace an existing file"
//	@Param			blocksize			query		integer	false	"CREATE: block size"
//	@Param			noredirect			query		boolean	false	"CREATE: answer 200 {Location} instead of 307"
//	@Param			token				query		string	false	"RENEWDELEGATIONTOKEN, CANCELDELEGATIONTOKEN: the token (its urlString)"
//	@Success		200					{object}	api.WebHDFSPutResponse	"MKDIRS, RENAME, SETREPLICATION: {boolean}; CREATE with noredirect: {Location}; the other setters answer an empty body"
//	@Success		307					{string}	string				"CREATE: Location header names a datanode"
//	@Failure		400					{object}	errs.RemoteExceptionBody
//	@Failure		403					{object}	errs.RemoteExceptionBody
//	@Failure		404					{object}	errs.RemoteExceptionBody
//	@Failure		500					{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			webhdfsPut
//	@Router			/webhdfs/v1/{path} [put]
func (s *Service) webhdfsPut(w http.ResponseWriter, r *http.Request) { s.webhdfs(w, r) }

// webhdfsPost godoc
//
//	@Summary		WebHDFS POST operations
//	@Description	APPEND answers 307 to the datanode holding the file's last block; CONCAT (sources=comma list) answers 200 with an empty body; TRUNCATE (newlength) answers {"boolean": true} when the new length is on a block boundary (or the file's length) and {"boolean": false} when a block was cut, as HDFS, whose client then waits for the length to reach the new one: the cut block's replicas are cut in place under a new generation stamp (tried before the answer, so the file is usually closed by then; meanwhile append, create and truncate get RecoveryInProgressException).
//	@Tags			webhdfs
//	@Produce		json
//	@Param			path		path		string	true	"absolute path without the leading slash"
//	@Param			op			query		string	true	"operation"	Enums(APPEND,CONCAT,TRUNCATE)
//	@Param			user.name	query		string	false	"caller"
//	@Param			X-Granary-Client-Id	header		string	false	"the client's ID, sent with X-Granary-Call-Id: a retried call with the same pair that was applied (create, append, rename, delete, concat, updatePipeline) is answered from the retry cache, also after a failover"
//	@Param			X-Granary-Call-Id	header		integer	false	"the call's number (see X-Granary-Client-Id)"
//	@Param			noredirect	query		boolean	false	"APPEND: answer 200 {Location} instead of 307"
//	@Param			sources		query		string	false	"CONCAT: absolute paths, comma separated"
//	@Param			newlength	query		integer	false	"TRUNCATE: the new length"
//	@Success		200			{object}	api.WebHDFSPutResponse	"TRUNCATE {boolean}; APPEND with noredirect {Location}; CONCAT an empty body"
//	@Success		307			{string}	string	"Location header names a datanode"
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		403			{object}	errs.RemoteExceptionBody
//	@Failure		404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			webhdfsPost
//	@Router			/webhdfs/v1/{path} [post]
func (s *Service) webhdfsPost(w http.ResponseWriter, r *http.Request) { s.webhdfs(w, r) }

// webhdfsDelete godoc
//
//	@Summary		WebHDFS DELETE
//	@Description	Deletes a path; a non-empty directory only with recursive=true. A missing path answers {"boolean": false}.
//	@Tags			webhdfs
//	@Produce		json
//	@Param			path		path		string	true	"absolute path without the leading slash"
//	@Param			op			query		string	true	"operation"	Enums(DELETE)
//	@Param			user.name	query		string	false	"caller"
//	@Param			X-Granary-Client-Id	header		string	false	"the client's ID, sent with X-Granary-Call-Id: a retried call with the same pair that was applied (create, append, rename, delete, concat, updatePipeline) is answered from the retry cache, also after a failover"
//	@Param			X-Granary-Call-Id	header		integer	false	"the call's number (see X-Granary-Client-Id)"
//	@Param			recursive	query		boolean	false	"delete a non-empty directory"
//	@Success		200			{object}	api.BooleanResponse
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		403			{object}	errs.RemoteExceptionBody
//	@Failure		404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			webhdfsDelete
//	@Router			/webhdfs/v1/{path} [delete]
func (s *Service) webhdfsDelete(w http.ResponseWriter, r *http.Request) { s.webhdfs(w, r) }

func (s *Service) webhdfs(w http.ResponseWriter, r *http.Request) {
	c, handler, err := s.parseWebHDFS(r)
	op := "unknown"
	if c != nil {
		op = c.op
	}
	if err == nil {
		err = handler(s, w, r, c)
	}
	if c != nil {
		s.audit(c.user, clientHost(r), auditCmds[c.op], c.path, c.p.str("destination", ""), "webhdfs", err)
	}
	code := http.StatusOK
	if err != nil {
		code = writeError(w, err)
	}
	s.metrics.requests.WithLabelValues(op, strconv.Itoa(code)).Inc()
}

func (s *Service) parseWebHDFS(r *http.Request) (*webhdfsCall, func(*Service, http.ResponseWriter, *http.Request, *webhdfsCall) error, error) {
	p := newParams(r.URL.Query())
	if len(p.unknown) > 0 {
		s.log.Debug("ignored unknown WebHDFS parameters", "names", p.unknown, "path", r.URL.Path)
	}
	c := &webhdfsCall{p: p, path: "/" + strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/webhdfs/v1"), "/")}
	c.op = strings.ToUpper(p.str("op", ""))
	ops := webhdfsOps[r.Method]
	if ops == nil {
		return c, nil, errs.E(errs.UnsupportedOperation, "Method %s is not supported by WebHDFS", r.Method)
	}
	handler, ok := ops[c.op]
	if !ok {
		return c, nil, errs.E(errs.IllegalArgument,
			"Invalid value for webhdfs parameter \"op\": No enum constant org.apache.hadoop.hdfs.web.resources.%s.Op.%s",
			opParamClass[r.Method], p.str("op", ""))
	}
	if handler == nil {
		return c, nil, errs.E(errs.UnsupportedOperation, "%s is not supported by this metadata service yet", c.op)
	}
	var err error
	if c.id, c.user, err = s.caller(r); err != nil {
		return c, nil, err
	}
	if s.ns.Load() == nil {
		return c, nil, errs.E(errs.Retriable, "NameNode still not started")
	}
	return c, handler, nil
}

func (s *Service) namespace() *namespace.Namespace { return s.ns.Load() }

func toFileStatus(st namespace.Status) api.FileStatus {
	fs := api.FileStatus{
		AccessTime: st.Atime, BlockSize: st.BlockSize, ChildrenNum: st.ChildrenNum, FileID: st.FileID,
		Group: st.Group, Length: st.Length, ModificationTime: st.Mtime, Owner: st.Owner,
		PathSuffix: st.Name, Permission: strconv.FormatUint(uint64(st.Mode), 8), Replication: st.Replication,
		Type: "FILE",
	}
	if st.IsDir {
		fs.Type = "DIRECTORY"
	}
	return fs
}

func (s *Service) getFileStatus(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	st, err := s.namespace().GetFileInfo(c.user, c.path)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.FileStatusResponse{FileStatus: toFileStatus(st)})
}

func (s *Service) listStatus(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	list, _, err := s.namespace().List(c.user, c.path, "", 0)
	if err != nil {
		return err
	}
	out := api.FileStatusesResponse{FileStatuses: api.FileStatuses{FileStatus: make([]api.FileStatus, len(list))}}
	for i, st := range list {
		out.FileStatuses.FileStatus[i] = toFileStatus(st)
	}
	return writeJSON(w, http.StatusOK, out)
}

// lsLimit is dfs.ls.limit.
const lsLimit = 1000

func (s *Service) listStatusBatch(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	list, remaining, err := s.namespace().List(c.user, c.path, c.p.str("startafter", ""), lsLimit)
	if err != nil {
		return err
	}
	fs := make([]api.FileStatus, len(list))
	for i, st := range list {
		fs[i] = toFileStatus(st)
	}
	return writeJSON(w, http.StatusOK, api.DirectoryListingResponse{DirectoryListing: api.DirectoryListing{
		PartialListing: api.PartialListing{FileStatuses: api.FileStatuses{FileStatus: fs}}, RemainingEntries: remaining,
	}})
}

func (s *Service) getContentSummary(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	cs, err := s.namespace().GetContentSummary(c.user, c.path)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.ContentSummaryResponse{ContentSummary: api.ContentSummary{
		DirectoryCount: cs.DirectoryCount, FileCount: cs.FileCount, Length: cs.Length, Quota: cs.Quota,
		SpaceConsumed: cs.SpaceConsumed, SpaceQuota: cs.SpaceQuota, TypeQuota: map[string]any{},
	}})
}

func (s *Service) getQuotaUsage(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	q, err := s.namespace().GetQuotaUsage(c.user, c.path)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.QuotaUsageResponse{QuotaUsage: api.QuotaUsage{
		FileAndDirectoryCount: q.FileAndDirectoryCount, Quota: q.Quota, SpaceConsumed: q.SpaceConsumed,
		SpaceQuota: q.SpaceQuota, TypeQuota: map[string]any{},
	}})
}

func (s *Service) getHomeDirectory(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	return writeJSON(w, http.StatusOK, api.PathResponse{Path: "/user/" + c.user.Name})
}

func (s *Service) getTrashRoot(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	return writeJSON(w, http.StatusOK, api.PathResponse{Path: "/user/" + c.user.Name + "/.Trash"})
}

func (s *Service) getServerDefaults(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	return writeJSON(w, http.StatusOK, api.FsServerDefaultsResponse{FsServerDefaults: api.FsServerDefaults{
		BlockSize: namespace.DefaultBlockSize, BytesPerChecksum: 512, ChecksumType: 2, DefaultStoragePolicyID: 7,
		FileBufferSize: 4096, Replication: namespace.DefaultReplication, TrashInterval: s.cfg.TrashInterval,
		WritePacketSize: 65536,
	}})
}

func (s *Service) mkdirs(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	mode := c.p.permission("permission")
	if c.p.err != nil {
		return c.p.err
	}
	if err := s.namespace().Mkdirs(r.Context(), c.user, c.path, mode); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: true})
}

func (s *Service) rename(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	dst := c.p.path("destination")
	if c.p.err != nil {
		return c.p.err
	}
	ok, err := s.namespace().Rename(r.Context(), c.user, c.path, dst)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: ok})
}

func (s *Service) deleteOp(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	recursive := c.p.boolean("recursive", false)
	if c.p.err != nil {
		return c.p.err
	}
	ok, err := s.namespace().Delete(r.Context(), c.user, c.path, recursive)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: ok})
}

func (s *Service) setPermission(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	mode := c.p.permission("permission")
	if c.p.err != nil {
		return c.p.err
	}
	if mode < 0 {
		mode = namespace.DefaultDirMode
	}
	return emptyOK(w, s.namespace().SetPermission(r.Context(), c.user, c.path, uint16(mode)))
}

func (s *Service) setOwner(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	return emptyOK(w, s.namespace().SetOwner(r.Context(), c.user, c.path, c.p.str("owner", ""), c.p.str("group", "")))
}

func (s *Service) setTimes(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	mtime := c.p.int64("modificationtime", -1, -1, 1<<62)
	atime := c.p.int64("accesstime", -1, -1, 1<<62)
	if c.p.err != nil {
		return c.p.err
	}
	return emptyOK(w, s.namespace().SetTimes(r.Context(), c.user, c.path, mtime, atime))
}

func (s *Service) setReplication(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	repl := c.p.int64("replication", namespace.DefaultReplication, -32768, 32767)
	if c.p.err != nil {
		return c.p.err
	}
	ok, err := s.namespace().SetReplication(r.Context(), c.user, c.path, int(repl))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: ok})
}

func (s *Service) setQuota(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	nsq := c.p.int64("namespacequota", namespace.QuotaDontSet, -1, namespace.QuotaDontSet)
	dsq := c.p.int64("storagespacequota", namespace.QuotaDontSet, -1, namespace.QuotaDontSet)
	if c.p.err != nil {
		return c.p.err
	}
	if nsq == namespace.QuotaDontSet && dsq == namespace.QuotaDontSet {
		return errs.E(errs.IllegalArgument, "Required param namespacequota or storagespacequota for op: SETQUOTA is null or empty")
	}
	return emptyOK(w, s.namespace().SetQuota(r.Context(), c.user, c.path, nsq, dsq))
}

// emptyOK answers 200 with an empty body, as HDFS's setters do.
func emptyOK(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) error { return rest.WriteJSON(w, code, v) }

// writeError writes err as a RemoteException with HDFS's status and
// returns the status.
func writeError(w http.ResponseWriter, err error) int { return rest.WriteError(w, remoteError(err)) }
