package email_test

import (
	"os"
	"testing"

	"lindungi/internal/app"
)

// TestMain runs the tests and benchmarks (the e-mail import benchmark,
// the large-mail RSS test) with the garbage-collector settings serve
// applies, so what they measure is the process as deployed.
func TestMain(m *testing.M) {
	app.TuneGC(os.Getenv, "/")
	os.Exit(m.Run())
}
