package whatsapp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/channels/whatsapp/wafake"
)

func TestPairByQR(t *testing.T) {
	db := shared(t)
	// The paired store reconnects as the same device without a QR.
	before := fake.Logins()
	ch, _ := startChannel(t, fake, db, nil)
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })
	if fake.Logins() <= before {
		t.Fatal("no login recorded")
	}
	st := ch.Status()
	if st.QR != "" || st.JID == "" {
		t.Fatalf("status after pairing = %+v", st)
	}
}

var contactSeq atomic.Int64

// newContact adds a contact with a fresh number, so tests (and -count=N
// runs) never share one.
func newContact(t *testing.T, name string) *wafake.Contact {
	t.Helper()
	phone := fmt.Sprintf("62812345%05d", contactSeq.Add(1))
	ct, err := fake.AddContact(phone, "", name)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

func TestInboundTextAndReply(t *testing.T) {
	ch, sink := startChannel(t, fake, shared(t), nil)
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })
	ct := newContact(t, "Budi")

	id, err := ct.SendText("halo", wafake.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "inbound halo", func() bool { _, ok := sink.get(id); return ok })
	in, _ := sink.get(id)
	want := channels.Inbound{Channel: "whatsapp", ExternalID: id, From: "+" + ct.Phone, Name: "Budi", Text: "halo"}
	if in.Channel != want.Channel || in.From != want.From || in.Name != want.Name || in.Text != want.Text {
		t.Fatalf("inbound = %+v, want %+v", in, want)
	}
	if in.Meta["lid"] != ct.LID || in.Meta["jid"] == "" || in.ReceivedAt.IsZero() {
		t.Fatalf("meta = %v", in.Meta)
	}
	waitUntil(t, "delivery receipt", func() bool { return ct.Delivered(id) })
	waitUntil(t, "read receipt", func() bool { return ct.Read(id) })

	out := channels.Outbound{ID: channels.NewID(), Channel: "whatsapp", To: "+" + ct.Phone, Text: "Terima kasih, laporan Anda kami terima."}
	if err := ch.Send(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	got := fake.Received(ct.Phone)
	if len(got) != 1 || got[0].ID != out.ID || got[0].Text != out.Text || got[0].Err != "" {
		t.Fatalf("contact received %+v, want one message %s", got, out.ID)
	}

	// The gateway can quote the citizen's message.
	quoting := channels.Outbound{ID: channels.NewID(), To: "+" + ct.Phone, Text: "Ini jawabannya", InReplyTo: id}
	if err := ch.Send(context.Background(), quoting); err != nil {
		t.Fatal(err)
	}
	if got := fake.Received(ct.Phone); len(got) != 2 || got[1].ID != quoting.ID || got[1].QuotedID != id || got[1].Text != quoting.Text {
		t.Fatalf("quoting reply received as %+v", got)
	}

	// A quoted reply carries the quoted stanza ID.
	id2, err := ct.SendText("maksudnya?", wafake.SendOptions{QuotedID: out.ID})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "quoted inbound", func() bool { _, ok := sink.get(id2); return ok })
	if in, _ := sink.get(id2); in.ReplyTo != out.ID {
		t.Fatalf("ReplyTo = %q, want %q", in.ReplyTo, out.ID)
	}
}

func TestInboundImageAndOutboundDocument(t *testing.T) {
	ch, sink := startChannel(t, fake, shared(t), nil)
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })
	ct := newContact(t, "Sari")
	img := append([]byte("\xff\xd8\xff\xe0fake-jpeg"), bytes.Repeat([]byte{7}, 5000)...)
	id, err := ct.SendImage(img, "image/jpeg", "sertifikat saya", wafake.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "image inbound", func() bool { _, ok := sink.get(id); return ok })
	in, _ := sink.get(id)
	if in.Text != "sertifikat saya" || len(in.Attachments) != 1 || !bytes.Equal(in.Attachments[0].Data, img) ||
		in.Attachments[0].ContentType != "image/jpeg" {
		t.Fatalf("inbound = text %q, %d attachments", in.Text, len(in.Attachments))
	}

	pdf := []byte("%PDF-1.4 fake export")
	out := channels.Outbound{ID: channels.NewID(), To: "+" + ct.Phone, Text: "Ekspor data Anda",
		Attachments: []channels.Attachment{{Name: "ekspor.pdf", ContentType: "application/pdf", Data: pdf}}}
	if err := ch.Send(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	got := fake.Received(ct.Phone)
	if len(got) != 1 || got[0].ID != out.ID || !bytes.Equal(got[0].Media, pdf) || got[0].FileName != "ekspor.pdf" || got[0].Text != out.Text {
		t.Fatalf("contact received %+v", got)
	}
}

