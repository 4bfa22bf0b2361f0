package openapi

import (
	"strings"
	"testing"
)

// TestEveryOperationHasAnID: generated SDKs name their methods after the
// operationIds, so every operation has one, unique in its document.
func TestEveryOperationHasAnID(t *testing.T) {
	for _, svc := range []string{"metadata", "coordinator", "datanode", "router"} {
		doc, err := Load(svc)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				where := method + " " + path
				if op.OperationID == "" {
					t.Errorf("%s: %s has no operationId", svc, where)
					continue
				}
				if other, dup := seen[op.OperationID]; dup {
					t.Errorf("%s: operationId %s names both %s and %s", svc, op.OperationID, other, where)
				}
				seen[op.OperationID] = where
				// oapi-codegen names an operation's answer <ID>Response:
				// a schema of that name would be declared twice.
				title := strings.ToUpper(op.OperationID[:1]) + op.OperationID[1:]
				if _, clash := doc.Components.Schemas[title+"Response"]; clash {
					t.Errorf("%s: operationId %s clashes with the schema %sResponse in generated SDKs", svc, op.OperationID, title)
				}
			}
		}
		if len(seen) < 5 {
			t.Fatalf("%s: only %d operations", svc, len(seen))
		}
	}
}
