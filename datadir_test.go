package main

import (
	"fmt"
	"strings"
	"testing"

	"lindungi/internal/app/proctest"
)

// A second `serve` on the same data directory exits non-zero with a
// message naming the first one's PID, and the first keeps serving.
func TestSecondServeRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level start-up test skipped in -short mode")
	}
	bin := proctest.Binary(t)
	data := t.TempDir()
	addr := proctest.FreePort(t)
	env := []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false"}
	p := proctest.Start(t, bin, append(env, "LINDUNGI_LISTEN="+addr), "serve")
	proctest.WaitHealthy(t, addr)
	code, out := proctest.Run(t, bin, append(env, "LINDUNGI_LISTEN="+proctest.FreePort(t)), "serve")
	if code == 0 {
		t.Fatalf("second serve exited 0:\n%s", out)
	}
	if want := fmt.Sprintf("pid %d", p.Cmd.Process.Pid); !strings.Contains(out, want) || !strings.Contains(out, data) {
		t.Errorf("second serve's message does not name %q and the directory:\n%s", want, out)
	}
	proctest.WaitHealthy(t, addr) // the first is untouched
}
