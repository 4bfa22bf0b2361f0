package metadata

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/rest"
	"github.com/granary-fs/granary/openapi"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

//	@title						Granary metadata service
//	@version					0.1
//	@description				The namespace server (HDFS NameNode): WebHDFS, the native API and the admin API. Every error is a WebHDFS RemoteException with HDFS's status mapping.
//	@BasePath					/
//	@externalDocs.description	WebHDFS REST API
//	@externalDocs.url			https://hadoop.apache.org/docs/stable/hadoop-project-dist/hadoop-hdfs/WebHDFS.html

// maxBody caps request bodies of the native and admin APIs.
const maxBody = 1 << 20

func (s *Service) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.authn.Middleware(nil))
	r.Use(s.standbyGuard)
	r.Use(s.callIDs)
	admin := r.With(s.authn.AdminOnly)
	r.Get("/webhdfs/v1/*", s.webhdfsGet)
	r.Put("/webhdfs/v1/*", s.webhdfsPut)
	r.Post("/webhdfs/v1/*", s.webhdfsPost)
	r.Delete("/webhdfs/v1/*", s.webhdfsDelete)
	r.Get("/webhdfs/v1", s.webhdfsGet)
	r.Post("/api/v1/create", s.nativeCreate)
	r.Post("/api/v1/complete", s.nativeComplete)
	r.Post("/api/v1/addBlock", s.nativeAddBlock)
	r.Post("/api/v1/append", s.nativeAppend)
	r.Post("/api/v1/renewLease", s.nativeRenewLease)
	r.Post("/api/v1/abandonBlock", s.nativeAbandonBlock)
	r.Post("/api/v1/updateBlockForPipeline", s.nativeUpdateBlockForPipeline)
	r.Post("/api/v1/updatePipeline", s.nativeUpdatePipeline)
	r.Post("/api/v1/getAdditionalDatanode", s.nativeGetAdditionalDatanode)
	r.Post("/api/v1/reportBadBlocks", s.nativeReportBadBlocks)
	r.Get("/api/v1/blockLocations", s.nativeBlockLocations)
	r.Get("/api/v1/admin/safemode", s.adminSafeModeGet)
	r.Post("/api/v1/admin/safemode/{action}", s.adminSafeMode)
	r.Post("/api/v1/admin/saveNamespace", s.adminSaveNamespace)
	r.Get("/api/v1/admin/fsck", s.fsck)
	r.Post("/api/v1/admin/rollEdits", s.adminRollEdits)
	r.Post("/api/v1/admin/finalizeUpgrade", s.adminFinalizeUpgrade)
	r.Post("/api/v1/admin/transitionToStandby", s.adminTransitionToStandby)
	r.Get("/api/v1/admin/startupProgress", s.startupProgress)
	r.Get("/startupProgress", s.startupProgress)
	admin.Get("/jmx", s.jmx)
	admin.Get("/conf", s.conf)
	admin.Get("/logs", s.logs)
	r.Get("/", s.uiIndex)
	r.Get("/ui/{file}", s.uiAsset)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/swagger.json", s.swaggerJSON)
	r.Get("/openapi.json", s.openapiJSON)
	r.Get("/openapi.yaml", s.openapiYAML)
	r.Get("/docs", s.docs)
	r.Get("/docs/*", rest.SwaggerUI())
	admin.Get("/metrics", s.metricsHandler)
	rest.Operations(r, s.authn.AdminOnly)
	return r
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
	openapi.Handler("metadata.swagger.json")(w, r)
}

// healthz godoc
//
//	@Summary	Liveness: the process serves HTTP
//	@Tags		operations
//	@Produce	plain
//	@Success	200	{string}	string	"ok"
//	@ID			healthz
//	@Router		/healthz [get]
func (s *Service) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz godoc
//
//	@Summary	Readiness: the namespace is loaded and the edit log commits
//	@Tags		operations
//	@Produce	plain
//	@Success	200	{string}	string	"ready"
//	@Failure	503	{string}	string	"loading or failing"
//	@ID			readyz
//	@Router		/readyz [get]
func (s *Service) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	if s.standby.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("standby\n"))
		return
	}
	if e := s.edits.Load(); !s.ready.Load() || e == nil || e.Failing() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// startupProgress godoc
