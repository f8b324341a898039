package tracing_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lindungi/internal/app/proctest"
)

// `lindungi tracing score|eval` (the binary) read the same configuration
// as serve: LINDUNGI_TRACING_* and --config reach the scorer, flags
// override them.
func TestTracingCommandsHonourConfig(t *testing.T) {
	bin := proctest.Binary(t)
	wd := t.TempDir()
	var env []string
	readings := `{"contact":"a","timestamp":1700000000,"rssi":-80}` + "\n" + // 59 dB with built-in calibration
		`{"contact":"a","timestamp":1700000240,"rssi":-80}` + "\n"
	run := func(args ...string) string {
		t.Helper()
		code, out := proctest.RunIn(t, wd, strings.NewReader(readings), bin, env, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
		return out
	}
	// Defaults: 59 dB is near (≤ 63): two scans of four minutes.
	if got := run("tracing", "score"); !strings.Contains(got, `"weightedMinutes":8`) {
		t.Errorf("defaults: %s", got)
	}
	env = []string{"LINDUNGI_TRACING_NEAR_DB=50", "LINDUNGI_TRACING_MEDIUM_DB=55"}
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
	if _, err := os.Stat(filepath.Join(wd, "data")); !os.IsNotExist(err) {
		t.Errorf("tracing score created a data directory: %v", err)
	}
	if code, out := proctest.RunIn(t, wd, strings.NewReader(""), bin, env, "tracing", "eval"); code == 0 || !strings.Contains(out, "tracing eval DIR") {
		t.Errorf("eval without DIR: exit %d\n%s", code, out)
	}
}
