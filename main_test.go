package main

import (
	"os"
	"testing"
)

// TestMain runs the tests with the garbage-collector settings serve
// applies (gc.go), so what they measure is the process as deployed.
func TestMain(m *testing.M) {
	tuneGC(os.Getenv, "/")
	os.Exit(m.Run())
}
