package coordinator

import (
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/rest"
	"github.com/granary-fs/granary/openapi"
)

//	@title			Granary coordinator
//	@version		0.1
//	@description	The block manager (HDFS BlockManager/DatanodeManager): datanode registry, block map and placement. Datanodes talk to it over NATS (docs/nats-protocol.md); this is its HTTP admin API. Errors are WebHDFS RemoteException bodies.
//	@BasePath		/

func (s *Service) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.authn.Middleware(nil))
	r.Get("/api/v1/datanodes", s.listDatanodes)
	r.Get("/api/v1/datanodes/{uuid}", s.getDatanode)
	admin := r.With(s.authn.SuperuserOnly)
	admin.Post("/api/v1/datanodes/{uuid}/decommission", s.decommission)
	admin.Post("/api/v1/datanodes/{uuid}/recommission", s.recommission)
	r.Get("/api/v1/cluster", s.getCluster)
	admin.Post("/api/v1/admin/refreshNodes", s.refreshNodes)
	admin.Post("/api/v1/admin/finalizeUpgrade", s.finalizeUpgrade)
	admin.Get("/api/v1/admin/metasave", s.metasave)
	// The block map tells where every block is: the superuser's in
	// token mode, where block IDs must not be handed out.
	r.With(s.authn.AdminOnly).Get("/api/v1/blocks/{id}", s.getBlock)
	r.With(s.authn.AdminOnly).Get("/conf", s.conf)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.With(s.authn.AdminOnly).Get("/metrics", s.metricsHandler)
	r.Get("/swagger.json", s.swaggerJSON)
	r.Get("/openapi.json", s.openapiJSON)
	r.Get("/openapi.yaml", s.openapiYAML)
	r.Get("/docs", s.docs)
	r.Get("/docs/*", rest.SwaggerUI())
	rest.Operations(r, s.authn.AdminOnly)
	return r
}

// listDatanodes godoc
//
//	@Summary	Every datanode with the fields of `hdfs dfsadmin -report`
//	@Tags		datanodes
//	@Produce	json
//	@Success	200	{object}	api.DatanodeList
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			listDatanodes
//	@Router		/api/v1/datanodes [get]
func (s *Service) listDatanodes(w http.ResponseWriter, r *http.Request) {
	_ = rest.WriteJSON(w, http.StatusOK, api.DatanodeList{Datanodes: s.mgr.Datanodes()})
}

// getDatanode godoc
//
//	@Summary	One datanode
//	@Tags		datanodes
//	@Produce	json
//	@Param		uuid	path		string	true	"datanode UUID"
//	@Success	200		{object}	api.DatanodeView
//	@Failure	404		{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			getDatanode
//	@Router		/api/v1/datanodes/{uuid} [get]
func (s *Service) getDatanode(w http.ResponseWriter, r *http.Request) {
	uuid := chi.URLParam(r, "uuid")
	v, ok := s.mgr.Datanode(uuid)
	if !ok {
		rest.WriteError(w, errs.E(errs.FileNotFound, "no datanode %s", uuid))
		return
	}
	_ = rest.WriteJSON(w, http.StatusOK, v)
}

// decommission godoc
//
//	@Summary		Start decommissioning a datanode (dfsadmin -refreshNodes with the node excluded)
//	@Description	Its blocks are copied to other datanodes while it keeps serving reads; its adminState goes DECOMMISSION_INPROGRESS, then DECOMMISSIONED.
//	@Tags			datanodes
//	@Produce		json
//	@Param			uuid	path		string	true	"datanode UUID"
//	@Param	user.name	query	string	false	"the caller: the superuser or a member of the supergroup (dr.who when absent)"
//	@Success		200		{object}	api.DatanodeView
//	@Failure		404		{object}	errs.RemoteExceptionBody
//	@Failure	403	{object}	errs.RemoteExceptionBody	"AccessControlException: not the superuser"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			decommission
//	@Router			/api/v1/datanodes/{uuid}/decommission [post]
func (s *Service) decommission(w http.ResponseWriter, r *http.Request) {
	s.adminChange(w, r, s.mgr.Decommission, "decommissioning")
}

