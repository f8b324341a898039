package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"lindungi/internal/app/proctest"
	"lindungi/store"
)

// TestCrashSafetySIGKILL sends 1,000 simulator messages from 50 contacts
// while the real binary is killed with SIGKILL twice, then checks that every
// inbound message is stored exactly once and every reply was handed to the
// channel, none missing, duplicates only with the same ID.
func TestCrashSafetySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level crash test skipped in -short mode")
	}
	bin := proctest.Binary(t)
	data := t.TempDir()
	addr := proctest.FreePort(t)
	env := []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr, "LINDUNGI_WHATSAPP_ENABLED=false",
		"LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_BOT_FLOOD_LIMIT=100000", "LINDUNGI_TRACING_CHANNEL=simulator", "LINDUNGI_SIMULATOR=true"}
	token := proctest.AddUser(t, bin, data, "simulator", "crashtest")

	var mu sync.Mutex
	p := proctest.Start(t, bin, env, "serve")
	proctest.WaitHealthy(t, addr)

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
		p.Kill()
		t.Logf("SIGKILL after %d acknowledged messages", acked.Load())
		p = proctest.Start(t, bin, env, "serve")
		mu.Unlock()
		proctest.WaitHealthy(t, addr)
	}
	wg.Wait()

	// Let the outbox drain, then stop gracefully and inspect the database.
	db, err := store.Open(context.Background(), store.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	proctest.WaitOutboxSent(t, db, 60*time.Second, func() string { return "" })
	mu.Lock()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	p.Cmd.Wait()
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
