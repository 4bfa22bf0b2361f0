package router

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/rest"
	"github.com/granary-fs/granary/openapi"
)

//	@title			Granary router
//	@version		0.1
//	@description	Router-based federation (HDFS's DFSRouter): one WebHDFS endpoint over every nameservice through a mount table kept in PostgreSQL. Errors are WebHDFS RemoteException bodies.
//	@BasePath		/

func (s *Service) routes() http.Handler {
	r := chi.NewRouter()
	r.Get("/webhdfs/v1/*", s.webhdfsGet)
	r.Put("/webhdfs/v1/*", s.webhdfsPut)
	r.Post("/webhdfs/v1/*", s.webhdfsPost)
	r.Delete("/webhdfs/v1/*", s.webhdfsDelete)
	r.Get("/webhdfs/v1", s.webhdfsGet)
	mt := r.With(s.authn.Middleware(nil))
	mt.Get("/api/v1/router/mounttable", s.getMountTable)
	admin := mt.With(s.authn.SuperuserOnly)
	admin.Put("/api/v1/router/mounttable", s.putMount)
	admin.Delete("/api/v1/router/mounttable", s.deleteMount)
	r.Get("/", s.page)
	r.With(s.authn.AdminOnly).Get("/conf", s.conf)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.healthz)
	r.Get("/openapi.json", s.openapiJSON)
	r.Get("/openapi.yaml", s.openapiYAML)
	rest.Operations(r, func(h http.Handler) http.Handler { return h })
	return r
}

// webhdfsGet godoc
//
//	@Summary		WebHDFS GET operations through the mount table
//	@Description	Forwarded to the metadata service of the nameservice the path is mounted from, the path rewritten; OPEN and GETFILECHECKSUM answer its 307 to a datanode. Above the mount points the router answers itself: GETFILESTATUS and LISTSTATUS show mount points as directories, GETCONTENTSUMMARY sums every mount below the path.
//	@Tags			webhdfs
//	@Produce		json
//	@Param			path	path	string	true	"file path"
//	@Param			op		query	string	true	"operation"
//	@Success		200	{object}	object	"the nameservice's answer"
//	@Success		307	"to a datanode"
//	@Failure		400	{object}	errs.RemoteExceptionBody
//	@Failure		403	{object}	errs.RemoteExceptionBody
//	@Failure		404	{object}	errs.RemoteExceptionBody
//	@ID				routerWebhdfsGet
//	@Router			/webhdfs/v1/{path} [get]
func (s *Service) webhdfsGet(w http.ResponseWriter, r *http.Request) { s.webhdfs(w, r) }

// webhdfsPut godoc
//
//	@Summary	WebHDFS PUT operations through the mount table
//	@Description	Forwarded as GET's; RENAME is refused across nameservices.
//	@Tags		webhdfs
//	@Accept		octet-stream
//	@Produce	json
//	@Param		path	path	string	true	"file path"
//	@Param		op		query	string	true	"operation"
//	@Success	200	{object}	object	"the nameservice's answer"
//	@Success	307	"to a datanode (CREATE)"
//	@Failure	400	{object}	errs.RemoteExceptionBody
//	@Failure	403	{object}	errs.RemoteExceptionBody
//	@Failure	404	{object}	errs.RemoteExceptionBody
//	@ID			routerWebhdfsPut
//	@Router		/webhdfs/v1/{path} [put]
func (s *Service) webhdfsPut(w http.ResponseWriter, r *http.Request) { s.webhdfs(w, r) }

// webhdfsPost godoc
//
//	@Summary	WebHDFS POST operations through the mount table
//	@Tags		webhdfs
//	@Accept		octet-stream
//	@Produce	json
//	@Param		path	path	string	true	"file path"
//	@Param		op		query	string	true	"operation"
//	@Success	200	{object}	object	"the nameservice's answer"
//	@Success	307	"to a datanode (APPEND)"
//	@Failure	400	{object}	errs.RemoteExceptionBody
//	@Failure	403	{object}	errs.RemoteExceptionBody
//	@Failure	404	{object}	errs.RemoteExceptionBody
//	@ID			routerWebhdfsPost
//	@Router		/webhdfs/v1/{path} [post]
func (s *Service) webhdfsPost(w http.ResponseWriter, r *http.Request) { s.webhdfs(w, r) }