// recommission godoc
//
//	@Summary	Return a datanode to service
//	@Tags		datanodes
//	@Produce	json
//	@Param		uuid	path		string	true	"datanode UUID"
//	@Param	user.name	query	string	false	"the caller: the superuser or a member of the supergroup (dr.who when absent)"
//	@Success	200		{object}	api.DatanodeView
//	@Failure	404		{object}	errs.RemoteExceptionBody
//	@Failure	403	{object}	errs.RemoteExceptionBody	"AccessControlException: not the superuser"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			recommission
//	@Router		/api/v1/datanodes/{uuid}/recommission [post]
func (s *Service) recommission(w http.ResponseWriter, r *http.Request) {
	s.adminChange(w, r, s.mgr.Recommission, "recommissioned")
}

func (s *Service) adminChange(w http.ResponseWriter, r *http.Request, change func(string) error, what string) {
	uuid := chi.URLParam(r, "uuid")
	if err := change(uuid); err != nil {
		rest.WriteError(w, err)
		return
	}
	s.log.Info("datanode "+what, "datanode", uuid)
	v, _ := s.mgr.Datanode(uuid)
	_ = rest.WriteJSON(w, http.StatusOK, v)
}

// refreshNodes godoc
//
//	@Summary		Re-read the include and exclude files (dfsadmin -refreshNodes)
//	@Description	Datanodes listed in the hosts exclude file (by IP, host name, ip:port or UUID) start decommissioning; those no longer listed return to service. With an include file (-hosts-file, dfs.hosts) only the datanodes it lists may register; a registered one it no longer lists has its next heartbeat refused with DisallowedDatanodeException.
//	@Tags			admin
//	@Produce		json
//	@Param	user.name	query	string	false	"the caller: the superuser or a member of the supergroup (dr.who when absent)"
//	@Success		200	{object}	api.RefreshNodesResponse
//	@Failure		403	{object}	errs.RemoteExceptionBody	"AccessControlException (not the superuser), or IOException: neither file configured, or one cannot be read"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			refreshExcludedNodes
//	@Router			/api/v1/admin/refreshNodes [post]
func (s *Service) refreshNodes(w http.ResponseWriter, r *http.Request) {
	if s.cfg.HostsExcludeFile == "" && s.cfg.HostsFile == "" {
		rest.WriteError(w, errs.E(errs.IO, "no hosts include or exclude file is configured (-hosts-file, -hosts-exclude-file)"))
		return
	}
	if err := s.loadIncluded(); err != nil {
		rest.WriteError(w, err)
		return
	}
	changed := 0
	if s.cfg.HostsExcludeFile != "" {
		excluded, err := readHostsFile(s.cfg.HostsExcludeFile)
		if err != nil {
			rest.WriteError(w, errs.Wrap(errs.IO, err, "reading the hosts exclude file"))
			return
		}
		changed = s.mgr.RefreshNodes(excluded)
		s.log.Info("nodes refreshed from the exclude file", "excluded", len(excluded), "changed", changed)
	}
	_ = rest.WriteJSON(w, http.StatusOK, api.RefreshNodesResponse{Changed: changed})
}

// finalizeUpgrade godoc
//
//	@Summary		Finalize the upgrade (dfsadmin -finalizeUpgrade)
//	@Description	From now on every full block report's reply carries FINALIZE: the datanodes delete the previous layout they kept of upgraded block pool slices (a rollback is no longer possible). Without -upgrade the replies carry it already.
//	@Tags			admin
//	@Produce		json
//	@Param	user.name	query	string	false	"the caller: the superuser or a member of the supergroup (dr.who when absent)"
//	@Success		200	{object}	api.BooleanResponse
//	@Failure		403	{object}	errs.RemoteExceptionBody	"AccessControlException: not the superuser"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			finalizeUpgrade
//	@Router			/api/v1/admin/finalizeUpgrade [post]
func (s *Service) finalizeUpgrade(w http.ResponseWriter, r *http.Request) {
	if !s.upgradeFinalized.Swap(true) {
		s.log.Info("upgrade finalized: full-report replies carry FINALIZE")
	}
	_ = rest.WriteJSON(w, http.StatusOK, api.BooleanResponse{Boolean: true})
}

