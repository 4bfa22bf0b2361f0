package datanode

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/rest"
	"github.com/granary-fs/granary/openapi"
)

//	@title			Granary datanode
//	@version		0.1
//	@description	A datanode's HTTP API: its admin endpoints (HDFS's ClientDatanodeProtocol). Errors are WebHDFS RemoteException bodies.
//	@BasePath		/

func (s *Service) routes() http.Handler {
	r := chi.NewRouter()
	// Block requests carry block tokens instead (blockToken).
	r.Use(s.authn.Middleware(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/v1/blocks/") }))
	r.Get("/", s.page)
	r.Get("/api/v1/info", s.info)
	r.Put("/api/v1/blocks/{id}", s.writeBlock)
	r.Get("/api/v1/blocks/{id}", s.readBlock)
	r.Get("/api/v1/blocks/{id}/checksum", s.blockChecksum)
	r.Post("/api/v1/blocks/{id}/truncate", s.truncateBlock)
	r.Group(func(r chi.Router) {
		r.Use(allowAnyOrigin)
		r.Put("/webhdfs/v1/*", s.webhdfsPut)
		r.Post("/webhdfs/v1/*", s.webhdfsPost)
		r.Get("/webhdfs/v1/*", s.webhdfsGet)
		r.Options("/webhdfs/v1/*", s.webhdfsPreflight)
	})
	admin := r.With(s.authn.SuperuserOnly)
	admin.Post("/api/v1/admin/triggerBlockReport", s.triggerBlockReport)
	admin.Post("/api/v1/admin/refreshNamenodes", s.refreshNamenodes)
	admin.Post("/api/v1/admin/shutdown", s.shutdownDatanode)
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

// allowAnyOrigin lets pages of another origin (the metadata service's web
// UI) read the datanode's WebHDFS answers: a browser upload is a PUT sent
// straight to the datanode the metadata service redirected it to. HDFS
// needs hadoop.http.cross-origin.enabled for the same; see docs/decisions.md.
func allowAnyOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		next.ServeHTTP(w, r)
	})
}

// webhdfsPreflight godoc
//
//	@Summary		CORS preflight of the WebHDFS data operations (a browser's upload)
//	@Description	Any origin may PUT, POST and GET; the answer carries no body.
//	@Tags			webhdfs
//	@Param			path	path	string	true	"file path"
//	@Success		204
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			webhdfsPreflight
//	@Router			/webhdfs/v1/{path} [options]
func (s *Service) webhdfsPreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, PUT, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// VolumeInfo is one volume in /api/v1/info.
type VolumeInfo struct {
	Dir           string `json:"dir" example:"/data/1"`
	StorageType   string `json:"storageType" example:"DISK"` // from the data directory's [TYPE] prefix
	StorageID     string `json:"storageId" example:"DS-6c1c..."`
	Failed        string `json:"failed,omitempty" example:""`
	Capacity      int64  `json:"capacity"`
	DfsUsed       int64  `json:"dfsUsed"`
	Remaining     int64  `json:"remaining"`
	BlockPoolUsed int64  `json:"blockPoolUsed"`
}

// Info is the datanode's state (GET /api/v1/info).
type Info struct {
	DatanodeUUID      string       `json:"datanodeUuid"`
	ClusterID         string       `json:"clusterId"`
	BlockPools        []string     `json:"blockPools"`
	Registration      string       `json:"registration" example:"running" enums:"connecting,handshake,registering,running,refused"`
	RefusedBecause    string       `json:"refusedBecause,omitempty"`
	LastHeartbeat     *time.Time   `json:"lastHeartbeat,omitempty"`
	LastBlockReport   *time.Time   `json:"lastBlockReport,omitempty"`
	Replicas          int          `json:"replicas"`
	FailedVolumes     int          `json:"failedVolumes"`
	Volumes           []VolumeInfo `json:"volumes"`
	HTTPAddress       string       `json:"httpAddress"`
	StartedAt         time.Time    `json:"startedAt"`
	HeartbeatInterval string       `json:"heartbeatInterval"`
	// ActiveCoordinators names, per nameservice with coordinator HA, the
	// coordinator whose commands this datanode follows ("" while none
	// claims the active role with the newest claim).
	ActiveCoordinators map[string]string `json:"activeCoordinators,omitempty"`
}

// info godoc
//
//	@Summary	Volumes, block pools, registration state, last heartbeat and block report
//	@Tags		datanode
//	@Produce	json
//	@Success	200	{object}	Info
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			getDatanodeInfo
//	@Router		/api/v1/info [get]
func (s *Service) info(w http.ResponseWriter, r *http.Request) {
	_ = rest.WriteJSON(w, http.StatusOK, s.Info())
}