// webhdfsDelete godoc
//
//	@Summary	WebHDFS DELETE through the mount table
//	@Tags		webhdfs
//	@Produce	json
//	@Param		path	path	string	true	"file path"
//	@Param		op		query	string	true	"operation"
//	@Success	200	{object}	object	"the nameservice's answer"
//	@Failure	400	{object}	errs.RemoteExceptionBody
//	@Failure	403	{object}	errs.RemoteExceptionBody
//	@Failure	404	{object}	errs.RemoteExceptionBody
//	@ID			routerWebhdfsDelete
//	@Router		/webhdfs/v1/{path} [delete]
func (s *Service) webhdfsDelete(w http.ResponseWriter, r *http.Request) { s.webhdfs(w, r) }

func (s *Service) webhdfs(w http.ResponseWriter, r *http.Request) {
	p, err := cleanPath("/" + strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/webhdfs/v1"), "/"))
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	q := r.URL.Query()
	op := strings.ToUpper(q.Get("op"))
	entry, dest, ok := s.mounts.resolve(p)
	if !ok {
		s.aboveMounts(w, r, p, op)
		return
	}
	if op == "RENAME" {
		dst, err := cleanPath(q.Get("destination"))
		if err != nil {
			rest.WriteError(w, err)
			return
		}
		de, ddest, ok := s.mounts.resolve(dst)
		if !ok || de.Nameservice != entry.Nameservice {
			rest.WriteError(w, errs.E(errs.IO, "Rename of %s to %s is not allowed, no eligible destination in the same namespace was found.", p, dst))
			return
		}
		q.Set("destination", ddest)
	}
	if op == "CONCAT" {
		var srcs []string
		for _, src := range strings.Split(q.Get("sources"), ",") {
			se, sdest, ok := s.mounts.resolve(path.Clean(src))
			if !ok || se.Nameservice != entry.Nameservice {
				rest.WriteError(w, errs.E(errs.IO, "Concat of %s into %s is not allowed across nameservices", src, p))
				return
			}
			srcs = append(srcs, sdest)
		}
		q.Set("sources", strings.Join(srcs, ","))
	}
	resp, err := s.forward(r, entry.Nameservice, dest, q, r.Body)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK && op == "LISTSTATUS" && len(s.mounts.childNames(p)) > 0:
		s.listWithMounts(w, resp, p)
	case resp.StatusCode == http.StatusOK && op == "GETCONTENTSUMMARY" && len(s.mounts.below(p)) > 0:
		s.summaryWithMounts(w, r, resp, p)
	default:
		copyResponse(w, resp)
	}
}

// forward sends the request to nameservice ns's metadata service for
// path dest with query q, the caller's credential unchanged.
func (s *Service) forward(r *http.Request, ns, dest string, q url.Values, body io.Reader) (*http.Response, error) {
	n, ok := s.nameservices[ns]
	if !ok {
		return nil, errNoNameservice(ns)
	}
	u := n.Current() + "/webhdfs/v1" + (&url.URL{Path: dest}).EscapedPath() + "?" + q.Encode()
	if r.Method == http.MethodGet || r.Method == http.MethodDelete {
		body = nil
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u, body)
	if err != nil {
		return nil, err
	}
	for _, h := range []string{"Authorization", "Content-Type", api.ClientIDHeader, api.CallIDHeader} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if body != nil {
		req.ContentLength = r.ContentLength
	}
	resp, err := s.send(n, req)
	if err != nil {
		return nil, errs.Wrap(errs.Retriable, err, "nameservice %s is not reachable", ns)
	}
	return resp, nil
}