func TestInboundMediaTooBig(t *testing.T) {
	ch, sink := startChannel(t, fake, shared(t), func(c *Config) { c.MaxMediaBytes = 100 })
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })
	ct := newContact(t, "Tono")
	id, err := ct.SendDocument(bytes.Repeat([]byte("x"), 1000), "application/pdf", "besar.pdf", wafake.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "document inbound", func() bool { _, ok := sink.get(id); return ok })
	in, _ := sink.get(id)
	if len(in.Attachments) != 0 || in.Meta["attachment_skipped"] == "" {
		t.Fatalf("oversized attachment not skipped: %d attachments, meta %v", len(in.Attachments), in.Meta)
	}
}

func TestLIDSender(t *testing.T) {
	ch, sink := startChannel(t, fake, shared(t), nil)
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })
	ct := newContact(t, "Ani")
	hidden := newContact(t, "Tanpa Nomor")

	tests := []struct {
		name     string
		ct       *wafake.Contact
		opts     wafake.SendOptions
		wantFrom string
	}{
		{"lid with sender_pn", ct, wafake.SendOptions{ViaLID: true}, "+" + ct.Phone},
		{"phone after lid", ct, wafake.SendOptions{}, "+" + ct.Phone},
		{"lid again", ct, wafake.SendOptions{ViaLID: true}, "+" + ct.Phone},
		{"lid without phone", hidden, wafake.SendOptions{ViaLID: true, HidePN: true}, "lid:" + hidden.LID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := tc.ct.SendText("pesan "+tc.name, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "inbound", func() bool { _, ok := sink.get(id); return ok })
			in, _ := sink.get(id)
			if in.From != tc.wantFrom || in.Meta["lid"] != tc.ct.LID {
				t.Fatalf("From = %q lid = %q, want %q %q", in.From, in.Meta["lid"], tc.wantFrom, tc.ct.LID)
			}
		})
	}
	// Replies to a LID-only sender go to the LID.
	out := channels.Outbound{ID: channels.NewID(), To: "lid:" + hidden.LID, Text: "Mohon kirim nomor HP Anda"}
	if err := ch.Send(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if got := fake.Received(hidden.Phone); len(got) != 1 || got[0].ID != out.ID || got[0].Text != out.Text {
		t.Fatalf("lid contact received %+v", got)
	}
}

func TestReconnectRedelivers(t *testing.T) {
	ch, sink := startChannel(t, fake, shared(t), nil)
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })
	ct := newContact(t, "Dewi")

	// The gateway's database refuses the first message: it must not be
	// acknowledged, and must come back after a reconnect.
	sink.mu.Lock()
	sink.failAll = true
	sink.mu.Unlock()
	id1, err := ct.SendText("pertama", wafake.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "failed delivery attempt", func() bool { return sink.attemptsFor(id1) >= 1 })
	if ct.Delivered(id1) {
		t.Fatal("message acknowledged although Deliver failed")
	}
	sink.mu.Lock()
	sink.failAll = false
	sink.mu.Unlock()

	logins := fake.Logins()
	fake.DropConnections()
	waitUntil(t, "reconnect", func() bool { return fake.Logins() > logins && ch.State() == channels.StateUp })
	// Written while the first delivery was pending; arrives on the new connection.
	id2, err := ct.SendText("kedua", wafake.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both stored", func() bool {
		_, ok1 := sink.get(id1)
		_, ok2 := sink.get(id2)
		return ok1 && ok2
	})
	waitUntil(t, "both receipted", func() bool { return ct.Delivered(id1) && ct.Delivered(id2) })

	// A 515 restart neither loses nor doubles anything.
	logins = fake.Logins()
	fake.RestartStreams()
	waitUntil(t, "reconnect after 515", func() bool { return fake.Logins() > logins && ch.State() == channels.StateUp })
	id3, err := ct.SendText("ketiga", wafake.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "third stored", func() bool { _, ok := sink.get(id3); return ok })
	sink.mu.Lock()
	n := 0
	for _, m := range sink.stored {
		if m.From == "+"+ct.Phone {
			n++
		}
	}
	sink.mu.Unlock()
	if n != 3 {
		t.Fatalf("stored %d messages from the contact, want 3", n)
	}
}