//
//	@Summary		Start-up progress
//	@Description	The four start-up phases (LoadingFsImage, LoadingEdits, SavingCheckpoint, SafeMode) with counts and percent; served while the namespace loads.
//	@Tags			admin
//	@Produce		json
//	@Success		200	{object}	StartupProgressView
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			startupProgress
//	@Router			/startupProgress [get]
func (s *Service) startupProgress(w http.ResponseWriter, r *http.Request) {
	_ = writeJSON(w, http.StatusOK, s.progress.View())
}

// adminUser is the caller when it is the superuser or in the supergroup
// (HDFS's checkSuperuserPrivilege).
func (s *Service) adminUser(r *http.Request) (*namespace.User, error) {
	id, err := s.authn.RequireSuperuser(r)
	if err != nil {
		return nil, err
	}
	return &namespace.User{Name: id.User, Groups: id.Groups, UGI: id.UGI()}, nil
}

func (s *Service) safeModeStatus() api.SafeModeStatus {
	return api.SafeModeStatus{On: s.safe.On(), Message: s.safe.Tip()}
}

// adminSafeModeGet godoc
//
//	@Summary	Safe mode status (dfsadmin -safemode get)
//	@Tags		admin
//	@Produce	json
//	@Success	200	{object}	api.SafeModeStatus
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			adminSafeModeGet
//	@Router		/api/v1/admin/safemode [get]
func (s *Service) adminSafeModeGet(w http.ResponseWriter, r *http.Request) {
	_ = writeJSON(w, http.StatusOK, s.safeModeStatus())
}

// adminSafeMode godoc
//
//	@Summary		Enter, leave or wait for safe mode (dfsadmin -safemode enter|leave|wait)
//	@Description	enter and leave need the superuser; wait blocks until safe mode is off (or the timeout, seconds, default 600, passes).
//	@Tags			admin
//	@Produce		json
//	@Param			action		path		string	true	"action"	Enums(enter,leave,wait,get)
//	@Param			user.name	query		string	false	"caller"
//	@Param			timeout		query		integer	false	"wait: seconds"
//	@Success		200			{object}	api.SafeModeStatus
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		403			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			adminSafeMode
//	@Router			/api/v1/admin/safemode/{action} [post]
func (s *Service) adminSafeMode(w http.ResponseWriter, r *http.Request) {
	action := chi.URLParam(r, "action")
	q := r.URL.Query()
	timeout := 600 * time.Second
	if t := q.Get("timeout"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			writeError(w, errs.E(errs.IllegalArgument, "Invalid value for parameter \"timeout\": %q", t))
			return
		}
		timeout = time.Duration(n) * time.Second
		q.Del("timeout")
		r.URL.RawQuery = q.Encode()
	}
	switch action {
	case "get":
	case "enter", "leave":
		if _, err := s.adminUser(r); err != nil {
			writeError(w, err)
			return
		}
		if action == "enter" {
			s.safe.Enter()
		} else {
			s.safe.Leave()
			s.progress.End(PhaseSafeMode)
		}
		s.log.Info("safe mode changed by the administrator", "action", action)
	case "wait":
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		for s.safe.On() {
			select {
			case <-s.safe.Changed():
			case <-ctx.Done():
				writeError(w, errs.E(errs.IO, "timed out waiting for safe mode to be turned off"))
				return
			case <-time.After(time.Second):
			}
		}
	default:
		writeError(w, errs.E(errs.IllegalArgument, "Invalid safe mode action %q: use enter, leave, get or wait", action))
		return
	}
	_ = writeJSON(w, http.StatusOK, s.safeModeStatus())
}

