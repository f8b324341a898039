package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"lindungi/store"
)

// buildBinary compiles the real lindungi binary once per test run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func buildBinary(t testing.TB, tags ...string) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lindungi-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "lindungi")
		args := []string{"build", "-o", binPath}
		if len(tags) > 0 {
			args = append(args, "-tags", strings.Join(tags, ","))
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// addUser runs `lindungi user add` with the real binary on data and returns
// the API token it prints.
func addUser(t testing.TB, bin, data, role, name string) string {
	t.Helper()
	out, err := exec.Command(bin, "user", "add", "--role", role, name, "--data", data).CombinedOutput()
	if err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "token: "); ok {
			return v
		}
	}
	t.Fatalf("no token in user add output:\n%s", out)
	return ""
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is one run of the real binary.
type proc struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

func startProc(t testing.TB, bin string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &proc{cmd: cmd, logs: &logs}
}

func waitHealthy(t testing.TB, addr string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatalf("gateway at %s never became healthy", addr)
}

// TestCrashSafetySIGKILL sends 1,000 simulator messages from 50 contacts
// while the real binary is killed with SIGKILL twice, then checks that every
// inbound message is stored exactly once and every reply was handed to the
// channel, none missing, duplicates only with the same ID.
func TestCrashSafetySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level crash test skipped in -short mode")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	addr := freePort(t)
	env := []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr, "LINDUNGI_WHATSAPP_ENABLED=false",
		"LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_BOT_FLOOD_LIMIT=100000", "LINDUNGI_TRACING_CHANNEL=simulator", "LINDUNGI_SIMULATOR=true"}
	token := addUser(t, bin, data, "simulator", "crashtest")

	var mu sync.Mutex
	p := startProc(t, bin, env, "serve")
	waitHealthy(t, addr)
	defer func() {
		mu.Lock()
		p.cmd.Process.Kill()
		p.cmd.Wait()
		mu.Unlock()
	}()

	const contacts, perContact = 50, 20
	var acked atomic.Int64
	post := func(body []byte) error {
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/simulator/messages", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	texts := []string{"halo", "sertifikat saya belum keluar", "menu", "1", "NIK saya dipakai orang lain", "terima kasih", "gmn cara ubah data", "0"}
	var wg sync.WaitGroup
	for c := 0; c < contacts; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for m := 0; m < perContact; m++ {
				body, _ := json.Marshal(map[string]string{"id": fmt.Sprintf("crash-%02d-%02d", c, m), "from": fmt.Sprintf("+62812000%05d", c),
					"name": "Warga", "text": texts[(c+m)%len(texts)]})
				// The client retries until the gateway confirms: the ID makes
				// the retry idempotent.
				for attempt := 0; ; attempt++ {
					if err := post(body); err == nil {
						break
					}
					if attempt > 2000 {
						t.Errorf("message %d/%d never accepted", c, m)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				acked.Add(1)
			}
		}(c)
	}
	// Kill twice mid-stream.
	for _, at := range []int64{300, 650} {
		for acked.Load() < at {
			time.Sleep(5 * time.Millisecond)
		}
		mu.Lock()
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		t.Logf("SIGKILL after %d acknowledged messages", acked.Load())
		p = startProc(t, bin, env, "serve")
		mu.Unlock()
		waitHealthy(t, addr)
	}
	wg.Wait()

	// Let the outbox drain, then stop gracefully and inspect the database.
	db, err := store.Open(context.Background(), store.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	waitOutboxSent(t, db, 60*time.Second, func() string { return "" })
	mu.Lock()
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	mu.Unlock()

	var keys, msgs, distinct int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM inbound_keys WHERE channel = 'simulator'`).Scan(&keys)
	db.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT external_id) FROM messages WHERE direction = 'in'`).Scan(&msgs, &distinct)
	if keys != contacts*perContact || msgs != contacts*perContact || distinct != msgs {
		t.Errorf("inbound: %d keys, %d messages (%d distinct), want %d each", keys, msgs, distinct, contacts*perContact)
	}
	var outRows, delivered, missing, strays, dupDeliveries int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&outRows)
	db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN deliveries > 1 THEN 1 ELSE 0 END), 0) FROM simulator_deliveries`).Scan(&delivered, &dupDeliveries)
	db.QueryRow(ctx, `SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM simulator_deliveries d WHERE d.id = o.id)`).Scan(&missing)
	db.QueryRow(ctx, `SELECT COUNT(*) FROM simulator_deliveries d WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = d.id)`).Scan(&strays)
	var replyless int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM messages o WHERE o.direction = 'out' AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.id = o.external_id)`).Scan(&replyless)
	t.Logf("outbox rows %d, delivered IDs %d, redelivered with the same ID %d", outRows, delivered, dupDeliveries)
	if outRows == 0 || missing != 0 || strays != 0 || delivered != outRows || replyless != 0 {
		t.Errorf("outbound: %d rows, %d delivered, %d missing, %d deliveries without a row, %d logged replies without a row", outRows, delivered, missing, strays, replyless)
	}
}

// waitOutboxSent waits until every outbox row of db is sent; it fails the
// test with the count left (and the process's logs) after within.
func waitOutboxSent(t testing.TB, db *store.DB, within time.Duration, logs func() string) {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		var pending int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE status <> 'sent'`).Scan(&pending)
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d outbox rows never sent\n%s", pending, logs())
		}
	}
}