func TestAckWithheldRetrySameID(t *testing.T) {
	ch, sink := startChannel(t, fake, shared(t), func(c *Config) { c.SendTimeout = 2 * time.Second })
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })
	ct := newContact(t, "Rudi")
	id, err := ct.SendText("halo", wafake.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Reply only once the client has decrypted "halo", as the gateway
	// does: whatsmeow does not order a decryption against a send on the
	// same Signal session, and a send racing it (on a loaded machine) was
	// encrypted from a state the decryption then overwrote, so the contact
	// could not read the retry (2 of 15 runs beside two busy loops).
	waitUntil(t, "inbound halo", func() bool { _, ok := sink.get(id); return ok })

	out := channels.Outbound{ID: channels.NewID(), To: "+" + ct.Phone, Text: "Balasan"}
	fake.WithholdAcks(true)
	err = ch.Send(context.Background(), out)
	fake.WithholdAcks(false)
	if err == nil || errors.Is(err, channels.ErrPermanent) || errors.Is(err, channels.ErrNotReady) {
		t.Fatalf("Send without ack = %v, want a retryable error", err)
	}
	if err := ch.Send(context.Background(), out); err != nil {
		t.Fatalf("retry: %v", err)
	}
	got := fake.Received(ct.Phone)
	if len(got) != 2 || got[0].ID != out.ID || got[1].ID != out.ID || got[0].Acked || !got[1].Acked || got[1].Text != out.Text {
		t.Fatalf("contact received %+v, want the same ID twice (unacked, then acked)", got)
	}
}

func TestSendPermanentFailures(t *testing.T) {
	ch, _ := startChannel(t, fake, shared(t), nil)
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })
	refused := newContact(t, "Refused")
	fake.Refuse(refused.Phone, true)
	tests := []struct{ name, to string }{
		{"not on whatsapp", "+" + refused.Phone},
		{"unknown number", "+6281299999999"},
		{"garbage", "not-a-number"},
		{"empty lid", "lid:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ch.Send(context.Background(), channels.Outbound{ID: channels.NewID(), To: tc.to, Text: "x"})
			if !errors.Is(err, channels.ErrPermanent) {
				t.Fatalf("Send to %s = %v, want ErrPermanent", tc.name, err)
			}
		})
	}
}

func TestLogout401(t *testing.T) {
	// Logging out wipes the store, so this test pairs its own device on its own server.
	srv, err := wafake.New("127.0.0.1:0", wafake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Closed after the channel stopped (cleanups run last-in first-out): a
	// server hanging up while the client disconnects trips a whatsmeow race.
	t.Cleanup(func() { _ = srv.Close() })
	ch, _ := pairNew(t, srv, openDB(t, fmt.Sprintf("logout-%d.db", contactSeq.Add(1))))
	srv.LogoutAll()
	waitUntil(t, "logged_out", func() bool { return ch.State() == channels.StateLoggedOut })
	err = ch.Send(context.Background(), channels.Outbound{ID: channels.NewID(), To: "+6281234500001", Text: "x"})
	if !errors.Is(err, channels.ErrNotReady) {
		t.Fatalf("Send after logout = %v, want ErrNotReady", err)
	}
	if st := ch.Status(); st.State != channels.StateLoggedOut {
		t.Fatalf("status = %+v", st)
	}
}

func TestDeliverFailureRedelivered(t *testing.T) {
	ch, sink := startChannel(t, fake, shared(t), func(c *Config) { c.RedeliveryDelay = 50 * time.Millisecond })
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })
	ct := newContact(t, "Eka")
	sink.mu.Lock()
	sink.failAll = true
	sink.mu.Unlock()
	id, err := ct.SendText("tolong", wafake.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "failed attempt", func() bool { return sink.attemptsFor(id) >= 1 })
	sink.mu.Lock()
	sink.failAll = false
	sink.mu.Unlock()
	// No fault injected: the adapter reconnects by itself and WhatsApp redelivers.
	waitUntil(t, "stored after redelivery", func() bool { _, ok := sink.get(id); return ok })
	waitUntil(t, "receipt", func() bool { return ct.Delivered(id) })
	if in, _ := sink.get(id); in.Text != "tolong" || in.From != "+"+ct.Phone {
		t.Fatalf("redelivered inbound = %+v", in)
	}
}

