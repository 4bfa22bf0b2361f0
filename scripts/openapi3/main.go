// Command openapi3 converts the Swagger 2.0 documents that swag writes into
// OpenAPI 3.0 (kin-openapi's openapi2conv), validates them and writes
// <service>.openapi.json and .yaml next to them. scripts/openapi.sh runs it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: openapi3 IN-DIR OUT-DIR")
		os.Exit(2)
	}
	files, _ := filepath.Glob(filepath.Join(os.Args[1], "*.swagger.json"))
	for _, f := range files {
		if err := convert(f, os.Args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			os.Exit(1)
		}
	}
}

// binaryBodies types every application/octet-stream response body as a
// binary string: Swagger 2.0 has one schema for all of an operation's
// content types, so an operation answering JSON for one op and bytes for
// another (the datanode's WebHDFS GET: GETFILECHECKSUM, OPEN) would
// otherwise promise JSON for the bytes, and generated clients would parse
// them.
func binaryBodies(doc *openapi3.T) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				if mt := resp.Value.Content.Get("application/octet-stream"); mt != nil {
					mt.Schema = openapi3.NewSchemaRef("", openapi3.NewStringSchema().WithFormat("binary"))
				}
			}
		}
	}
}

func convert(path, outDir string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var v2 openapi2.T
	if err := json.Unmarshal(b, &v2); err != nil {
		return err
	}
	v3, err := openapi2conv.ToV3(&v2)
	if err != nil {
		return err
	}
	binaryBodies(v3)
	if err := v3.Validate(context.Background()); err != nil {
		return fmt.Errorf("the OpenAPI 3 document is not valid: %w", err)
	}
	js, err := json.MarshalIndent(v3, "", "  ")
	if err != nil {
		return err
	}
	var generic any
	if err := json.Unmarshal(js, &generic); err != nil {
		return err
	}
	ys, err := yaml.Marshal(generic)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(filepath.Base(path), ".swagger.json")
	if err := os.WriteFile(filepath.Join(outDir, base+".openapi.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outDir, base+".openapi.yaml"), ys, 0o644)
}
