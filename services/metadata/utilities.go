package metadata

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/rest"
)

// The web UI's Utilities, as HDFS's: the effective configuration (/conf)
// and the recent log lines (/logs).

// logRing is a slog.Handler that passes every record on and keeps the last
// lines, formatted as text, for /logs.
type logRing struct {
	next  slog.Handler
	state *ringState
	attrs []slog.Attr
	group string
}

type ringState struct {
	mu    sync.Mutex
	lines []string
	at    int // the next slot to write
	full  bool
}

// logRingLines is how many recent lines /logs shows.
const logRingLines = 1000

func newLogRing(next slog.Handler) *logRing {
	return &logRing{next: next, state: &ringState{lines: make([]string, logRingLines)}}
}

func (h *logRing) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *logRing) Handle(ctx context.Context, r slog.Record) error {
	var b bytes.Buffer
	th := slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}).WithAttrs(h.attrs)
	if h.group != "" {
		th = th.WithGroup(h.group)
	}
	_ = th.Handle(ctx, r)
	st := h.state
	st.mu.Lock()
	st.lines[st.at] = b.String()
	st.at = (st.at + 1) % len(st.lines)
	st.full = st.full || st.at == 0
	st.mu.Unlock()
	return h.next.Handle(ctx, r)
}

func (h *logRing) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logRing{next: h.next.WithAttrs(attrs), state: h.state, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...), group: h.group}
}

func (h *logRing) WithGroup(name string) slog.Handler {
	return &logRing{next: h.next.WithGroup(name), state: h.state, attrs: h.attrs, group: name}
}

// recent returns the kept lines, oldest first.
func (h *logRing) recent() []byte {
	st := h.state
	st.mu.Lock()
	defer st.mu.Unlock()
	var b bytes.Buffer
	if st.full {
		for _, l := range st.lines[st.at:] {
			b.WriteString(l)
		}
	}
	for _, l := range st.lines[:st.at] {
		b.WriteString(l)
	}
	return b.Bytes()
}

// logs godoc
//
//	@Summary		The service's recent log lines
//	@Description	The last 1000 lines the metadata service logged (HDFS's web UI links its logs under Utilities), oldest first.
//	@Tags			operations
//	@Produce		plain,json
//	@Success		200	{string}	string	"log lines"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@Failure	403	{object}	errs.RemoteExceptionBody	"token mode: not the superuser (AccessControlException)"
//	@ID				getLogs
//	@Router			/logs [get]
func (s *Service) logs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(s.logRing.recent())
}

// conf godoc
//
//	@Summary		The effective configuration
//	@Description	The metadata service's settings under the HDFS keys they mirror (a flag without one under its name), each with where it came from: default, a -conf file's path, env (a GRANARY_* variable) or flag, as HDFS's /conf; secrets are redacted. JSON, or Hadoop's configuration XML with format=xml. A service not started by its command lists its main settings.
//	@Tags			operations
//	@Produce		json,xml
//	@Param			format	query	string	false	"json (default) or xml"	Enums(json,xml)
//	@Success		200	{object}	api.ConfResponse
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@Failure	403	{object}	errs.RemoteExceptionBody	"token mode: not the superuser (AccessControlException)"
//	@ID				getConfiguration
//	@Router			/conf [get]
func (s *Service) conf(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Conf != nil {
		rest.WriteConf(w, r, s.cfg.Conf)
		return
	}
	c := s.cfg
	props := []api.ConfProperty{
		{Key: "dfs.namenode.http-address", Value: c.HTTPAddr},
		{Key: "granary.metadata.database-url", Value: rest.RedactURLs(c.DatabaseURL)},
		{Key: "granary.nats-url", Value: rest.RedactURLs(c.NATSURL)},
		{Key: "granary.metadata.advertise-addr", Value: c.AdvertiseAddr},
		{Key: "dfs.client.use.datanode.hostname", Value: strconv.FormatBool(c.RedirectToDatanodeHostname)},
		{Key: "dfs.permissions.superuser", Value: c.Superuser},
		{Key: "dfs.permissions.superusergroup", Value: c.Supergroup},
		{Key: "dfs.namenode.safemode.threshold-pct", Value: strconv.FormatFloat(c.SafeModeThresholdPct, 'f', -1, 64)},
		{Key: "dfs.namenode.safemode.min.datanodes", Value: strconv.Itoa(c.SafeModeMinDatanodes)},
		{Key: "dfs.namenode.safemode.extension", Value: c.SafeModeExtension.String()},
		{Key: "dfs.namenode.checkpoint.txns", Value: strconv.FormatInt(c.CheckpointTxns, 10)},
		{Key: "dfs.namenode.checkpoint.period", Value: c.CheckpointPeriod.String()},
		{Key: "dfs.namenode.checkpoint.check.period", Value: c.CheckpointCheck.String()},
		{Key: "dfs.namenode.num.extra.edits.retained", Value: strconv.FormatInt(max(c.ExtraEditsRetained, 0), 10)},
		{Key: "dfs.namenode.fs-limits.min-block-size", Value: strconv.FormatInt(c.MinBlockSize, 10)},
		{Key: "dfs.namenode.lease-hard-limit-sec", Value: c.LeaseHardLimit.String()},
		{Key: "fs.trash.interval", Value: strconv.FormatInt(c.TrashInterval, 10)},
		{Key: "fs.trash.checkpoint.interval", Value: c.TrashCheckpointInterval.String()},
		{Key: "hadoop.http.idle_timeout.ms", Value: c.HTTPIdleTimeout.String()},
		{Key: "granary.metadata.edit-log-retry", Value: c.EditLogRetry.String()},
		{Key: "granary.metadata.edit-log-gather", Value: strconv.FormatBool(!c.EditLogNoGather)},
	}
	rest.WriteSettings(w, r, "granary metadata", props)
}
