package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"lindungi/internal/app/proctest"
	"lindungi/testlog"
)

// serveOnce runs serve until it is healthy, stops it with SIGTERM and
// returns its stdout and stderr.
func serveOnce(t *testing.T, bin string, env []string, addr string, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb testlog.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	proctest.WaitHealthy(t, addr)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	return out.String(), errb.String()
}

// The start that creates the database tells the operator what to do next
// (first admin, console, data key), once; in JSON log mode nothing but
// JSON reaches the process's output.
func TestFirstStartPrintsNextStepsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	bin := proctest.Binary(t)
	base := []string{"LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_SIMULATOR=true"}

	t.Run("text", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		addr := proctest.FreePort(t)
		out, _ := serveOnce(t, bin, base, addr, "--data", data, "--listen", addr)
		for _, want := range []string{
			"lindungi user add --role admin NAME --data " + data + " --listen " + addr,
			"Console:   http://" + addr + "/",
			filepath.Join(data, "data.key"),
			"lindungi chat --data " + data,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("first start does not say %q:\n%s", want, out)
			}
		}
		again, _ := serveOnce(t, bin, base, addr, "--data", data, "--listen", addr)
		if strings.Contains(again, "first time") || strings.Contains(again, "user add") {
			t.Errorf("the second start repeats the first-start steps:\n%s", again)
		}
	})
	t.Run("json", func(t *testing.T) {
		addr := proctest.FreePort(t)
		env := append([]string{"LINDUNGI_LOG_FORMAT=json", "LINDUNGI_DATA_DIR=" + t.TempDir(), "LINDUNGI_LISTEN=" + addr}, base...)
		out, errs := serveOnce(t, bin, env, addr)
		var sawFirst bool
		for _, line := range strings.Split(strings.TrimSpace(out+"\n"+errs), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Errorf("not a JSON line in JSON log mode: %q", line)
				continue
			}
			if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, "first start") {
				sawFirst = true
			}
		}
		if !sawFirst {
			t.Errorf("no first-start log record:\n%s%s", out, errs)
		}
	})
}
