// Package openapi embeds the generated API contracts (scripts/openapi.sh
// writes them from the swag annotations) so that each service serves its own.
package openapi

import (
	"embed"

	"github.com/getkin/kin-openapi/openapi3"
	"net/http"
	"strings"
)

//go:embed *.json *.yaml
var files embed.FS

// Handler serves one embedded contract file.
func Handler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := files.ReadFile(name)
		if err != nil {
			http.Error(w, "no such contract", http.StatusNotFound)
			return
		}
		ct := "application/json"
		if strings.HasSuffix(name, ".yaml") {
			ct = "application/yaml"
		}
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(b)
	}
}

// Load parses a service's OpenAPI 3 document ("metadata", "coordinator",
// "datanode").
func Load(service string) (*openapi3.T, error) {
	b, err := files.ReadFile(service + ".openapi.json")
	if err != nil {
		return nil, err
	}
	return openapi3.NewLoader().LoadFromData(b)
}
