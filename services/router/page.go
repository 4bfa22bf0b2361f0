package router

import (
	"context"
	"html/template"
	"net/http"
	"time"

	"github.com/granary-fs/granary/api"
)

var pageTmpl = template.Must(template.New("router").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Granary router</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style>
</head><body>
<h1>Granary router</h1>
<h2>Nameservices</h2>
<table id="nameservices"><thead><tr><th>Nameservice</th><th>Metadata service</th><th>State</th></tr></thead><tbody>
{{range .Nameservices}}<tr><td>{{.Name}}</td><td><a href="{{.URL}}/">{{.URL}}</a></td><td>{{.State}}</td></tr>{{end}}
</tbody></table>
<h2>Mount table</h2>
<table id="mounts"><thead><tr><th>Source</th><th>Nameservice</th><th>Destination</th></tr></thead><tbody>
{{range .Mounts}}<tr><td>{{.Source}}</td><td>{{.Nameservice}}</td><td>{{.Destination}}</td></tr>{{else}}<tr><td colspan="3">no mount point: granary admin -router -add /data ns1 /data</td></tr>{{end}}
</tbody></table>
</body></html>
`))

type nameserviceState struct{ Name, URL, State string }

// page godoc
//
//	@Summary	The router's page: each nameservice's state and the mount table
//	@Tags		operations
//	@Produce	html
//	@Success	200	{string}	string	"the page"
//	@ID			routerPage
//	@Router		/ [get]
func (s *Service) page(w http.ResponseWriter, r *http.Request) {
	var nss []nameserviceState
	for _, ns := range s.nameserviceNames() {
		nss = append(nss, nameserviceState{Name: ns, URL: s.cfg.Nameservices[ns], State: s.nameserviceState(r.Context(), ns)})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTmpl.Execute(w, struct {
		Nameservices []nameserviceState
		Mounts       []api.MountEntry
	}{nss, s.mounts.list()})
}

// nameserviceState asks a nameservice's metadata services whether one is
// ready: "active", "not ready" or "unreachable".
func (s *Service) nameserviceState(ctx context.Context, ns string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	state := "unreachable"
	for _, base := range s.nameservices[ns].URLs() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			continue
		}
		resp, err := s.proxy.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return "active"
		}
		state = "not ready"
	}
	return state
}
