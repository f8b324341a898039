package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"lindungi/channels/whatsapp"
	"lindungi/channels/whatsapp/wafake"
	"lindungi/internal/app/apptest"
	"lindungi/internal/app/proctest"
	"lindungi/store"
)

// TestWhatsAppProcessSIGKILL runs the real binary (built with -tags wafake)
// against the fake WhatsApp server in the test process, pairs it by QR,
// lets 25 fake contacts write 500 messages and SIGKILLs the process once in
// the middle of the burst. After the restart (the paired device is in the
// database, no QR) WhatsApp redelivers what was not receipted. Every inbound
// message must be stored exactly once, every outbox row sent, and the
// contacts must have received exactly the outbox IDs (repeats only with the
// same ID).
func TestWhatsAppProcessSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level WhatsApp crash test skipped in -short mode")
	}
	bin := proctest.Binary(t, "wafake")
	fake, err := wafake.New("127.0.0.1:0", wafake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()

	data := t.TempDir()
	addr := proctest.FreePort(t)
	env := proctest.WhatsAppEnv(fake, data, addr, "LINDUNGI_BOT_FLOOD_LIMIT=100000", "LINDUNGI_WHATSAPP_RECIPIENT_GAP=1ms")
	token := proctest.AddUser(t, bin, data, "admin", "watest")

	var mu sync.Mutex // guards p
	p := proctest.Start(t, bin, env, "serve")
	logs := func() string { mu.Lock(); defer mu.Unlock(); return p.Logs() }
	proctest.WaitHealthy(t, addr)

	var status struct{ State, JID, QR string }
	getStatus := func() bool {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/whatsapp/status", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		status = struct{ State, JID, QR string }{}
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&status) == nil
	}
	proctest.WaitUntil(t, 90*time.Second, "a QR code", logs, func() bool { return getStatus() && status.QR != "" })
	if err := fake.ScanQR(status.QR); err != nil {
		t.Fatal(err)
	}
	proctest.WaitUntil(t, 90*time.Second, "connected", logs, func() bool { return getStatus() && status.State == "connected" })
	proctest.WaitUntil(t, 90*time.Second, "pre-keys", logs, fake.ReadyForMessages)

	// Progress is read from the SQLite file, read-only, while the process writes.
	ro, err := sql.Open("sqlite3", "file:"+filepath.Join(data, "lindungi.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	stored := func() int {
		var n int
		if err := ro.QueryRow(`SELECT COUNT(*) FROM inbound_keys WHERE channel = 'whatsapp'`).Scan(&n); err != nil {
			return -1
		}
		return n
	}

	const nContacts, perContact = 25, 20
	const total = nContacts * perContact
	texts := []string{"halo", "sertifikat saya belum keluar", "menu", "1", "terima kasih", "gmn cara ubah data", "NIK saya dipakai orang lain", "0"}
	contacts := make([]*wafake.Contact, nContacts)
	for i := range contacts {
		ct, err := fake.AddContact(fmt.Sprintf("62812777%05d", i), "", fmt.Sprintf("Warga %d", i))
		if err != nil {
			t.Fatal(err)
		}
		contacts[i] = ct
	}
	var (
		sent   atomic.Int64
		wg     sync.WaitGroup
		sendMu sync.Mutex
		ids    = map[string]bool{}
	)
	for i, ct := range contacts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := 0; m < perContact; m++ {
				id, err := ct.SendText(texts[(i+m)%len(texts)], wafake.SendOptions{})
				if err != nil {
					t.Errorf("contact %d message %d: %v", i, m, err)
					return
				}
				sendMu.Lock()
				ids[id] = true
				sendMu.Unlock()
				sent.Add(1)
			}
		}()
	}

	// SIGKILL once, mid-burst, after ~200 messages are stored.
	proctest.WaitUntil(t, 120*time.Second, "200 stored messages", logs, func() bool { return stored() >= 200 })
	mu.Lock()
	p.Kill()
	atKill, sentAtKill, pendingAtKill := stored(), sent.Load(), fake.Pending()
	t.Logf("SIGKILL: %d stored, %d written by contacts, %d not receipted at the fake", atKill, sentAtKill, pendingAtKill)
	firstLogs := p.Logs()
	p = proctest.Start(t, bin, env, "serve")
	mu.Unlock()
	proctest.WaitHealthy(t, addr)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if len(ids) != total {
		t.Fatalf("contacts wrote %d distinct IDs, want %d", len(ids), total)
	}

	// The restart must reconnect from the stored session, without a QR.
	proctest.WaitUntil(t, 90*time.Second, "connected after restart", logs, func() bool { return getStatus() && status.State == "connected" })
	if status.QR != "" {
		t.Errorf("restart asked for a QR code: %+v", status)
	}
	proctest.WaitUntil(t, 120*time.Second, "all messages stored", logs, func() bool { return stored() >= total })
	proctest.WaitUntil(t, 120*time.Second, "every message receipted", logs, func() bool { return fake.Pending() == 0 })
	proctest.WaitUntil(t, 120*time.Second, "the outbox drained", logs, func() bool {
		var n int
		return ro.QueryRow(`SELECT COUNT(*) FROM outbox WHERE channel = 'whatsapp' AND status <> 'sent'`).Scan(&n) == nil && n == 0
	})
	mu.Lock()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	p.Cmd.Wait()
	secondLogs := p.Logs()
	mu.Unlock()

	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string, args ...any) int {
		var n int
		if err := db.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	keys := count(`SELECT COUNT(*) FROM inbound_keys WHERE channel = 'whatsapp'`)
	var msgs, distinct int
	db.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT external_id) FROM messages WHERE direction = 'in' AND channel = 'whatsapp'`).Scan(&msgs, &distinct)
	if keys != total || msgs != total || distinct != total {
		t.Errorf("inbound: %d keys, %d messages (%d distinct), want %d each", keys, msgs, distinct, total)
	}
	// Every stored external ID is one the contacts wrote.
	rows, err := db.Query(ctx, `SELECT external_id FROM messages WHERE direction = 'in' AND channel = 'whatsapp'`)
	if err != nil {
		t.Fatal(err)
	}
	unknown := 0
	for rows.Next() {
		var id string
		rows.Scan(&id)
		if !ids[id] {
			unknown++
		}
	}
	rows.Close()
	if unknown != 0 {
		t.Errorf("%d stored inbound messages have an ID no contact wrote", unknown)
	}

	outRows := count(`SELECT COUNT(*) FROM outbox WHERE channel = 'whatsapp'`)
	notSent := count(`SELECT COUNT(*) FROM outbox WHERE channel = 'whatsapp' AND status <> 'sent'`)
	byWire := map[string]string{} // WhatsApp ID → outbox ID
	rows, err = db.Query(ctx, `SELECT id FROM outbox WHERE channel = 'whatsapp'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		byWire[string(whatsapp.MessageID(id))] = id
	}
	rows.Close()
	got := map[string]int{}
	strays := 0
	for _, r := range fake.Received("") {
		if r.Err != "" {
			t.Errorf("message %s at %s did not decrypt: %s", r.ID, r.To, r.Err)
		}
		if _, ok := byWire[r.ID]; !ok {
			strays++
			continue
		}
		got[r.ID]++
	}
	missing, repeated := 0, 0
	for wire := range byWire {
		switch n := got[wire]; {
		case n == 0:
			missing++
		case n > 1:
			repeated++
		}
	}
	t.Logf("inbound: %d written, %d keys, %d messages (%d distinct); outbox: %d rows, %d not sent; at the contacts: %d IDs, %d repeated with the same ID, %d missing, %d without a row; logins at the fake: %d",
		total, keys, msgs, distinct, outRows, notSent, len(got), repeated, missing, strays, fake.Logins())
	if outRows == 0 || notSent != 0 || missing != 0 || strays != 0 {
		t.Errorf("outbound: %d rows, %d not sent, %d missing at the contacts, %d received without a row", outRows, notSent, missing, strays)
	}
	if t.Failed() {
		t.Logf("first run logs (tail):\n%s", apptest.Tail(firstLogs, 6000))
		t.Logf("second run logs (tail):\n%s", apptest.Tail(secondLogs, 6000))
	}
}