// loadIncluded (re)reads the include file, when there is one.
func (s *Service) loadIncluded() error {
	if s.cfg.HostsFile == "" {
		return nil
	}
	included, err := readHostsFile(s.cfg.HostsFile)
	if err != nil {
		return errs.Wrap(errs.IO, err, "reading the hosts include file")
	}
	s.mgr.SetIncluded(included)
	s.log.Info("include list read", "hosts", len(included))
	return nil
}

// readHostsFile reads a dfs.hosts / dfs.hosts.exclude file: one host (IP,
// name, ip:port or datanode UUID) per line, # comments.
func readHostsFile(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	hosts := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			hosts[f[0]] = true
		}
	}
	return hosts, nil
}

// metasave godoc
//
//	@Summary	The block manager's queues (dfsadmin -metasave)
//	@Tags		admin
//	@Produce	plain,json
//	@Param	user.name	query	string	false	"the caller: the superuser or a member of the supergroup (dr.who when absent)"
//	@Success	200	{string}	string	"blocks waiting for reconstruction, transfers pending, datanodes"
//	@Failure	403	{object}	errs.RemoteExceptionBody	"AccessControlException: not the superuser"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			metasave
//	@Router		/api/v1/admin/metasave [get]
func (s *Service) metasave(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	s.mgr.MetaSave(w)
}

// getCluster godoc
//
//	@Summary	Cluster totals: capacity, live/stale/dead datanodes, blocks, missing and under-replicated blocks
//	@Tags		cluster
//	@Produce	json
//	@Success	200	{object}	api.ClusterView
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			getCluster
//	@Router		/api/v1/cluster [get]
func (s *Service) getCluster(w http.ResponseWriter, r *http.Request) {
	_ = rest.WriteJSON(w, http.StatusOK, s.mgr.Cluster())
}

// getBlock godoc
//
//	@Summary	One block of the block map with its replica locations
//	@Tags		blocks
//	@Produce	json
//	@Param		id	path		integer	true	"block ID"
//	@Success	200	{object}	api.BlockView
//	@Failure	400	{object}	errs.RemoteExceptionBody
//	@Failure	404	{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@Failure	403	{object}	errs.RemoteExceptionBody	"token mode: not the superuser (AccessControlException)"
//	@ID			getBlock
//	@Router		/api/v1/blocks/{id} [get]
func (s *Service) getBlock(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		rest.WriteError(w, errs.E(errs.IllegalArgument, "invalid block ID %q", chi.URLParam(r, "id")))
		return
	}
	v, ok := s.mgr.BlockInfo(id)
	if !ok {
		rest.WriteError(w, errs.E(errs.FileNotFound, "block %d is not in the block map", id))
		return
	}
	_ = rest.WriteJSON(w, http.StatusOK, v)
}

// healthz godoc
//
//	@Summary	Liveness
//	@Tags		operations
//	@Produce	plain
//	@Success	200	{string}	string	"ok"
//	@ID			healthz
//	@Router		/healthz [get]
func (s *Service) healthz(w http.ResponseWriter, r *http.Request) {
	_, _ = w.Write([]byte("ok\n"))
}