// Info returns the datanode's state.
// With several block pools the registration is the least advanced of
// their services' states, the times the latest, the replicas and each
// volume's block-pool usage summed over the pools.
func (s *Service) Info() Info {
	in := Info{
		DatanodeUUID: s.store.DatanodeUUID(), ClusterID: s.store.ClusterID(), Registration: s.registrationState(), BlockPools: []string{},
		HTTPAddress: s.listener.Addr().String(), StartedAt: s.startedAt, HeartbeatInterval: s.cfg.HeartbeatInterval.String(),
		FailedVolumes: s.store.FailedVolumes(),
	}
	var refused []string
	for _, bp := range s.poolList() {
		bp.mu.Lock()
		if bp.fatal != nil {
			refused = append(refused, bp.ns+": "+bp.fatal.Error())
		}
		if bp.ha.Load() {
			if in.ActiveCoordinators == nil {
				in.ActiveCoordinators = map[string]string{}
			}
			in.ActiveCoordinators[bp.ns] = ""
			if bp.active != nil {
				in.ActiveCoordinators[bp.ns] = bp.active.coord
			}
		}
		bp.mu.Unlock()
		for _, a := range bp.actorList() {
			a.mu.Lock()
			if t := a.lastHeartbeat; !t.IsZero() && (in.LastHeartbeat == nil || t.After(*in.LastHeartbeat)) {
				in.LastHeartbeat = &t
			}
			if t := a.lastReport; !t.IsZero() && (in.LastBlockReport == nil || t.After(*in.LastBlockReport)) {
				in.LastBlockReport = &t
			}
			a.mu.Unlock()
		}
	}
	in.RefusedBecause = strings.Join(refused, "; ")
	bpUsed := map[string]int64{}
	for _, bpid := range s.blockPools() {
		in.BlockPools = append(in.BlockPools, bpid)
		in.Replicas += s.store.Count(bpid)
		for _, r := range s.store.Reports(bpid) {
			bpUsed[r.StorageID] += r.BPUsed
		}
	}
	reports := s.store.Reports("")
	for i, v := range s.store.Volumes() {
		vi := VolumeInfo{Dir: v.Dir, StorageID: v.StorageID, StorageType: v.StorageType, BlockPoolUsed: bpUsed[v.StorageID]}
		if err := v.Failed(); err != nil {
			vi.Failed = err.Error()
		}
		if i < len(reports) {
			vi.Capacity, vi.DfsUsed, vi.Remaining = reports[i].Capacity, reports[i].DfsUsed, reports[i].Remaining
		}
		in.Volumes = append(in.Volumes, vi)
	}
	return in
}

// registrationState is the least advanced state of the block pool services.
func (s *Service) registrationState() string {
	order := map[string]int{"refused": 0, "connecting": 1, "handshake": 2, "registering": 3, "running": 4}
	state := "running"
	for _, bp := range s.poolList() {
		for _, a := range bp.actorList() {
			a.mu.Lock()
			st := a.state
			a.mu.Unlock()
			if order[st] < order[state] {
				state = st
			}
		}
	}
	return state
}

// triggerBlockReport godoc
//
//	@Summary	Send a full block report with the next heartbeat (dfsadmin -triggerBlockReport)
//	@Tags		datanode
//	@Produce	json
//	@Param		user.name	query	string	false	"the caller: the superuser or a member of the supergroup (dr.who when absent)"
//	@Success	200	{object}	api.BooleanResponse
//	@Failure	403	{object}	errs.RemoteExceptionBody	"AccessControlException (not the superuser), or IOException: not registered yet"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			triggerBlockReport
//	@Router		/api/v1/admin/triggerBlockReport [post]
func (s *Service) triggerBlockReport(w http.ResponseWriter, r *http.Request) {
	if len(s.blockPools()) == 0 {
		rest.WriteError(w, errs.E(errs.IO, "the datanode has not joined a block pool yet"))
		return
	}
	for _, a := range s.poolList() {
		a.triggerFBR()
	}
	_ = rest.WriteJSON(w, http.StatusOK, api.BooleanResponse{Boolean: true})
}

// refreshNamenodes godoc
//
//	@Summary		Re-read the nameservices (-nameservices-file): start block pool services for new ones, stop those no longer listed, their replicas kept; for a listed one, start and stop actors as its coordinator IDs changed (dfsadmin -refreshNamenodes)
//	@Tags		datanode
//	@Produce	json
//	@Param		user.name	query	string	false	"the caller: the superuser or a member of the supergroup (dr.who when absent)"
//	@Success	200	{object}	api.BooleanResponse
//	@Failure	403	{object}	errs.RemoteExceptionBody	"AccessControlException: not the superuser"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			refreshNamenodes
//	@Router		/api/v1/admin/refreshNamenodes [post]
func (s *Service) refreshNamenodes(w http.ResponseWriter, r *http.Request) {
	select {
	case s.refresh <- struct{}{}:
	default:
	}
	_ = rest.WriteJSON(w, http.StatusOK, api.BooleanResponse{Boolean: true})
}

