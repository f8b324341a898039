package tracing_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"lindungi/internal/app/apptest"
	"lindungi/internal/app/proctest"
)

// procStatus reads a "VmXXX:  1234 kB" line of /proc/PID/status in bytes.
func procStatus(t testing.TB, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + field + `:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s in /proc/%d/status", field, pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// Issue 20's "must show 2": eight 16 MiB upload bodies at once from a
// device without consent raise the real binary's peak RSS by less than
// 64 MB: the device is refused before its body is read. (Before, one such
// body took the process from 55 MB to over 1 GB.) The peak is the kernel's
// VmHWM of the serve process, reset just before the uploads.
func TestRefusedUploadsPeakRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level memory test skipped in -short mode")
	}
	if _, err := os.Stat("/proc/self/clear_refs"); err != nil {
		t.Skip("needs Linux /proc to read and reset the peak RSS")
	}
	bin := proctest.Binary(t)
	data := t.TempDir()
	addr := proctest.FreePort(t)
	token := proctest.AddUser(t, bin, data, "admin", "rss")
	p := proctest.Start(t, bin, []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr, "LINDUNGI_WHATSAPP_ENABLED=false",
		"LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_TRACING_CHANNEL=simulator", "LINDUNGI_SIMULATOR=true"}, "serve")
	proctest.WaitHealthy(t, addr)
	g := &apptest.Gateway{T: t, Base: "http://" + addr, Token: token}
	d := apptest.Register(t, g, "+6281211130001")

	pid := p.Cmd.Process.Pid
	// Settle, then reset the peak to the current RSS.
	apptest.PostUpload(g.Base, d.Token, 1<<10)
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	before := procStatus(t, pid, "VmRSS")
	const n, size = 8, 16 << 20
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); apptest.PostUpload(g.Base, d.Token, size) }()
	}
	wg.Wait()
	peak := procStatus(t, pid, "VmHWM")
	growth := peak - before
	t.Logf("serve RSS before %.1f MB, peak during %d × %d MiB refused uploads %.1f MB: growth %.1f MB",
		float64(before)/1e6, n, size>>20, float64(peak)/1e6, float64(growth)/1e6)
	if growth >= 64e6 {
		t.Errorf("peak RSS grew by %.1f MB, want < 64 MB", float64(growth)/1e6)
	}
	// Each of them reached the handler and was refused (the client may see
	// a closed connection instead of the 403, having more to send).
	if got := apptest.Metric(t, g.Base, `lindungi_tracing_uploads_total{outcome="refused_upload_not_authorised"}`); got != n+1 {
		t.Errorf("%v refusals counted, want %d", got, n+1)
	}
}
