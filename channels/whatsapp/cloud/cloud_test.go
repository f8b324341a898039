package cloud_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/channels/whatsapp/cloud"
	"lindungi/channels/whatsapp/cloud/graphfake"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/testlog"
)

const (
	token     = "EAAtesttoken-do-not-log-0123456789"
	appSecret = "app-secret-for-tests"
	verify    = "verify-token-for-tests"
)

// rig is the provider against the fake Graph API, on a real migrated
// database with a real outbox and a real HTTP webhook endpoint.
type rig struct {
	fake *graphfake.Server
	ch   *cloud.Channel
	db   *store.DB
	ob   *channels.Outbox
	logs *testlog.Buffer
	got  chan channels.Inbound
}

func newRig(t *testing.T, db *store.DB, opts graphfake.Options, cfg cloud.Config) *rig {
	t.Helper()
	opts.AccessToken, opts.AppSecret = token, appSecret
	fake, err := graphfake.New("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ob := channels.NewOutbox(db, channels.OutboxConfig{}, log, nil)
	cfg.PhoneNumberID, cfg.AccessToken, cfg.AppSecret, cfg.VerifyToken = fake.PhoneNumberID(), token, appSecret, verify
	cfg.APIURL = fake.URL()
	cfg.HTTP = &http.Client{Timeout: 2 * time.Second}
	ch, err := cloud.New(cfg, db, ob, log)
	if err != nil {
		t.Fatal(err)
	}
	ob.Register(ch)
	r := &rig{fake: fake, ch: ch, db: db, ob: ob, logs: logs, got: make(chan channels.Inbound, 100)}
	// The sink stores nothing itself: the rig's tests are about the
	// provider; app_e2e_test.go runs the whole gateway with the real bot.
	srv := httptest.NewServer(ch.Handler(channels.SinkFunc(func(ctx context.Context, in channels.Inbound) error {
		r.got <- in
		return nil
	})))
	t.Cleanup(srv.Close)
	fake.SetWebhookURL(srv.URL)
	return r
}

// TestErrorCodeTable is issue 17's "must show 3", first part: every
// mapped Cloud API error code, answered by the fake to a real send, gives
// the outbox the outcome the issue specifies.
func TestErrorCodeTable(t *testing.T) {
	db := storetest.SQLite(t)
	r := newRig(t, db, graphfake.Options{}, cloud.Config{})
	ctx := context.Background()
	// The citizen wrote a minute ago: free text is allowed, so each fault
	// below is the Graph API's answer to a plain text send.
	body, _ := r.fake.Text(graphfake.Citizen{WaID: "6281233334444", Name: "Budi"}, "halo")
	if err := r.fake.Deliver(ctx, body); err != nil {
		t.Fatal(err)
	}
	<-r.got
	const (
		retry = iota
		hold
		permanent
		notReady
	)
	for _, tc := range []struct {
		name   string
		fault  graphfake.Fault
		want   int
		unauth bool // the channel reports it cannot send
	}{
		{"130429 throughput rate limit backs off", graphfake.Fault{Code: 130429, HTTPStatus: 429}, retry, false},
		{"131056 pair rate limit backs off", graphfake.Fault{Code: 131056, HTTPStatus: 400}, retry, false},
		{"131048 spam rate limit backs off", graphfake.Fault{Code: 131048, HTTPStatus: 400}, retry, false},
		{"80007 account rate limit backs off", graphfake.Fault{Code: 80007, HTTPStatus: 400}, retry, false},
		{"131000 Meta's trouble is retried", graphfake.Fault{Code: 131000, HTTPStatus: 500}, retry, false},
		{"bare 503 is retried", graphfake.Fault{HTTPStatus: 503}, retry, false},
		{"an unknown code is retried, not lost", graphfake.Fault{Code: 999999, HTTPStatus: 400}, retry, false},
		{"131026 undeliverable is permanent", graphfake.Fault{Code: 131026, HTTPStatus: 400}, permanent, false},
		{"131051 unsupported type is permanent", graphfake.Fault{Code: 131051, HTTPStatus: 400}, permanent, false},
		{"100 invalid parameter is permanent", graphfake.Fault{Code: 100, HTTPStatus: 400}, permanent, false},
		{"132001 missing template is permanent", graphfake.Fault{Code: 132001, HTTPStatus: 404}, permanent, false},
		{"a send that times out is retried", graphfake.Fault{Delay: 3 * time.Second}, retry, false},
		{"131047 re-engagement with no template is held", graphfake.Fault{Code: 131047, HTTPStatus: 400}, hold, false},
		{"190 bad token: not ready, nothing dead-lettered", graphfake.Fault{Code: 190, HTTPStatus: 401}, notReady, true},
		{"131031 locked account: not ready", graphfake.Fault{Code: 131031, HTTPStatus: 403}, notReady, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The 131047 case closes the window; open it again.
			body, _ := r.fake.Text(graphfake.Citizen{WaID: "6281233334444", Name: "Budi"}, "halo lagi")
			if err := r.fake.Deliver(ctx, body); err != nil {
				t.Fatal(err)
			}
			<-r.got
			r.fake.Fail(tc.fault)
			err := r.ch.Send(ctx, channels.Outbound{ID: channels.NewID(), Channel: channels.WhatsApp, To: "+6281233334444", Text: "Balasan petugas"})
			if err == nil {
				t.Fatal("send succeeded despite the fault")
			}
			var got int
			switch {
			case errors.Is(err, channels.ErrPermanent):
				got = permanent
			case errors.Is(err, channels.ErrHeld):
				got = hold
			case errors.Is(err, channels.ErrNotReady):
				got = notReady
			default:
				got = retry
			}
			if got != tc.want {
				t.Errorf("outcome %d, want %d (err %v)", got, tc.want, err)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "6281233334444") {
				t.Errorf("error text names the token or the phone: %v", err)
			}
			if unauth := r.ch.State() == cloud.StateUnauthorized; unauth != tc.unauth {
				t.Errorf("state %s after the fault", r.ch.State())
			}
			// The next good send brings the channel back (after 131047
			// the citizen has to write first: the window was closed).
			body, _ = r.fake.Text(graphfake.Citizen{WaID: "6281233334444", Name: "Budi"}, "masih di sini")
			if err := r.fake.Deliver(ctx, body); err != nil {
				t.Fatal(err)
			}
			<-r.got
			if err := r.ch.Send(ctx, channels.Outbound{ID: channels.NewID(), Channel: channels.WhatsApp, To: "+6281233334444", Text: "ok"}); err != nil {
				t.Fatalf("send after the fault: %v", err)
			}
			if r.ch.State() != channels.StateUp {
				t.Errorf("state %s after a good send", r.ch.State())
			}
		})
	}
	if strings.Contains(r.logs.String(), token) {
		t.Error("the access token is in the log")
	}
}

