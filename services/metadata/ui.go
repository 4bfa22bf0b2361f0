package metadata

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/granary-fs/granary/internal/errs"
)

// The web UI's assets, embedded: nothing is fetched from elsewhere at run
// time (docs/web-ui.md).
//
//go:embed ui
var uiFiles embed.FS

// uiIndex godoc
//
//	@Summary		The web UI (HDFS's NameNode UI): overview, datanodes, startup progress, browse the file system
//	@Description	An HTML page whose script reads /jmx, /startupProgress and WebHDFS from this service.
//	@Tags			ui
//	@Produce		html,json
//	@Success		200	{string}	string	"HTML"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			uiIndex
//	@Router			/ [get]
func (s *Service) uiIndex(w http.ResponseWriter, r *http.Request) {
	s.uiFile(w, "index.html")
}

// uiAsset godoc
//
//	@Summary	A static asset of the web UI
//	@Tags		ui
//	@Produce	plain,json
//	@Param		file	path		string	true	"asset name"	Enums(app.js,style.css)
//	@Success	200		{string}	string	"the asset"
//	@Failure	404		{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			uiAsset
//	@Router		/ui/{file} [get]
func (s *Service) uiAsset(w http.ResponseWriter, r *http.Request) {
	s.uiFile(w, chi.URLParam(r, "file"))
}

var uiTypes = map[string]string{
	"index.html": "text/html; charset=utf-8",
	"app.js":     "text/javascript; charset=utf-8",
	"style.css":  "text/css; charset=utf-8",
}

func (s *Service) uiFile(w http.ResponseWriter, name string) {
	typ, ok := uiTypes[name]
	if !ok {
		writeError(w, errs.E(errs.FileNotFound, "no web UI asset %q", name))
		return
	}
	b, err := fs.ReadFile(uiFiles, "ui/"+name)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}
