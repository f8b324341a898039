package main

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"lindungi/channels/whatsapp/cloud/graphfake"
	"lindungi/internal/app/proctest"
	"lindungi/store"
)

// TestWhatsAppCloudSIGKILL is issue 17's "must show 3", last part: 500
// webhooks from 50 citizens arrive while the real binary is killed with
// SIGKILL twice; the fake retries what was not answered 2xx, as Meta does.
// Every message is stored exactly once, and every reply reaches the fake
// (a resend after a crash carries the same outbox ID).
func TestWhatsAppCloudSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level crash test skipped in -short mode")
	}
	bin := proctest.Binary(t)
	fake, err := graphfake.New("127.0.0.1:0", graphfake.Options{AccessToken: proctest.CloudToken, AppSecret: proctest.CloudAppSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	data := t.TempDir()
	addr := proctest.FreePort(t)
	env := proctest.CloudEnv(t, fake.URL(), fake.PhoneNumberID(), "LINDUNGI_DATA_DIR="+data, "LINDUNGI_LISTEN="+addr)
	fake.SetWebhookURL("http://" + addr + "/webhooks/whatsapp")
	p := proctest.Start(t, bin, env, "serve")
	proctest.WaitHealthy(t, addr)

	const citizens, each = 50, 10
	texts := []string{"halo", "sertif blm keluar", "menu", "1", "NIK sy dipakai org lain", "terima kasih", "gmn cara ubah data", "0", "batal", "halo lagi"}
	for m := 0; m < each; m++ {
		for c := 0; c < citizens; c++ {
			body, _ := fake.Text(graphfake.Citizen{WaID: fmt.Sprintf("62812300%05d", c), Name: "Warga"}, texts[m])
			fake.Enqueue(body)
		}
	}
	for _, at := range []int{150, 330} {
		for fake.Acked() < at {
			time.Sleep(5 * time.Millisecond)
		}
		p.Kill()
		t.Logf("SIGKILL after %d accepted webhooks", fake.Acked())
		p = proctest.Start(t, bin, env, "serve")
		proctest.WaitHealthy(t, addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := fake.Wait(ctx); err != nil {
		t.Fatalf("webhooks never all accepted: %d of %d", fake.Acked(), citizens*each)
	}
	db, err := store.Open(context.Background(), store.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	proctest.WaitOutboxSent(t, db, 90*time.Second, p.Logs)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	p.Cmd.Wait()

	var keys, msgs, distinct int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM inbound_keys WHERE channel = 'whatsapp'`).Scan(&keys)
	db.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT external_id) FROM messages WHERE direction = 'in'`).Scan(&msgs, &distinct)
	if keys != citizens*each || msgs != citizens*each || distinct != msgs {
		t.Errorf("inbound: %d keys, %d messages (%d distinct), want %d each", keys, msgs, distinct, citizens*each)
	}
	rows, err := db.Query(ctx, `SELECT id FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids[id] = true
	}
	rows.Close()
	got := map[string]int{}
	for _, s := range fake.Sent("") {
		got[s.CallbackData]++
	}
	missing, strays, twice := 0, 0, 0
	for id := range ids {
		if got[id] == 0 {
			missing++
		}
	}
	for id, n := range got {
		if !ids[id] {
			strays++
		}
		if n > 1 {
			twice++
		}
	}
	t.Logf("outbox rows %d, sent to WhatsApp %d, sent twice with the same ID %d", len(ids), len(got), twice)
	if len(ids) == 0 || missing != 0 || strays != 0 {
		t.Errorf("outbound: %d rows, %d never sent, %d sends without a row", len(ids), missing, strays)
	}
}
