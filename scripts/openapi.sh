#!/usr/bin/env bash
# Regenerates the OpenAPI contracts in openapi/ from the swag annotations
# next to each handler: Swagger 2.0 from swag, OpenAPI 3.0 converted from it
# with kin-openapi and validated. With --check it only verifies that the committed
# files are up to date (the test command runs it that way).
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
[ "${1:-}" = "--check" ] && check=true

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# service  main-file  directories
gen() {
  local svc=$1 main=$2 dirs=$3
  go tool swag init --quiet --useStructName -g "$main" -d "$dirs" \
    --parseInternal --outputTypes json,yaml -o "$out/$svc" >/dev/null
  mv "$out/$svc/swagger.json" "$out/$svc.swagger.json"
  mv "$out/$svc/swagger.yaml" "$out/$svc.swagger.yaml"
}

gen metadata routes.go services/metadata,api,internal/errs
gen coordinator http.go services/coordinator,api,internal/errs
gen datanode http.go services/datanode,api,internal/errs
gen router http.go services/router,api,internal/errs

# OpenAPI 3.0, converted from the Swagger 2.0 documents and validated.
go run ./scripts/openapi3 "$out" "$out"

# Go SDKs generated from the OpenAPI 3 documents (oapi-codegen), committed
# in api/sdk/<service>.
for svc in metadata coordinator datanode router; do
  go tool oapi-codegen -generate types,client -package "$svc" -o "$out/$svc.gen.go" "$out/$svc.openapi.json"
done

stale=0
for svc in metadata coordinator datanode router; do
  if $check; then
    if ! cmp -s "$out/$svc.gen.go" "api/sdk/$svc/$svc.gen.go"; then
      echo "api/sdk/$svc/$svc.gen.go is stale: run scripts/openapi.sh" >&2
      stale=1
    fi
  else
    mkdir -p "api/sdk/$svc"
    cp "$out/$svc.gen.go" "api/sdk/$svc/$svc.gen.go"
  fi
done
for f in "$out"/*.swagger.* "$out"/*.openapi.*; do
  name=$(basename "$f")
  if $check; then
    if ! cmp -s "$f" "openapi/$name"; then
      echo "openapi/$name is stale: run scripts/openapi.sh" >&2
      stale=1
    fi
  else
    cp "$f" "openapi/$name"
  fi
done
exit $stale
