# One static granary binary in a minimal image, run as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/granary ./cmd/granary && mkdir -p /out/data /out/secrets

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/granary /usr/local/bin/granary
# The datanodes' volume mount point and the secrets volume's (granary
# secure-init fills it), owned by the user they run as.
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build --chown=65532:65532 /out/secrets /secrets
USER nonroot:nonroot
EXPOSE 9870 9880 9864
ENTRYPOINT ["/usr/local/bin/granary"]
