package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"lindungi/channels/whatsapp/cloud/graphfake"
	"lindungi/store"
)

// The Cloud API credentials of the fake Graph API (channels/whatsapp/cloud's
// end-to-end tests use the same).
const (
	cloudToken     = "EAAGcloudTokenNeverLogged0123456789abcdef"
	cloudAppSecret = "cloud-app-secret-0123456789"
	cloudVerify    = "cloud-verify-token-0123"
)

// cloudEnv is the environment of a real `lindungi serve` on the Cloud API
// provider, pointed at fake.
func cloudEnv(t testing.TB, fake *graphfake.Server, extra ...string) []string {
	t.Helper()
	dir := t.TempDir()
	file := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return append([]string{"LINDUNGI_WHATSAPP_ENABLED=true", "LINDUNGI_WHATSAPP_PROVIDER=cloud",
		"LINDUNGI_WHATSAPP_CLOUD_PHONE_NUMBER_ID=" + fake.PhoneNumberID(),
		"LINDUNGI_WHATSAPP_CLOUD_ACCESS_TOKEN_FILE=" + file("token", cloudToken),
		"LINDUNGI_WHATSAPP_CLOUD_APP_SECRET_FILE=" + file("secret", cloudAppSecret),
		"LINDUNGI_WHATSAPP_CLOUD_VERIFY_TOKEN_FILE=" + file("verify", cloudVerify),
		"LINDUNGI_WHATSAPP_CLOUD_API_URL=" + fake.URL(), "LINDUNGI_WHATSAPP_SEND_RATE=10000",
		"LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_BOT_FLOOD_LIMIT=100000", "LINDUNGI_SIMULATOR=false"}, extra...)
}

// TestWhatsAppCloudSIGKILL is issue 17's "must show 3", last part: 500
// webhooks from 50 citizens arrive while the real binary is killed with
// SIGKILL twice; the fake retries what was not answered 2xx, as Meta does.
// Every message is stored exactly once, and every reply reaches the fake
// (a resend after a crash carries the same outbox ID).
func TestWhatsAppCloudSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level crash test skipped in -short mode")
	}
	bin := buildBinary(t)
	fake, err := graphfake.New("127.0.0.1:0", graphfake.Options{AccessToken: cloudToken, AppSecret: cloudAppSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	data := t.TempDir()
	addr := freePort(t)
	env := cloudEnv(t, fake, "LINDUNGI_DATA_DIR="+data, "LINDUNGI_LISTEN="+addr)
	fake.SetWebhookURL("http://" + addr + "/webhooks/whatsapp")
	p := startProc(t, bin, env, "serve")
	waitHealthy(t, addr)
	defer func() { p.cmd.Process.Kill(); p.cmd.Wait() }()

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
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		t.Logf("SIGKILL after %d accepted webhooks", fake.Acked())
		p = startProc(t, bin, env, "serve")
		waitHealthy(t, addr)
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
	waitOutboxSent(t, db, 90*time.Second, p.logs.String)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

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
