package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `lindungi migrate` on a new data directory makes the key too, so a
// database migrated first and served later starts.
func TestMigrateThenServeKeepsKey(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	var out strings.Builder
	if err := cmdMigrate(ctx, cfg, &out); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(cfg.DataDir, "data.key"))
	if err != nil {
		t.Fatalf("migrate made no key: %v", err)
	}
	a, err := newApp(ctx, cfg, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if after, _ := os.ReadFile(filepath.Join(cfg.DataDir, "data.key")); string(after) != string(key) {
		t.Error("serve replaced the key migrate made")
	}
}

// The same with the real binary: the second `serve` exits non-zero with a
// message naming the first one's PID, and the first keeps serving.
func TestSecondServeRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level start-up test skipped in -short mode")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	addr := freePort(t)
	env := []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false"}
	p := startProc(t, bin, append(env, "LINDUNGI_LISTEN="+addr), "serve")
	defer func() { p.cmd.Process.Kill(); p.cmd.Wait() }()
	waitHealthy(t, addr)
	code, out := runToExit(t, bin, append(env, "LINDUNGI_LISTEN="+freePort(t)), "serve")
	if code == 0 {
		t.Fatalf("second serve exited 0:\n%s", out)
	}
	if want := fmt.Sprintf("pid %d", p.cmd.Process.Pid); !strings.Contains(out, want) || !strings.Contains(out, data) {
		t.Errorf("second serve's message does not name %q and the directory:\n%s", want, out)
	}
	waitHealthy(t, addr) // the first is untouched
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