func copyResponse(w http.ResponseWriter, resp *http.Response) {
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// mountStatus is the directory the router shows for a mount point (or an
// ancestor of one), as RBF's getMountPointStatus.
func (s *Service) mountStatus(name string) api.FileStatus {
	var mtime int64
	for _, e := range s.mounts.list() {
		mtime = max(mtime, e.Created)
	}
	return api.FileStatus{PathSuffix: name, Type: "DIRECTORY", Permission: "755", Owner: s.cfg.Superuser, Group: s.cfg.Supergroup,
		ModificationTime: mtime, AccessTime: mtime, ChildrenNum: len(s.mounts.childNames(path.Join("/", name)))}
}

// aboveMounts answers for a path no mount covers: an ancestor of mount
// points is a directory of the router's; anything else does not exist.
func (s *Service) aboveMounts(w http.ResponseWriter, r *http.Request, p, op string) {
	children := s.mounts.childNames(p)
	if len(children) == 0 {
		rest.WriteError(w, errs.E(errs.FileNotFound, "File %s does not exist.", p))
		return
	}
	switch op {
	case "GETFILESTATUS":
		st := s.mountStatus("")
		st.ChildrenNum = len(children)
		_ = rest.WriteJSON(w, http.StatusOK, api.FileStatusResponse{FileStatus: st})
	case "LISTSTATUS":
		var sts []api.FileStatus
		for _, c := range children {
			sts = append(sts, s.mountStatus(c))
		}
		_ = rest.WriteJSON(w, http.StatusOK, api.FileStatusesResponse{FileStatuses: api.FileStatuses{FileStatus: sts}})
	case "GETCONTENTSUMMARY":
		s.summaryWithMounts(w, r, nil, p)
	default:
		rest.WriteError(w, errs.E(errs.IO, "%s of %s: the path is above the mount points and belongs to no nameservice (add a mount with granary admin -router -add)", op, p))
	}
}

// listWithMounts adds the mount points below p to the nameservice's
// listing of p (a mount point hides a file or directory of the same name).
func (s *Service) listWithMounts(w http.ResponseWriter, resp *http.Response, p string) {
	var list api.FileStatusesResponse
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		rest.WriteError(w, errs.Wrap(errs.IO, err, "listing of %s", p))
		return
	}
	names := map[string]int{}
	for i, st := range list.FileStatuses.FileStatus {
		names[st.PathSuffix] = i
	}
	for _, c := range s.mounts.childNames(p) {
		if i, ok := names[c]; ok {
			list.FileStatuses.FileStatus[i] = s.mountStatus(c)
			continue
		}
		list.FileStatuses.FileStatus = append(list.FileStatuses.FileStatus, s.mountStatus(c))
	}
	_ = rest.WriteJSON(w, http.StatusOK, list)
}

// summaryWithMounts sums the content summary of p in its own nameservice
// (resp, nil above the mounts) and of every mount below p.
func (s *Service) summaryWithMounts(w http.ResponseWriter, r *http.Request, resp *http.Response, p string) {
	var total api.ContentSummary
	total.Quota, total.SpaceQuota, total.TypeQuota = -1, -1, map[string]any{}
	add := func(body io.Reader) error {
		var cs api.ContentSummaryResponse
		if err := json.NewDecoder(body).Decode(&cs); err != nil {
			return err
		}
		c := cs.ContentSummary
		total.DirectoryCount += c.DirectoryCount
		total.FileCount += c.FileCount
		total.Length += c.Length
		total.SpaceConsumed += c.SpaceConsumed
		return nil
	}
	if resp != nil {
		if err := add(resp.Body); err != nil {
			rest.WriteError(w, errs.Wrap(errs.IO, err, "content summary of %s", p))
			return
		}
	}
	for _, e := range s.mounts.below(p) {
		q := url.Values{}
		for k, v := range r.URL.Query() {
			q[k] = v
		}
		mr, err := s.forward(r, e.Nameservice, e.Destination, q, nil)
		if err != nil {
			rest.WriteError(w, err)
			return
		}
		body, _ := io.ReadAll(mr.Body)
		mr.Body.Close()
		if mr.StatusCode != http.StatusOK {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(mr.StatusCode)
			_, _ = w.Write(body)
			return
		}
		if err := add(bytes.NewReader(body)); err != nil {
			rest.WriteError(w, errs.Wrap(errs.IO, err, "content summary of %s", e.Source))
			return
		}
	}
	_ = rest.WriteJSON(w, http.StatusOK, api.ContentSummaryResponse{ContentSummary: total})
}

// getMountTable godoc
//
//	@Summary	The mount table (dfsrouteradmin -ls)
//	@Tags		router
//	@Produce	json
//	@Success	200	{object}	api.MountTable
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			getMountTable
//	@Router		/api/v1/router/mounttable [get]
func (s *Service) getMountTable(w http.ResponseWriter, r *http.Request) {
	_ = rest.WriteJSON(w, http.StatusOK, api.MountTable{Entries: s.mounts.list()})
}

// putMount godoc
//
//	@Summary		Add or update a mount point (dfsrouteradmin -add, -update)
//	@Description	Every router reads the table again within seconds; this one at once.
//	@Tags			router
//	@Accept			json
//	@Produce		json
//	@Param			entry		body		api.MountEntry	true	"source, nameservice, destination (created is ignored)"
//	@Param			user.name	query		string			false	"the caller: the superuser or a member of the supergroup"
//	@Success		200			{object}	api.MountTable
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		401			{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@Failure		403			{object}	errs.RemoteExceptionBody	"AccessControlException: not the superuser"
//	@ID				putMount
//	@Router			/api/v1/router/mounttable [put]
func (s *Service) putMount(w http.ResponseWriter, r *http.Request) {
	var e api.MountEntry
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&e); err != nil {
		rest.WriteError(w, errs.E(errs.IllegalArgument, "malformed mount entry: %v", err))
		return
	}
	if err := s.mounts.put(r.Context(), e, s.cfg.Nameservices); err != nil {
		rest.WriteError(w, err)
		return
	}
	s.getMountTable(w, r)
}

