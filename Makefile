.PHONY: dev test build openapi bench

dev:        ## run the whole cluster in one process
	go run ./cmd/granary dev

test:       ## the test command (CI runs the same)
	scripts/test.sh

build:
	CGO_ENABLED=0 go build -o bin/granary ./cmd/granary

openapi:    ## regenerate openapi/ from the swag annotations
	scripts/openapi.sh

bench:      ## namespace throughput benchmark
	go run ./cmd/granary bench nn -op all
