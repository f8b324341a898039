package main

import "lindungi/internal/app"

// tuneGC applies serve's garbage-collector defaults. They live in
// internal/app (app.TuneGC, with their reasons and tests) so that the
// packages whose tests measure memory and throughput (channels/email,
// internal/app) run with the same settings as the process they measure.
func tuneGC(getenv func(string) string, root string) app.GCSettings { return app.TuneGC(getenv, root) }
