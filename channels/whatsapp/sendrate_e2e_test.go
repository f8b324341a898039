package whatsapp_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/channels/whatsapp"
	"lindungi/channels/whatsapp/wafake"
	"lindungi/internal/app"
	"lindungi/internal/app/apptest"
	"lindungi/store"
)

// TestWhatsAppSendRate enqueues 1,000 notifications to 1,000 WhatsApp
// contacts in one transaction with the channel's send rate at 50/s and
// measures, from the fake server's receive times, what the contacts saw.
// It asserts only structure: every message arrived exactly once by ID, and
// no 1-second window holds more than rate + burst (burst = rate in
// channels/outbox.go), which is a property of the token-bucket limiter
// (at most burst + rate·w tokens in any window w), not a timing assertion.
func TestWhatsAppSendRate(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000-message WhatsApp rate run skipped in -short mode")
	}
	const rateCfg, n = 50, 1000
	fake, err := wafake.New("127.0.0.1:0", wafake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	opts := app.Options{WhatsAppTestServer: &whatsapp.TestServer{Addr: fake.Addr(), RootKey: fake.RootKey()}}

	ta := apptest.Start(t, apptest.Config(t, "LINDUNGI_WHATSAPP_ENABLED=true", "LINDUNGI_WHATSAPP_RECIPIENT_GAP=1ms",
		fmt.Sprintf("LINDUNGI_WHATSAPP_SEND_RATE=%d", rateCfg), "LINDUNGI_LOG_LEVEL=info"), opts)
	logs := ta.Logs.String
	var status struct{ State, JID, QR string }
	waitUntil(t, 90*time.Second, "a QR code", logs, func() bool { ta.Call("GET", "/api/v1/whatsapp/status", nil, &status); return status.QR != "" })
	if err := fake.ScanQR(status.QR); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 90*time.Second, "connected", logs, func() bool {
		ta.Call("GET", "/api/v1/whatsapp/status", nil, &status)
		return status.State == "connected"
	})
	waitUntil(t, 90*time.Second, "pre-keys", logs, fake.ReadyForMessages)

	phones := make([]string, n)
	for i := range phones {
		phones[i] = fmt.Sprintf("62813888%05d", i)
		if _, err := fake.AddContact(phones[i], "", fmt.Sprintf("Warga %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	wire := map[string]string{} // WhatsApp ID → recipient digits
	err = ta.DB.InTx(ctx, func(tx *store.Tx) error {
		for i, ph := range phones {
			id, err := ta.Outbox.Enqueue(ctx, tx, channels.Outbound{Channel: channels.WhatsApp, To: "+" + ph, Kind: "prompt",
				Text: fmt.Sprintf("Sijejak: Anda mungkin terpapar (notifikasi %d). Balas MENU untuk bantuan.", i)})
			if err != nil {
				return err
			}
			wire[string(whatsapp.MessageID(id))] = ph
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	allIn := func() bool {
		seen := map[string]bool{}
		for _, r := range fake.Received("") {
			if _, ok := wire[r.ID]; ok {
				seen[r.ID] = true
			}
		}
		return len(seen) == n
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // failure guard only
	defer cancel()
	if err := fake.WaitFor(wctx, allIn); err != nil {
		t.Logf("logs (tail):\n%s", apptest.Tail(logs(), 6000))
		t.Fatalf("only part of the %d notifications arrived: %v", n, err)
	}
	outboxSettled(t, ta)

	recv := fake.Received("")
	count := map[string]int{}
	var at []time.Time
	for _, r := range recv {
		ph, ok := wire[r.ID]
		switch {
		case !ok:
			t.Errorf("message %s at %s has no outbox row", r.ID, r.To)
			continue
		case r.To != ph:
			t.Errorf("message %s went to %s, want %s", r.ID, r.To, ph)
		case r.Err != "":
			t.Errorf("message %s did not decrypt: %s", r.ID, r.Err)
		}
		count[r.ID]++
		at = append(at, r.At)
	}
	dups := 0
	for _, c := range count {
		if c > 1 {
			dups++
		}
	}
	if len(count) != n || dups != 0 {
		t.Errorf("%d distinct IDs arrived (want %d), %d more than once", len(count), n, dups)
	}
	if sent := ta.Count(t, `SELECT COUNT(*) FROM outbox WHERE channel = 'whatsapp' AND status = 'sent'`); sent != n {
		t.Errorf("%d outbox rows sent, want %d", sent, n)
	}

	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	span := at[len(at)-1].Sub(at[0])
	achieved := float64(len(at)-1) / span.Seconds()
	maxWin := 0
	for i, j := 0, 0; i < len(at); i++ {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		maxWin = max(maxWin, i-j+1)
	}
	// The bound's margin: the shortest span holding 2×rate+1 arrivals
	// (the check below fails exactly when it is under one second).
	minSpan := time.Duration(1<<63 - 1)
	for i := 0; i+2*rateCfg < len(at); i++ {
		minSpan = min(minSpan, at[i+2*rateCfg].Sub(at[i]))
	}
	gaps := make([]time.Duration, 0, len(at)-1)
	for i := 1; i < len(at); i++ {
		gaps = append(gaps, at[i].Sub(at[i-1]))
	}
	slices.Sort(gaps)
	pct := func(p float64) time.Duration { return gaps[int(p*float64(len(gaps)-1))] }
	t.Logf("configured %d/s (burst %d): %d messages over %v = %.1f msg/s achieved (first to last arrival); max in any 1 s window %d; inter-arrival gap p50 %v, p99 %v, max %v; shortest span of %d arrivals %v",
		rateCfg, rateCfg, len(at), span.Round(time.Millisecond), achieved, maxWin, pct(0.50), pct(0.99), gaps[len(gaps)-1], 2*rateCfg+1, minSpan)
	// Limiter property (token bucket: at most burst + rate·w sends START in
	// any window w), not a timing assertion. We observe arrivals, not starts,
	// so the window is widened by 200 ms of send-to-arrival jitter:
	// burst + rate·1.2 s. A limiter that did not pace would put all 1,000
	// into the first second or two and fail by an order of magnitude.
	if limit := 2*rateCfg + rateCfg/5; maxWin > limit {
		t.Errorf("%d messages arrived within one second, more than burst + rate·1.2 s = %d", maxWin, limit)
	}
}

// waitUntil polls cond; the deadline is a failure guard only.
func waitUntil(t testing.TB, guard time.Duration, what string, logs func() string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(guard); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			if logs != nil {
				t.Logf("logs (tail):\n%s", apptest.Tail(logs(), 6000))
			}
			t.Fatalf("waiting for %s", what)
		}
	}
}

// outboxSettled waits until no outbox row is queued or being sent.
func outboxSettled(t testing.TB, ta *apptest.Gateway) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for ta.Count(t, `SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sending')`) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox never drained")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