func TestStreamReplacedStops(t *testing.T) {
	db := shared(t)
	a, _ := startChannel(t, fake, db, nil)
	waitUntil(t, "first instance connected", func() bool { return a.State() == channels.StateUp })
	// A second instance on the same device store takes the session over.
	b, _ := startChannel(t, fake, db, nil)
	waitUntil(t, "second instance connected", func() bool { return b.State() == channels.StateUp })
	waitUntil(t, "first instance in standby", func() bool { return a.State() == channels.StateStandby })
	err := a.Send(context.Background(), channels.Outbound{ID: channels.NewID(), To: "+6281234500001", Text: "x"})
	if !errors.Is(err, channels.ErrNotReady) {
		t.Fatalf("Send from the replaced instance = %v, want ErrNotReady", err)
	}
	// The replaced instance does not fight back: the second one stays connected.
	ct := newContact(t, "Fajar")
	if err := b.Send(context.Background(), channels.Outbound{ID: channels.NewID(), To: "+" + ct.Phone, Text: "masih di sini"}); err != nil {
		t.Fatal(err)
	}
	if a.State() != channels.StateStandby || b.State() != channels.StateUp {
		t.Fatalf("states a=%s b=%s", a.State(), b.State())
	}
}

func TestUndecryptableThenRetried(t *testing.T) {
	ch, sink := startChannel(t, fake, shared(t), nil)
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })
	ct := newContact(t, "Gita")
	for i, text := range []string{"pertama rusak", "kedua rusak"} {
		// Both a session-starting and a later message recover through a retry receipt.
		fake.CorruptNext(1)
		id, err := ct.SendText(text, wafake.SendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "retried message stored", func() bool { _, ok := sink.get(id); return ok })
		if in, _ := sink.get(id); in.Text != text || sink.attemptsFor(id) != 1 {
			t.Fatalf("message %d: %+v after %d attempts", i, in, sink.attemptsFor(id))
		}
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogsCarryNoPII(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{Enabled: true, AccountPhone: "+6281299990000", SendMinGap: -1,
		TestServer: &TestServer{Addr: fake.Addr(), RootKey: fake.RootKey()}}
	ch, err := New(cfg, shared(t), "sqlite3", log)
	if err != nil {
		t.Fatal(err)
	}
	sink := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, sink) }()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	defer stop()
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })

	ct := newContact(t, "Hana")
	sink.mu.Lock()
	sink.failAll = true // a failed store is logged too
	sink.mu.Unlock()
	id, err := ct.SendText("rahasia pribadi saya", wafake.SendOptions{ViaLID: true})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "failed attempt", func() bool { return sink.attemptsFor(id) >= 1 })
	if err := ch.Send(context.Background(), channels.Outbound{ID: channels.NewID(), To: "+" + ct.Phone, Text: "jawaban rahasia"}); err != nil {
		t.Fatal(err)
	}
	stop() // all log lines are written

	out := logs.String()
	if !strings.Contains(out, "not the configured number") || !strings.Contains(out, "…0000") {
		t.Errorf("no account-mismatch warning in logs:\n%s", out)
	}
	for _, secret := range []string{ct.Phone, ct.LID, fake.AccountPhone(), "6281299990000", "rahasia"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
	}
}

func TestPairByPhoneCode(t *testing.T) {
	srv, err := wafake.New("127.0.0.1:0", wafake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Closed after the channel stopped (cleanups run last-in first-out): a
	// server hanging up while the client disconnects trips a whatsmeow race.
	t.Cleanup(func() { _ = srv.Close() })
	ch, _ := startChannel(t, srv, openDB(t, fmt.Sprintf("code-%d.db", contactSeq.Add(1))), nil)
	waitUntil(t, "pairing", func() bool { return ch.Status().QR != "" })
	code, err := ch.PairPhone(context.Background(), "+"+srv.AccountPhone())
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 9 || code[4] != '-' {
		t.Fatalf("pairing code %q, want XXXX-XXXX", code)
	}
	if err := srv.EnterCode(code); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "connected after code pairing", func() bool { return ch.State() == channels.StateUp })
	if st := ch.Status(); st.JID == "" || st.QR != "" {
		t.Fatalf("status = %+v", st)
	}
}
