// Package deploy holds what runs the gateway outside `go run` (the
// Caddyfile of the PostgreSQL compose file) and owns the checks that the
// deployment artefacts agree with the code: the Dockerfile (parsed with
// BuildKit's parser, its release build run in a read-only root), both
// compose files (Compose's loader), the secrets `lindungi secrets init`
// writes for them, and README's configuration table, two commands and
// "Try it". The artefacts themselves stay at the module root, where
// `docker build .`, `docker compose up` and readers look for them.
package deploy