// adminSaveNamespace godoc
//
//	@Summary		Save the namespace as a new fsimage (dfsadmin -saveNamespace)
//	@Description	Superuser only, and only in safe mode, as in HDFS.
//	@Tags			admin
//	@Produce		json
//	@Param			user.name	query		string	false	"caller"
//	@Success		200			{object}	api.SaveNamespaceResponse
//	@Failure		403			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			adminSaveNamespace
//	@Router			/api/v1/admin/saveNamespace [post]
func (s *Service) adminSaveNamespace(w http.ResponseWriter, r *http.Request) {
	if _, err := s.adminUser(r); err != nil {
		writeError(w, err)
		return
	}
	txid, err := s.SaveNamespace(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	_ = writeJSON(w, http.StatusOK, api.SaveNamespaceResponse{TxID: txid})
}

// adminRollEdits godoc
//
//	@Summary		Roll the edit log (dfsadmin -rollEdits)
//	@Description	The edit log is a PostgreSQL table without segment files: every applied edit is made durable and the txid the next segment starts at is returned.
//	@Tags			admin
//	@Produce		json
//	@Param			user.name	query		string	false	"caller (superuser)"
//	@Success		200			{object}	api.SaveNamespaceResponse
//	@Failure		403			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			adminRollEdits
//	@Router			/api/v1/admin/rollEdits [post]
func (s *Service) adminRollEdits(w http.ResponseWriter, r *http.Request) {
	if _, err := s.adminUser(r); err != nil {
		writeError(w, err)
		return
	}
	txid, err := s.RollEdits(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	_ = writeJSON(w, http.StatusOK, api.SaveNamespaceResponse{TxID: txid})
}

func clientHost(r *http.Request) string {
	host := r.RemoteAddr
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			return host[:i]
		}
	}
	return host
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
	openapi.Handler("metadata.openapi.json")(w, r)
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
	openapi.Handler("metadata.openapi.yaml")(w, r)
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

// standbyGuard answers HDFS's StandbyException to the client operations
// (WebHDFS and the native API) of a standby, so that clients fail over.
func (s *Service) standbyGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.standby.Load() && (strings.HasPrefix(r.URL.Path, "/webhdfs/") || strings.HasPrefix(r.URL.Path, "/api/v1/")) &&
			!strings.HasPrefix(r.URL.Path, "/api/v1/admin/") {
			category := "WRITE"
			if r.Method == http.MethodGet {
				category = "READ"
			}
			writeError(w, errs.E(errs.Standby, "Operation category %s is not supported in state standby. Visit https://s.apache.org/sbnn-error", category))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminTransitionToStandby godoc
//
//	@Summary		Give up the active state (haadmin -transitionToStandby)
//	@Description	HA only, superuser only. The active stops taking requests, lets those in flight finish, makes every edit durable and ends, releasing the writer lock: a standby takes over and clients fail over to it (haadmin -failover does this, then waits for the target). Restart the process to have it standby again. A standby answers true and does nothing.
//	@Tags			admin
//	@Produce		json
//	@Param			user.name	query		string	false	"caller (superuser)"
//	@Success		200			{object}	api.BooleanResponse
//	@Failure		400			{object}	errs.RemoteExceptionBody	"HA is not enabled (no -namenode-id)"
//	@Failure		401			{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@Failure		403			{object}	errs.RemoteExceptionBody	"AccessControlException: not the superuser"
//	@ID				adminTransitionToStandby
//	@Router			/api/v1/admin/transitionToStandby [post]
func (s *Service) adminTransitionToStandby(w http.ResponseWriter, r *http.Request) {
	if _, err := s.adminUser(r); err != nil {
		writeError(w, err)
		return
	}
	if s.cfg.NamenodeID == "" {
		writeError(w, errs.E(errs.IllegalArgument, "HA is not enabled for this metadata service (run it with -namenode-id)"))
		return
	}
	active := !s.standby.Load()
	_ = writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: true})
	if stop := s.stopFn.Load(); active && stop != nil {
		s.log.Warn("transitioning to standby: stopping after the requests in flight", "namenode_id", s.cfg.NamenodeID)
		// After this answer is out: the HTTP server's graceful shutdown
		// waits for the requests in flight, this one included.
		go (*stop)()
	}
}

// adminFinalizeUpgrade godoc
//
//	@Summary		Finalize the upgrade (dfsadmin -finalizeUpgrade)
//	@Description	Superuser only. Ends an upgrade started with -upgrade: the image kept for granary metadata rollback may be purged from now on. Answers true when an upgrade was in progress. granary admin -finalizeUpgrade then tells the coordinator, whose full-report replies make the datanodes finalize theirs.
//	@Tags			admin
//	@Produce		json
//	@Param			user.name	query		string	false	"caller (superuser)"
//	@Success		200			{object}	api.BooleanResponse
//	@Failure		401			{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@Failure		403			{object}	errs.RemoteExceptionBody	"AccessControlException: not the superuser"
//	@ID				adminFinalizeUpgrade
//	@Router			/api/v1/admin/finalizeUpgrade [post]
func (s *Service) adminFinalizeUpgrade(w http.ResponseWriter, r *http.Request) {
	if _, err := s.adminUser(r); err != nil {
		writeError(w, err)
		return
	}
	was, err := s.store.FinalizeUpgrade(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	if was {
		s.log.Info("upgrade finalized: the image kept for a rollback may be purged")
	}
	_ = writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: was})
}