// readyz godoc
//
//	@Summary	Readiness: connected to NATS and the block map is synchronised with the namespace
//	@Description	With coordinator HA (-coordinator-id) the body also names the coordinator's state: "ready active" or "ready standby" (a standby keeps its block map warm and is ready to take over).
//	@Tags		operations
//	@Produce	plain
//	@Success	200	{string}	string	"ready"
//	@Failure	503	{string}	string	"not ready"
//	@ID			readyz
//	@Router		/readyz [get]
func (s *Service) readyz(w http.ResponseWriter, r *http.Request) {
	if s.nc == nil || !s.nc.IsConnected() || s.mgr.NeedsResync() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	if s.cfg.CoordinatorID != "" {
		_, _ = w.Write([]byte("ready " + s.HAState() + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// metricsHandler godoc
//
//	@Summary	Prometheus metrics
//	@Tags		operations
//	@Produce	plain,json
//	@Success	200	{string}	string	"Prometheus text exposition format"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@Failure	403	{object}	errs.RemoteExceptionBody	"token mode: not the superuser (AccessControlException)"
//	@ID			metricsHandler
//	@Router		/metrics [get]
func (s *Service) metricsHandler(w http.ResponseWriter, r *http.Request) {
	rest.Metrics(s.metrics.reg)(w, r)
}

// swaggerJSON godoc
//
//	@Summary	This service's API contract (Swagger 2.0)
//	@Tags		operations
//	@Produce	json
//	@Success	200	{object}	object	"the contract"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			swaggerJSON
//	@Router		/swagger.json [get]
func (s *Service) swaggerJSON(w http.ResponseWriter, r *http.Request) {
	openapi.Handler("coordinator.swagger.json")(w, r)
}

// openapiJSON godoc
//
//	@Summary	This service's API contract (OpenAPI 3.0, JSON)
//	@Tags		operations
//	@Produce	json
//	@Success	200	{object}	object	"the contract"
//	@ID			openapiJSON
//	@Router		/openapi.json [get]
func (s *Service) openapiJSON(w http.ResponseWriter, r *http.Request) {
	openapi.Handler("coordinator.openapi.json")(w, r)
}

// openapiYAML godoc
//
//	@Summary	This service's API contract (OpenAPI 3.0, YAML)
//	@Tags		operations
//	@Produce	plain
//	@Success	200	{string}	string	"the contract"
//	@ID			openapiYAML
//	@Router		/openapi.yaml [get]
func (s *Service) openapiYAML(w http.ResponseWriter, r *http.Request) {
	openapi.Handler("coordinator.openapi.yaml")(w, r)
}

// docs godoc
//
//	@Summary	Swagger UI for this service's OpenAPI 3 contract
//	@Tags		operations
//	@Produce	html
//	@Success	301	{string}	string	"to /docs/index.html"
//	@ID			docs
//	@Router		/docs [get]
func (s *Service) docs(w http.ResponseWriter, r *http.Request) { rest.SwaggerUI()(w, r) }

// conf godoc
//
//	@Summary		The effective configuration
//	@Description	The coordinator's settings under the HDFS keys they mirror (a flag without one under its name), each with where it came from: default, a -conf file's path, env (a GRANARY_* variable) or flag, as HDFS's /conf; secrets are redacted. JSON, or Hadoop's configuration XML with format=xml. A service not started by its command lists its main settings.
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
	c, m := s.cfg, s.mgr.Config()
	rest.WriteSettings(w, r, "granary coordinator", []api.ConfProperty{
		{Key: "-http-addr", Value: c.HTTPAddr},
		{Key: "-nats-url", Value: rest.RedactURLs(c.NATSURL)},
		{Key: "dfs.nameservice.id", Value: c.Nameservice},
		{Key: "-coordinator-id", Value: c.CoordinatorID},
		{Key: "dfs.permissions.superusergroup", Value: c.Supergroup},
		{Key: "-superuser", Value: c.Superuser},
		{Key: "-topology-file", Value: c.TopologyFile},
		{Key: "dfs.hosts", Value: c.HostsFile},
		{Key: "dfs.hosts.exclude", Value: c.HostsExcludeFile},
		{Key: "dfs.heartbeat.interval", Value: m.HeartbeatInterval.String()},
		{Key: "dfs.namenode.heartbeat.recheck-interval", Value: m.RecheckInterval.String()},
		{Key: "dfs.namenode.stale.datanode.interval", Value: m.StaleInterval.String()},
		{Key: "dfs.namenode.max.full.block.report.leases", Value: strconv.Itoa(m.MaxFBRLeases)},
		{Key: "dfs.namenode.replication.max-streams", Value: strconv.Itoa(m.MaxStreams)},
		{Key: "dfs.namenode.reconstruction.pending.timeout-sec", Value: m.PendingTimeout.String()},
		{Key: "dfs.namenode.replqueue.threshold-pct", Value: strconv.FormatFloat(m.ReplQueueThreshold, 'f', -1, 64)},
		{Key: "dfs.namenode.min.supported.datanode.version", Value: m.MinDatanodeVersion},
		{Key: "dfs.namenode.redundancy.considerLoad", Value: strconv.FormatBool(!m.IgnoreLoad)},
		{Key: "dfs.namenode.redundancy.interval.seconds", Value: c.RedundancyInterval.String()},
		{Key: "hadoop.http.idle_timeout.ms", Value: c.HTTPIdleTimeout.String()},
		{Key: "-upgrade", Value: strconv.FormatBool(c.Upgrade)},
	})
}
