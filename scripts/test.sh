#!/usr/bin/env bash
# The test command (README, Makefile and .ci/run call it). It checks
# formatting, vet and the freshness of the OpenAPI contracts, then runs
# every test against a real PostgreSQL: GRANARY_DATABASE_URL when set, else
# a throwaway server that each test binary starts from the machine's
# PostgreSQL binaries and stops afterwards (internal/pgtest). Finally each
# fuzz target gets a short fuzzing run (without the race detector).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== OpenAPI contracts are fresh"
scripts/openapi.sh --check

echo "== chromium (web UI test), python3-fsspec (client test) and curl (dev -secure test): Debian's packages, installed when missing"
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
/usr/bin/python3 -c 'import fsspec.implementations.webhdfs, requests' >/dev/null 2>&1 || missing="$missing python3-fsspec python3-requests"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

echo "== go test -race (web UI screenshots go to build/ui-screenshots/)"
# Every test runs under Go's race detector: the services are concurrent
# (actors, loops, group commit, HTTP handlers) and a race found here is a
# bug. It costs ~2x CPU; the whole suite stays within a few minutes.
go test -race -count=1 -timeout 30m ./...

echo "== fuzzing (${GRANARY_FUZZTIME:=100000x} per target: a count of inputs, so the run ends on a count, not a clock)"
fuzz() { go test -run='^$' -fuzz="^$2\$" -fuzztime="$GRANARY_FUZZTIME" "$1"; }
fuzz ./internal/hdfspath FuzzSplit
fuzz ./services/metadata/internal/namespace FuzzDecodeOp
fuzz ./services/metadata/internal/namespace FuzzLoadImage
fuzz ./services/metadata FuzzWebHDFSParams
fuzz ./internal/dnproto FuzzDecodeChunk
fuzz ./internal/wirejson FuzzDecode
fuzz ./internal/dnproto FuzzUnmarshal
fuzz ./internal/rest FuzzQuery
echo "== all tests passed"