// shutdownDatanode godoc
//
//	@Summary	Shut the datanode down gracefully (dfsadmin -shutdownDatanode)
//	@Tags		datanode
//	@Produce	json
//	@Param		user.name	query	string	false	"the caller: the superuser or a member of the supergroup (dr.who when absent)"
//	@Success	200	{object}	api.BooleanResponse
//	@Failure	403	{object}	errs.RemoteExceptionBody	"AccessControlException: not the superuser"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			shutdownDatanode
//	@Router		/api/v1/admin/shutdown [post]
func (s *Service) shutdownDatanode(w http.ResponseWriter, r *http.Request) {
	_ = rest.WriteJSON(w, http.StatusOK, api.BooleanResponse{Boolean: true})
	go s.shutdown()
}

// healthz godoc
//
//	@Summary	Liveness
//	@Tags		operations
//	@Produce	plain
//	@Success	200	{string}	string	"ok"
//	@ID			healthz
//	@Router		/healthz [get]
func (s *Service) healthz(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) }

// readyz godoc
//
//	@Summary	Readiness: registered with the coordinator
//	@Tags		operations
//	@Produce	plain
//	@Success	200	{string}	string	"ready"
//	@Failure	503	{string}	string	"not registered"
//	@ID			readyz
//	@Router		/readyz [get]
func (s *Service) readyz(w http.ResponseWriter, r *http.Request) {
	if state := s.registrationState(); state != "running" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(state + "\n"))
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
	openapi.Handler("datanode.swagger.json")(w, r)
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
	openapi.Handler("datanode.openapi.json")(w, r)
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
	openapi.Handler("datanode.openapi.yaml")(w, r)
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
//	@Description	The datanode's settings under the HDFS keys they mirror (a flag without one under its name), each with where it came from: default, a -conf file's path, env (a GRANARY_* variable) or flag, as HDFS's /conf; secrets are redacted. JSON, or Hadoop's configuration XML with format=xml. A service not started by its command lists its main settings.
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
	rest.WriteSettings(w, r, "granary datanode", []api.ConfProperty{
		{Key: "dfs.datanode.data.dir", Value: strings.Join(c.DataDirs, ",")},
		{Key: "dfs.datanode.data.dir.perm", Value: fmt.Sprintf("%o", c.DataDirPerm)},
		{Key: "-http-addr", Value: c.HTTPAddr},
		{Key: "-nats-url", Value: rest.RedactURLs(c.NATSURL)},
		{Key: "dfs.nameservices", Value: strings.Join(c.Nameservices, ",")},
		{Key: "-hostname", Value: c.HostName},
		{Key: "-ip", Value: c.IPAddr},
		{Key: "dfs.permissions.superusergroup", Value: c.Supergroup},
		{Key: "-superuser", Value: c.Superuser},
		{Key: "dfs.heartbeat.interval", Value: c.HeartbeatInterval.String()},
		{Key: "dfs.datanode.lifeline.interval.seconds", Value: c.LifelineInterval.String()},
		{Key: "dfs.client.socket-timeout", Value: c.SocketTimeout.String()},
		{Key: "dfs.blockreport.intervalMsec", Value: c.BlockReportInterval.String()},
		{Key: "dfs.blockreport.initialDelay", Value: c.BlockReportInitialDelay.String()},
		{Key: "dfs.blockreport.split.threshold", Value: strconv.Itoa(c.SplitThreshold)},
		{Key: "dfs.datanode.failed.volumes.tolerated", Value: strconv.Itoa(c.FailedVolumesTolerated)},
		{Key: "dfs.datanode.du.reserved", Value: strconv.FormatInt(c.DuReserved, 10)},
		{Key: "dfs.datanode.synconclose", Value: strconv.FormatBool(c.SyncOnClose)},
		{Key: "dfs.datanode.sync.behind.writes", Value: strconv.FormatBool(c.SyncBehindWrites)},
		{Key: "dfs.datanode.drop.cache.behind.writes", Value: strconv.FormatBool(c.DropCacheBehindWrites)},
		{Key: "dfs.datanode.readahead.bytes", Value: strconv.FormatInt(max(0, c.ReadaheadBytes), 10)},
		{Key: "dfs.datanode.drop.cache.behind.reads", Value: strconv.FormatBool(c.DropCacheBehindReads)},
		{Key: "dfs.datanode.fileio.profiling.sampling.percentage", Value: strconv.Itoa(c.FileIOProfilingPercentage)},
		{Key: "dfs.datanode.cached-dfsused.check.interval.ms", Value: c.CachedDfsUsedInterval.String()},
		{Key: "dfs.datanode.directoryscan.interval", Value: c.DirectoryScanInterval.String()},
		{Key: "dfs.datanode.scan.period.hours", Value: c.ScanPeriod.String()},
		{Key: "hadoop.http.idle_timeout.ms", Value: c.HTTPIdleTimeout.String()},
	})
}
