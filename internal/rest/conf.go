package rest

import (
	"encoding/xml"
	"net/http"

	"github.com/granary-fs/granary/api"
)

// WriteSettings answers GET /conf for a service its command did not start
// (granary dev, tests): the main settings it runs with, each from
// resource.
func WriteSettings(w http.ResponseWriter, r *http.Request, resource string, props []api.ConfProperty) {
	for i := range props {
		props[i].Resource = resource
	}
	WriteConf(w, r, props)
}

// WriteConf answers GET /conf with props (HDFS's /conf servlet): JSON, or
// Hadoop's configuration XML with ?format=xml.
func WriteConf(w http.ResponseWriter, r *http.Request, props []api.ConfProperty) {
	if props == nil {
		props = []api.ConfProperty{}
	}
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		_ = WriteJSON(w, http.StatusOK, api.ConfResponse{Properties: props})
	case "xml":
		type property struct {
			Name   string `xml:"name"`
			Value  string `xml:"value"`
			Final  bool   `xml:"final"`
			Source string `xml:"source"`
		}
		doc := struct {
			XMLName    xml.Name   `xml:"configuration"`
			Properties []property `xml:"property"`
		}{}
		for _, p := range props {
			doc.Properties = append(doc.Properties, property{p.Key, p.Value, p.IsFinal, p.Resource})
		}
		b, err := xml.MarshalIndent(doc, "", "  ")
		if err != nil {
			WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write([]byte(xml.Header))
		_, _ = w.Write(b)
		_, _ = w.Write([]byte("\n"))
	default:
		http.Error(w, "Bad format: "+f, http.StatusBadRequest)
	}
}
