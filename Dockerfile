# syntax=docker/dockerfile:1
# Build: cgo is needed for SQLite (mattn/go-sqlite3).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# No build tags: the wafake test seam is never in a release image. .ci/run
# builds with this very command (dockerfile_test.go reads it from here) and
# runs the result as the runtime image would.
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/lindungi . \
 && mkdir -p /out/data

# Run: distroless with glibc (cgo), non-root, data on a volume. The time
# zone database is in the binary (time/tzdata).
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/lindungi /lindungi
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV LINDUNGI_DATA_DIR=/data \
    LINDUNGI_LISTEN=0.0.0.0:8080 \
    LINDUNGI_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["/lindungi", "healthcheck"]
ENTRYPOINT ["/lindungi"]
CMD ["serve"]