// deleteMount godoc
//
//	@Summary	Remove a mount point (dfsrouteradmin -rm)
//	@Tags		router
//	@Produce	json
//	@Param		source		query		string	true	"the mount point"
//	@Param		user.name	query		string	false	"the caller: the superuser or a member of the supergroup"
//	@Success	200			{object}	api.MountTable
//	@Failure	400			{object}	errs.RemoteExceptionBody
//	@Failure	401			{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@Failure	403			{object}	errs.RemoteExceptionBody	"AccessControlException: not the superuser"
//	@Failure	404			{object}	errs.RemoteExceptionBody
//	@ID			deleteMount
//	@Router		/api/v1/router/mounttable [delete]
func (s *Service) deleteMount(w http.ResponseWriter, r *http.Request) {
	found, err := s.mounts.remove(r.Context(), r.URL.Query().Get("source"))
	if err == nil && !found {
		err = errs.E(errs.FileNotFound, "Cannot remove mount point %s: it does not exist", r.URL.Query().Get("source"))
	}
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	s.getMountTable(w, r)
}

// healthz godoc
//
//	@Summary	Liveness and readiness: the router serves
//	@Tags		operations
//	@Produce	plain
//	@Success	200	{string}	string	"ok"
//	@ID			routerHealthz
//	@Router		/healthz [get]
func (s *Service) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
}

// openapiJSON godoc
//
//	@Summary	This service's API contract (OpenAPI 3.0, JSON)
//	@Tags		operations
//	@Produce	json
//	@Success	200	{object}	object	"the contract"
//	@ID			routerOpenapiJSON
//	@Router		/openapi.json [get]
func (s *Service) openapiJSON(w http.ResponseWriter, r *http.Request) {
	openapi.Handler("router.openapi.json")(w, r)
}

// openapiYAML godoc
//
//	@Summary	This service's API contract (OpenAPI 3.0, YAML)
//	@Tags		operations
//	@Produce	plain
//	@Success	200	{string}	string	"the contract"
//	@ID			routerOpenapiYAML
//	@Router		/openapi.yaml [get]
func (s *Service) openapiYAML(w http.ResponseWriter, r *http.Request) {
	openapi.Handler("router.openapi.yaml")(w, r)
}

// conf godoc
//
//	@Summary		The effective configuration
//	@Description	The router's settings under the HDFS keys they mirror (a flag without one under its name), each with where it came from: default, a -conf file's path, env (a GRANARY_* variable) or flag, as HDFS's /conf; secrets are redacted. JSON, or Hadoop's configuration XML with format=xml. A service not started by its command lists its main settings.
//	@Tags			operations
//	@Produce		json,xml
//	@Param			format	query	string	false	"json (default) or xml"	Enums(json,xml)
//	@Success		200	{object}	api.ConfResponse
//	@Failure		401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@Failure		403	{object}	errs.RemoteExceptionBody	"token mode: not the superuser (AccessControlException)"
//	@ID				getConfiguration
//	@Router			/conf [get]
func (s *Service) conf(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Conf != nil {
		rest.WriteConf(w, r, s.cfg.Conf)
		return
	}
	c := s.cfg
	nameservices := make([]string, 0, len(c.Nameservices))
	for ns, u := range c.Nameservices {
		nameservices = append(nameservices, ns+"="+rest.RedactURLs(u))
	}
	sort.Strings(nameservices)
	rest.WriteSettings(w, r, "granary router", []api.ConfProperty{
		{Key: "dfs.federation.router.http-address", Value: c.HTTPAddr},
		{Key: "-database-url", Value: rest.RedactURLs(c.DatabaseURL)},
		{Key: "-nameservice", Value: strings.Join(nameservices, ",")},
		{Key: "dfs.permissions.superusergroup", Value: c.Supergroup},
		{Key: "-superuser", Value: c.Superuser},
		{Key: "hadoop.http.idle_timeout.ms", Value: c.HTTPIdleTimeout.String()},
	})
}
