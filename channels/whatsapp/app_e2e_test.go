package whatsapp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"lindungi/channels/whatsapp"
	"lindungi/channels/whatsapp/wafake"
	"lindungi/internal/app"
	"lindungi/internal/app/apptest"
	"lindungi/testlog"
)

// TestWhatsAppEndToEnd is issue 5's "must show 1" through the whole app:
// the real whatsmeow client inside `lindungi` pairs with the fake WhatsApp
// server by QR; a contact's "halo" gets the bot's greeting, decrypted at the
// contact; a hand-off makes a ticket keyed by the contact's E.164 number;
// the operator's reply over the API reaches the contact; a photo from the
// contact is stored as an attachment on the ticket.
func TestWhatsAppEndToEnd(t *testing.T) {
	fake, err := wafake.New("127.0.0.1:0", wafake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	opts := app.Options{WhatsAppTestServer: &whatsapp.TestServer{Addr: fake.Addr(), RootKey: fake.RootKey()}}

	ta := apptest.Start(t, apptest.Config(t, "LINDUNGI_WHATSAPP_ENABLED=true", "LINDUNGI_WHATSAPP_RECIPIENT_GAP=1ms"), opts)
	// Poll: some conditions change in the client, not on the fake server.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(90 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) { // failure guard only
			if time.Now().After(deadline) {
				t.Logf("app log:\n%s", ta.Logs.String())
				t.Fatalf("waiting for %s", what)
			}
		}
	}
	var status struct{ State, JID, QR string }
	waitFor("a QR code", func() bool { ta.Call("GET", "/api/v1/whatsapp/status", nil, &status); return status.QR != "" })
	if status.State != "pairing" {
		t.Fatalf("status while pairing: %+v", status)
	}
	if err := fake.ScanQR(status.QR); err != nil {
		t.Fatal(err)
	}
	waitFor("connected", func() bool {
		ta.Call("GET", "/api/v1/whatsapp/status", nil, &status)
		return status.State == "connected"
	})
	waitFor("pre-keys", fake.ReadyForMessages)

	ct, err := fake.AddContact("6281233334444", "", "Budi")
	if err != nil {
		t.Fatal(err)
	}
	received := func(substr string) func() bool {
		return func() bool {
			for _, r := range fake.Received(ct.Phone) {
				if strings.Contains(r.Text, substr) {
					return true
				}
			}
			return false
		}
	}
	if _, err := ct.SendText("halo", wafake.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the greeting at the contact", received("Selamat datang"))

	if _, err := ct.SendText("saya mau bicara dengan petugas", wafake.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the hand-off reply", received("PL-"))
	var list apptest.TicketList
	ta.Call("GET", "/api/v1/tickets?channel=whatsapp", nil, &list)
	if len(list.Tickets) != 1 || list.Tickets[0].Contact != "+6281233334444" || !list.Tickets[0].HandedOff {
		t.Fatalf("tickets: %+v", list.Tickets)
	}
	number := list.Tickets[0].ID

	photo := append([]byte("\xff\xd8\xff\xe0"), []byte(strings.Repeat("foto ktp ", 100))...)
	if _, err := ct.SendImage(photo, "image/jpeg", "ini foto KTP saya", wafake.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	var d apptest.TicketDetail
	waitFor("the photo on the ticket", func() bool {
		ta.Call("GET", "/api/v1/tickets/"+number, nil, &d)
		for _, m := range d.Ticket.Messages {
			if len(m.Attachments) > 0 {
				return true
			}
		}
		return false
	})

	if code := ta.Call("POST", "/api/v1/tickets/"+number+"/replies", map[string]string{"text": "Selamat siang Pak Budi, kami periksa datanya."}, nil); code != http.StatusCreated {
		t.Fatalf("reply: %d", code)
	}
	waitFor("the operator's reply at the contact", received("kami periksa datanya"))
	// The message ID WhatsApp saw is the outbox row's stable ID.
	var outboxIDs []string
	rows, _ := ta.DB.Query(context.Background(), `SELECT id FROM outbox WHERE channel = 'whatsapp'`)
	for rows.Next() {
		var id string
		rows.Scan(&id)
		outboxIDs = append(outboxIDs, id)
	}
	rows.Close()
	for _, r := range fake.Received(ct.Phone) {
		found := false
		for _, id := range outboxIDs {
			if string(whatsapp.MessageID(id)) == r.ID {
				found = true
			}
		}
		if !found {
			t.Errorf("message %s at the contact has no outbox row with that ID", r.ID)
		}
	}
	testlog.AssertClean(t, ta.Logs.String(), "6281233334444", "kami periksa datanya", "foto KTP")
}

// BenchmarkWhatsAppPipeline measures inbound messages from the fake server
// through the whole app (whatsmeow decrypt → bot → ticket store → outbox →
// whatsmeow encrypt) to the reply received back at the fake contact: one
// "halo" per contact, all contacts writing at once. It reports messages/s
// and p50/p99 latency from send to reply.
//
//	go test -run '^$' -bench WhatsAppPipeline -benchtime 300x ./channels/whatsapp/
func BenchmarkWhatsAppPipeline(b *testing.B) {
	fake, err := wafake.New("127.0.0.1:0", wafake.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close()
	opts := app.Options{WhatsAppTestServer: &whatsapp.TestServer{Addr: fake.Addr(), RootKey: fake.RootKey()}}
	cfg := apptest.Config(b, "LINDUNGI_WHATSAPP_ENABLED=true", "LINDUNGI_WHATSAPP_RECIPIENT_GAP=1ms",
		"LINDUNGI_WHATSAPP_SEND_RATE=100000", "LINDUNGI_LOG_LEVEL=error", "LINDUNGI_JOBS_ENABLED=false")
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, io.Discard, opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	poll := func(what string, cond func() bool) {
		for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("waiting for %s", what)
			}
		}
	}
	poll("a QR code", func() bool { return a.WhatsApp.Status().QR != "" })
	if err := fake.ScanQR(a.WhatsApp.Status().QR); err != nil {
		b.Fatal(err)
	}
	poll("connected", func() bool { return a.WhatsApp.Status().State == "connected" })
	poll("pre-keys", fake.ReadyForMessages)

	n := b.N
	cts := make([]*wafake.Contact, n)
	for i := range cts {
		if cts[i], err = fake.AddContact(fmt.Sprintf("628129%07d", i), "", "Warga"); err != nil {
			b.Fatal(err)
		}
	}
	sent := make([]time.Time, n)
	b.ResetTimer()
	start := time.Now()
	for i, ct := range cts {
		sent[i] = time.Now()
		if _, err := ct.SendText("halo", wafake.SendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]float64, n)
	poll("every reply", func() bool {
		for i, ct := range cts {
			if lat[i] != 0 {
				continue
			}
			if rs := fake.Received(ct.Phone); len(rs) > 0 {
				lat[i] = rs[0].At.Sub(sent[i]).Seconds() * 1000
			} else {
				return false
			}
		}
		return true
	})
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Float64s(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(lat[n/2], "p50-ms")
	b.ReportMetric(lat[n*99/100], "p99-ms")
}

// TestWhatsAppLogoutHoldsThenRepair is issue 5's "must show 2" at the app
// level: after a 401 logout the channel reports logged_out, an operator's
// reply stays queued in the outbox (not dead-lettered), and once the number
// is paired again (after a restart, as an operator would do) the held reply
// arrives with its original ID.
func TestWhatsAppLogoutHoldsThenRepair(t *testing.T) {
	fake, err := wafake.New("127.0.0.1:0", wafake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	opts := app.Options{WhatsAppTestServer: &whatsapp.TestServer{Addr: fake.Addr(), RootKey: fake.RootKey()}}
	cfg := apptest.Config(t, "LINDUNGI_WHATSAPP_ENABLED=true", "LINDUNGI_WHATSAPP_RECIPIENT_GAP=1ms")
	poll := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(90 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) { // failure guard only
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
		}
	}
	pair := func(ta *apptest.Gateway) {
		t.Helper()
		var st struct{ State, QR string }
		poll("a QR code", func() bool { ta.Call("GET", "/api/v1/whatsapp/status", nil, &st); return st.QR != "" })
		if err := fake.ScanQR(st.QR); err != nil {
			t.Fatal(err)
		}
		poll("connected", func() bool { ta.Call("GET", "/api/v1/whatsapp/status", nil, &st); return st.State == "connected" })
		poll("pre-keys", fake.ReadyForMessages)
	}
	ta := apptest.Start(t, cfg, opts)
	pair(ta)
	ct, err := fake.AddContact("6281255556666", "", "Sari")
	if err != nil {
		t.Fatal(err)
	}
	ct.SendText("saya mau bicara dengan petugas", wafake.SendOptions{})
	var list apptest.TicketList
	poll("the hand-off ticket", func() bool {
		ta.Call("GET", "/api/v1/tickets?channel=whatsapp", nil, &list)
		return len(list.Tickets) == 1
	})
	number := list.Tickets[0].ID

	fake.LogoutAll()
	var st struct{ State string }
	poll("logged_out", func() bool { ta.Call("GET", "/api/v1/whatsapp/status", nil, &st); return st.State == "logged_out" })
	if code := ta.Call("POST", "/api/v1/tickets/"+number+"/replies", map[string]string{"text": "Balasan yang tertahan"}, nil); code != 201 {
		t.Fatalf("reply: %d", code)
	}
	var id, status string
	var attempts int
	poll("a send attempt", func() bool {
		ta.DB.QueryRow(context.Background(), `SELECT id, status, attempts FROM outbox WHERE channel = 'whatsapp' AND kind = 'reply' AND ticket_id IS NOT NULL ORDER BY created_at DESC LIMIT 1`).Scan(&id, &status, &attempts)
		return status == "queued"
	})
	// The worker has really tried (and been told "not ready") before we
	// check that the row is still queued with no attempt spent.
	poll("a not-ready send", func() bool {
		resp, err := http.Get(ta.Base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `lindungi_outbox_failures_total{channel="whatsapp",reason="not_ready"}`)
	})
	ta.DB.QueryRow(context.Background(), `SELECT status, attempts FROM outbox WHERE id = ?`, id).Scan(&status, &attempts)
	if status != "queued" || attempts != 0 {
		t.Fatalf("while logged out the reply is %s after %d attempts, want queued with 0", status, attempts)
	}

	ta.Stop()
	ta2 := apptest.Start(t, cfg, opts)
	pair(ta2)
	poll("the held reply at the contact", func() bool {
		for _, r := range fake.Received(ct.Phone) {
			if strings.Contains(r.Text, "Balasan yang tertahan") {
				if r.ID != string(whatsapp.MessageID(id)) {
					t.Fatalf("held reply arrived with ID %s, want %s", r.ID, whatsapp.MessageID(id))
				}
				return true
			}
		}
		return false
	})
}