// A wrong access token at the fake is error 190 from the real endpoint:
// the channel is not ready and the outbox keeps the message.
func TestWrongTokenIsNotReady(t *testing.T) {
	db := storetest.SQLite(t)
	r := newRig(t, db, graphfake.Options{}, cloud.Config{})
	bad, err := cloud.New(cloud.Config{PhoneNumberID: r.fake.PhoneNumberID(), AccessToken: "wrong-" + token, AppSecret: appSecret, VerifyToken: verify, APIURL: r.fake.URL()}, db, r.ob, slog.New(slog.NewTextHandler(r.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Send(context.Background(), channels.Outbound{ID: channels.NewID(), Channel: channels.WhatsApp, To: "+6281233334444", Text: "x", Meta: map[string]string{"tracing": "exposure"}})
	if !errors.Is(err, channels.ErrHeld) {
		// No window and no template: held before any request.
		t.Fatalf("want held without a window, got %v", err)
	}
	body, _ := r.fake.Text(graphfake.Citizen{WaID: "6281233334444"}, "halo")
	if err := r.fake.Deliver(context.Background(), body); err != nil {
		t.Fatal(err)
	}
	<-r.got
	err = bad.Send(context.Background(), channels.Outbound{ID: channels.NewID(), Channel: channels.WhatsApp, To: "+6281233334444", Text: "x"})
	if !errors.Is(err, channels.ErrNotReady) || bad.State() != cloud.StateUnauthorized {
		t.Fatalf("err %v, state %s", err, bad.State())
	}
	if strings.Contains(err.Error(), token) || strings.Contains(r.logs.String(), token) {
		t.Error("the token leaked into an error or the log")
	}
}

// The bot's numbered menu goes as an interactive list (a choice comes back
// as its number); an operator's numbered steps, or a menu beyond the
// list's limits, stay text.
func TestMenuAsList(t *testing.T) {
	db := storetest.SQLite(t)
	r := newRig(t, db, graphfake.Options{}, cloud.Config{})
	ctx := context.Background()
	body, _ := r.fake.Text(graphfake.Citizen{WaID: "6281233335555"}, "menu")
	if err := r.fake.Deliver(ctx, body); err != nil {
		t.Fatal(err)
	}
	<-r.got
	menu := "Silakan balas dengan *angka* pilihan Bapak/Ibu:\n1. Sertifikat vaksin belum muncul\n2. Ubah data (nama, tanggal lahir, nomor HP)\n3. NIK dipakai orang lain\n\nBalas *0* untuk kembali."
	long := "Pilih:\n"
	for i := 1; i <= 11; i++ {
		long += strconv.Itoa(i) + ". pilihan\n"
	}
	for _, tc := range []struct {
		name string
		msg  channels.Outbound
		typ  string
		rows int
	}{
		{"the bot's menu", channels.Outbound{Kind: "reply", Text: menu}, "interactive", 3},
		{"an operator's steps", channels.Outbound{Kind: "reply", Text: menu, Meta: map[string]string{"operator": "budi"}}, "text", 0},
		{"eleven choices", channels.Outbound{Kind: "reply", Text: long}, "text", 0},
		{"two lines are not a menu", channels.Outbound{Kind: "reply", Text: "Langkah:\n1. buka aplikasi\n2. masuk"}, "text", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.msg.ID, tc.msg.Channel, tc.msg.To = channels.NewID(), channels.WhatsApp, "+6281233335555"
			n := len(r.fake.Sent("6281233335555"))
			if err := r.ch.Send(ctx, tc.msg); err != nil {
				t.Fatal(err)
			}
			got := r.fake.Sent("6281233335555")[n:]
			if len(got) != 1 || got[0].Type != tc.typ || len(got[0].Rows) != tc.rows {
				t.Fatalf("sent %+v", got)
			}
			if tc.typ == "interactive" && (strings.Contains(got[0].Text, "1. Sertifikat") || !strings.Contains(got[0].Text, "Balas *0*")) {
				t.Errorf("list body %q", got[0].Text)
			}
		})
	}
}

// Templates outside the window open business-initiated conversations, of
// which the number's tier allows so many a day: beyond it a template is
// deferred (not lost, no attempt spent), a citizen already reached today
// costs nothing, and a quality webhook naming a higher tier lifts the cap.
func TestTierDefersTemplates(t *testing.T) {
	db := storetest.SQLite(t)
	r := newRig(t, db, graphfake.Options{}, cloud.Config{DailyConversations: 2,
		Templates: map[string]cloud.Template{"exposure": {Name: "sijejak_paparan"}}})
	ctx := context.Background()
	prompt := func(to string) error {
		return r.ch.Send(ctx, channels.Outbound{ID: channels.NewID(), Channel: channels.WhatsApp, To: to, Kind: "prompt",
			Text: "Anda kontak erat", Meta: map[string]string{"tracing": "exposure"}})
	}
	for _, tc := range []struct {
		to       string
		deferred bool
	}{
		{"+6281200000001", false},
		{"+6281200000002", false},
		{"+6281200000003", true},
		{"+6281200000001", false}, // already in today's conversation
	} {
		err := prompt(tc.to)
		if got := errors.Is(err, channels.ErrDeferred); got != tc.deferred || (!tc.deferred && err != nil) {
			t.Fatalf("prompt to %s: %v", tc.to, err)
		}
	}
	if err := r.fake.Deliver(ctx, r.fake.QualityUpdate("UPGRADE", "TIER_1K")); err != nil {
		t.Fatal(err)
	}
	if err := prompt("+6281200000003"); err != nil {
		t.Fatalf("after the tier rose: %v", err)
	}
	if q := r.ch.Status(); q["tier"] != "TIER_1K" || q["quality"] != "UPGRADE" {
		t.Fatalf("readiness %v", q)
	}
	for _, s := range r.fake.Sent("") {
		if s.Type != "template" || s.Template != "sijejak_paparan" || s.Language != "id" {
			t.Fatalf("sent %+v", s)
		}
	}
}

// An attachment goes through the media endpoint and then as a document
// (or image) message with the text as its caption.
func TestSendMedia(t *testing.T) {
	db := storetest.SQLite(t)
	r := newRig(t, db, graphfake.Options{}, cloud.Config{})
	ctx := context.Background()
	body, _ := r.fake.Text(graphfake.Citizen{WaID: "6281233336666"}, "minta data saya")
	if err := r.fake.Deliver(ctx, body); err != nil {
		t.Fatal(err)
	}
	<-r.got
	pdf := []byte("%PDF-1.4 ekspor data")
	err := r.ch.Send(ctx, channels.Outbound{ID: channels.NewID(), Channel: channels.WhatsApp, To: "+6281233336666", Kind: channels.KindExport,
		Text: "Data Anda terlampir.", Attachments: []channels.Attachment{{Name: "data.pdf", ContentType: "application/pdf", Data: pdf}}})
	if err != nil {
		t.Fatal(err)
	}
	sent := r.fake.Sent("6281233336666")
	if len(sent) != 1 || sent[0].Type != "document" || sent[0].Text != "Data Anda terlampir." {
		t.Fatalf("sent %+v", sent)
	}
	if got, ok := r.fake.Media(sent[0].MediaID); !ok || !bytes.Equal(got, pdf) {
		t.Fatal("the uploaded file differs")
	}
}

// A message with two attachments whose second part fails is sent again
// without its first part: each part is marked once WhatsApp took it.
func TestPartsAreNotResent(t *testing.T) {
	db := storetest.SQLite(t)
	r := newRig(t, db, graphfake.Options{}, cloud.Config{})
	ctx := context.Background()
	body, _ := r.fake.Text(graphfake.Citizen{WaID: "6281233337777"}, "kirim dokumennya")
	if err := r.fake.Deliver(ctx, body); err != nil {
		t.Fatal(err)
	}
	<-r.got
	msg := channels.Outbound{ID: channels.NewID(), Channel: channels.WhatsApp, To: "+6281233337777", Kind: "reply", Text: "Dua dokumen",
		Attachments: []channels.Attachment{{Name: "a.pdf", ContentType: "application/pdf", Data: []byte("%PDF a")}, {Name: "b.pdf", ContentType: "application/pdf", Data: []byte("%PDF b")}}}
	r.fake.Fail(graphfake.Fault{}, graphfake.Fault{Code: 131000, HTTPStatus: 500}) // the first goes through, the second fails
	if err := r.ch.Send(ctx, msg); err == nil {
		t.Fatal("the failing part did not fail the send")
	}
	if err := r.ch.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.fake.Sent("6281233337777") {
		d, _ := r.fake.Media(s.MediaID)
		names = append(names, string(d))
	}
	if strings.Join(names, ",") != "%PDF a,%PDF b" {
		t.Fatalf("sent %q", names)
	}
}

// A template goes in the citizen's language, by the code configured for
// it (Meta's codes differ from ours: en_US), with its parameters.
func TestTemplateLanguageAndParams(t *testing.T) {
	db := storetest.SQLite(t)
	r := newRig(t, db, graphfake.Options{}, cloud.Config{Templates: map[string]cloud.Template{
		"exposure": {Name: "sijejak_exposure", Params: []string{"until"}, Languages: map[string]string{"id": "id", "en": "en_US"}}}})
	ctx := context.Background()
	for i, tc := range []struct{ lang, want string }{{"en", "en_US"}, {"id", "id"}, {"", "id"}} {
		to := "+62812444400" + strconv.Itoa(i)
		err := r.ch.Send(ctx, channels.Outbound{ID: channels.NewID(), Channel: channels.WhatsApp, To: to, Kind: "prompt", Text: "x",
			Meta: map[string]string{"tracing": "exposure", "lang": tc.lang, "until": "12 Desember 2026"}})
		if err != nil {
			t.Fatal(err)
		}
		s := r.fake.Sent(to[1:])
		if len(s) != 1 || s[0].Language != tc.want || len(s[0].Params) != 1 || s[0].Params[0] != "12 Desember 2026" {
			t.Errorf("lang %q: sent %+v", tc.lang, s)
		}
	}
}
