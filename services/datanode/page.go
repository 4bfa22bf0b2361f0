package datanode

import (
	"fmt"
	"github.com/granary-fs/granary/internal/dnproto"
	"html/template"
	"net/http"
	"time"

	"github.com/granary-fs/granary/internal/units"
)

// The datanode's own page, as HDFS's datanode.html: its block pools,
// volumes (capacity, used, failed), last heartbeat and block report and
// version, rendered on the server from Info: the metadata service's web UI
// links every datanode's name here.

// softwareVersion is what the datanode reports in its registration.
const softwareVersion = dnproto.SoftwareVersion

var pageTmpl = template.Must(template.New("datanode").Funcs(template.FuncMap{
	"bytes": units.ByteDesc,
	"when": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.Local().Format("2006-01-02 15:04:05") + fmt.Sprintf(" (%d s ago)", int(time.Since(*t).Seconds()))
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Granary datanode {{.HTTPAddress}}</title><link rel="icon" href="data:,">
<style>body{font-family:system-ui,sans-serif;margin:1em;max-width:60em}table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{text-align:left;padding:.25em .5em;border-bottom:1px solid #ddd}td{overflow-wrap:anywhere}.failed{color:#b00}</style></head>
<body><h1>Datanode {{.HTTPAddress}}</h1>
<table id="summary"><tbody>
<tr><th>Datanode UUID</th><td>{{.DatanodeUUID}}</td></tr>
<tr><th>Cluster ID</th><td>{{.ClusterID}}</td></tr>
<tr><th>Version</th><td>{{.Version}}</td></tr>
<tr><th>Started</th><td>{{.StartedAt.Local.Format "2006-01-02 15:04:05"}}</td></tr>
<tr><th>Registration</th><td>{{.Registration}}{{if .RefusedBecause}}: {{.RefusedBecause}}{{end}}</td></tr>
<tr><th>Last heartbeat</th><td id="last-heartbeat">{{when .LastHeartbeat}}</td></tr>
<tr><th>Last block report</th><td id="last-block-report">{{when .LastBlockReport}}</td></tr>
<tr><th>Replicas</th><td>{{.Replicas}}</td></tr>
</tbody></table>
<h2>Block pools</h2>
<table id="block-pools"><tbody>{{range .BlockPools}}<tr><td>{{.}}</td></tr>{{else}}<tr><td>none</td></tr>{{end}}</tbody></table>
<h2>Volumes</h2>
<table id="volumes"><thead><tr><th>Directory</th><th>Storage ID</th><th>Capacity</th><th>Used</th><th>Remaining</th><th>Failed</th></tr></thead><tbody>
{{range .Volumes}}<tr{{if .Failed}} class="failed"{{end}}><td>{{.Dir}}</td><td>{{.StorageID}}</td><td>{{bytes .Capacity}}</td><td>{{bytes .DfsUsed}}</td><td>{{bytes .Remaining}}</td><td>{{if .Failed}}{{.Failed}}{{else}}no{{end}}</td></tr>
{{end}}</tbody></table>
<p><a href="api/v1/info">api/v1/info</a> · <a href="metrics">metrics</a> · <a href="docs">API</a></p>
</body></html>
`))

// page godoc
//
//	@Summary	The datanode's page (HDFS's datanode.html): block pools, volumes, last heartbeat and block report, version
//	@Tags		datanode
//	@Produce	html,json
//	@Success	200	{string}	string	"an HTML page"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			datanodePage
//	@Router		/ [get]
func (s *Service) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTmpl.Execute(w, struct {
		Info
		Version string
	}{s.Info(), softwareVersion})
}
