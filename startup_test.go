package main

import (
	"database/sql"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lindungi/internal/app/proctest"
	"lindungi/store/storetest"
)

// Bad input at start-up: the real binary exits non-zero with a message that
// names the problem (never a panic, never a secret), for each case of the
// foundation issue's list.
func TestStartupBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level start-up tests skipped in -short mode")
	}
	bin := proctest.Binary(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	base := []string{"LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false"}
	cases := []struct {
		name  string
		env   func(t *testing.T) []string
		args  []string
		want  string
		never string
	}{
		{"unknown config key", func(t *testing.T) []string {
			p := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(p, []byte("listn: 127.0.0.1:9\n"), 0o600)
			return []string{"LINDUNGI_DATA_DIR=" + t.TempDir(), "LINDUNGI_CONFIG=" + p}
		}, nil, "listn", ""},
		{"bad env value", func(t *testing.T) []string {
			return []string{"LINDUNGI_DATA_DIR=" + t.TempDir(), "LINDUNGI_BOT_FLOOD_LIMIT=lots"}
		}, nil, "LINDUNGI_BOT_FLOOD_LIMIT", ""},
		{"database that cannot be reached", func(t *testing.T) []string {
			return []string{"LINDUNGI_DATABASE_URL=postgres://lindungi:rahasia-sekali@127.0.0.1:1/none?sslmode=disable"}
		}, nil, "127.0.0.1", "rahasia-sekali"},
		{"listen address in use", func(t *testing.T) []string {
			return []string{"LINDUNGI_DATA_DIR=" + t.TempDir(), "LINDUNGI_LISTEN=" + taken.Addr().String()}
		}, nil, "address already in use", ""},
		{"read-only data directory", func(t *testing.T) []string {
			return []string{"LINDUNGI_DATA_DIR=" + storetest.Tmpfs(t, "4m", "ro")}
		}, nil, "not writable", ""},
		{"full disk", func(t *testing.T) []string {
			return []string{"LINDUNGI_DATA_DIR=" + storetest.Tmpfs(t, "48k")}
		}, nil, "is full", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := append(append([]string{}, base...), c.env(t)...)
			args := append([]string{"serve"}, c.args...)
			for i, e := range env {
				if v, ok := strings.CutPrefix(e, "LINDUNGI_CONFIG="); ok {
					env = append(env[:i], env[i+1:]...)
					args = append(args, "--config", v)
					break
				}
			}
			code, out := proctest.Run(t, bin, env, args...)
			if code == 0 {
				t.Fatalf("exit 0, want failure:\n%s", out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("output does not mention %q:\n%s", c.want, out)
			}
			if c.never != "" && strings.Contains(out, c.never) {
				t.Errorf("output leaks %q:\n%s", c.never, out)
			}
			if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
				t.Errorf("panic at start-up:\n%s", out)
			}
		})
	}
}

// A disk that fills up while the gateway runs: readiness reports it, a
// message that cannot be stored is refused with 503 storage_full (nothing
// half-written, the process keeps running), and once space is freed the
// same message is accepted and stored exactly once.
func TestFullDiskAtRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level full-disk test skipped in -short mode")
	}
	bin := proctest.Binary(t)
	data := storetest.Tmpfs(t, "96m")
	addr := proctest.FreePort(t)
	token := proctest.AddUser(t, bin, data, "simulator", "disk")
	p := proctest.Start(t, bin, []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr, "LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_SIMULATOR=true"}, "serve")
	proctest.WaitHealthy(t, addr)

	post := func(id, text string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/simulator/messages",
			strings.NewReader(`{"id":"`+id+`","from":"+6281299990000","text":"`+text+`"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body.Error.Code
	}
	ready := func() (int, string) {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ Disk string }
		json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body.Disk
	}
	if st, _ := post("d1", "halo"); st != http.StatusAccepted {
		t.Fatalf("first message: %d", st)
	}
	if st, disk := ready(); st != 200 || disk != "ok" {
		t.Fatalf("readyz before filling: %d disk=%q", st, disk)
	}

	// Fill the disk to the last block.
	ballast := filepath.Join(data, "ballast")
	f, err := os.Create(ballast)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	for n := 4096; n > 0; n /= 2 {
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	f.Close()

	if st, disk := ready(); st != http.StatusServiceUnavailable || disk != "full" {
		t.Errorf("readyz on a full disk: %d disk=%q, want 503 full", st, disk)
	}
	// SQLite may still fit a small write into pages it already has; keep
	// writing until one is refused.
	refusedID := ""
	for i := 0; i < 200 && refusedID == ""; i++ {
		id := "full-" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + time.Now().Format("150405.000000")
		st, code := post(id, strings.Repeat("sertifikat saya belum keluar ", 40))
		switch {
		case st == http.StatusServiceUnavailable && code == "storage_full":
			refusedID = id
		case st != http.StatusAccepted:
			t.Fatalf("message on a full disk: %d %q, want 202 or 503 storage_full", st, code)
		}
	}
	if refusedID == "" {
		t.Fatal("no write was refused on a full disk")
	}
	if err := p.Cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("process died on a full disk: %v\n%s", err, p.Logs())
	}

	os.Remove(ballast)
	if st, disk := ready(); st != 200 || disk != "ok" {
		t.Errorf("readyz after freeing space: %d disk=%q", st, disk)
	}
	if st, code := post(refusedID, "sertifikat saya belum keluar"); st != http.StatusAccepted {
		t.Fatalf("retry after freeing space: %d %q", st, code)
	}
	if st, _ := post(refusedID, "sertifikat saya belum keluar"); st != http.StatusAccepted {
		t.Fatalf("duplicate retry: %d", st)
	}
	p.Kill()
	// Stored exactly once, read straight from the file.
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(data, "lindungi.db")+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM inbound_keys WHERE external_id = ?`, refusedID).Scan(&n); err != nil || n != 1 {
		t.Errorf("refused-then-retried message has %d dedupe keys (%v), want 1", n, err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM messages WHERE external_id = ?`, refusedID).Scan(&n); err != nil || n != 1 {
		t.Errorf("refused-then-retried message stored %d times (%v), want 1", n, err)
	}
}
