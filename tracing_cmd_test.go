package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `lindungi tracing score|eval` read the same configuration as serve:
// LINDUNGI_TRACING_* and --config reach the scorer, flags override them.
func TestTracingCommandsHonourConfig(t *testing.T) {
	t.Chdir(t.TempDir())
	readings := `{"contact":"a","timestamp":1700000000,"rssi":-80}` + "\n" + // 59 dB with built-in calibration
		`{"contact":"a","timestamp":1700000240,"rssi":-80}` + "\n"
	run := func(args ...string) string {
		t.Helper()
		var out strings.Builder
		if err := realMain(context.Background(), args, strings.NewReader(readings), &out, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	// Defaults: 59 dB is near (≤ 63): two scans of four minutes.
	if got := run("tracing", "score"); !strings.Contains(got, `"weightedMinutes":8`) {
		t.Errorf("defaults: %s", got)
	}
	t.Setenv("LINDUNGI_TRACING_NEAR_DB", "50")
	t.Setenv("LINDUNGI_TRACING_MEDIUM_DB", "55")
	if got := run("tracing", "score"); !strings.Contains(got, `"weightedMinutes":0`) {
		t.Errorf("environment ignored: %s", got)
	}
	cfg := filepath.Join(t.TempDir(), "lindungi.yaml")
	if err := os.WriteFile(cfg, []byte("tracing:\n  min_minutes: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := run("--config", cfg, "tracing", "score", "--near-db", "60", "--medium-db", "62"); !strings.Contains(got, `"weightedMinutes":8,"close":true`) {
		t.Errorf("config file or flags ignored: %s", got)
	}
	if _, err := os.Stat("data"); !os.IsNotExist(err) {
		t.Errorf("tracing score created a data directory: %v", err)
	}
	var out strings.Builder
	err := realMain(context.Background(), []string{"tracing", "eval"}, strings.NewReader(""), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "tracing eval DIR") {
		t.Errorf("eval without DIR: %v", err)
	}
}
