package cloud_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/channels/whatsapp/cloud/graphfake"
	"lindungi/config"
	"lindungi/internal/app"
	"lindungi/internal/app/apptest"
	"lindungi/store/storetest"
	"lindungi/testlog"
)

const (
	cloudToken     = "EAAGcloudTokenNeverLogged0123456789abcdef"
	cloudAppSecret = "cloud-app-secret-0123456789"
	cloudVerify    = "cloud-verify-token-0123"
)

// cloudRig is the whole app with whatsapp.provider cloud, talking to the
// fake Graph API, which sends it signed webhooks.
type cloudRig struct {
	*apptest.Gateway
	fake *graphfake.Server
	// skew moves the provider's clock (to leave the 24-hour window).
	skew *atomic.Int64
}

func cloudConfig(t testing.TB, fake *graphfake.Server, env ...string) config.Config {
	t.Helper()
	dir := t.TempDir()
	file := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := apptest.Config(t, append([]string{"LINDUNGI_WHATSAPP_ENABLED=true", "LINDUNGI_WHATSAPP_PROVIDER=cloud",
		"LINDUNGI_WHATSAPP_CLOUD_PHONE_NUMBER_ID=" + fake.PhoneNumberID(),
		"LINDUNGI_WHATSAPP_CLOUD_ACCESS_TOKEN_FILE=" + file("token", cloudToken),
		"LINDUNGI_WHATSAPP_CLOUD_APP_SECRET_FILE=" + file("secret", cloudAppSecret),
		"LINDUNGI_WHATSAPP_CLOUD_VERIFY_TOKEN_FILE=" + file("verify", cloudVerify),
		"LINDUNGI_WHATSAPP_CLOUD_API_URL=" + fake.URL(),
		"LINDUNGI_WHATSAPP_SEND_RATE=1000", "LINDUNGI_TRACING_CHANNEL=whatsapp"}, env...)...)
	cfg.WhatsApp.Cloud.Templates = map[string]config.CloudTemplate{
		"exposure":        {Name: "sijejak_paparan", Params: []string{"until"}, Languages: map[string]string{"id": "id", "en": "en"}},
		"consent_request": {Name: "sijejak_persetujuan", Languages: map[string]string{"id": "id", "en": "en"}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startCloud(t testing.TB, env ...string) *cloudRig {
	t.Helper()
	fake, err := graphfake.New("127.0.0.1:0", graphfake.Options{AccessToken: cloudToken, AppSecret: cloudAppSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	skew := &atomic.Int64{}
	clock := func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) }
	ta := apptest.Start(t, cloudConfig(t, fake, env...), app.Options{CloudClock: clock})
	fake.SetWebhookURL(ta.Base + "/webhooks/whatsapp")
	return &cloudRig{Gateway: ta, fake: fake, skew: skew}
}

// write delivers a citizen's text as Meta would (retried until a 2xx).
func (r *cloudRig) write(c graphfake.Citizen, text string) string {
	r.T.Helper()
	body, id := r.fake.Text(c, text)
	r.deliver(body)
	return id
}

func (r *cloudRig) deliver(body []byte) {
	r.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.fake.Deliver(ctx, body); err != nil {
		r.T.Fatalf("webhook: %v\n%s", err, r.Logs.String())
	}
}

// sentAfter waits until the gateway sent wa more than n messages and
// returns those beyond n.
func (r *cloudRig) sentAfter(wa string, n int) []graphfake.Sent {
	r.T.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) { // failure guard only
		if s := r.fake.Sent(wa); len(s) > n {
			// Let the rest of a burst of replies arrive.
			time.Sleep(150 * time.Millisecond)
			return r.fake.Sent(wa)[n:]
		}
		if time.Now().After(deadline) {
			r.T.Fatalf("nothing more sent to %s after %d\n%s", wa, n, r.Logs.String())
		}
	}
}

// ask writes text and returns the texts of the replies it got.
func (r *cloudRig) ask(c graphfake.Citizen, text, want string) string {
	r.T.Helper()
	n := len(r.fake.Sent(c.WaID))
	r.write(c, text)
	var all []string
	for _, s := range r.sentAfter(c.WaID, n) {
		all = append(all, s.Text)
	}
	joined := strings.Join(all, "\n")
	if !strings.Contains(strings.ToLower(joined), strings.ToLower(want)) {
		r.T.Fatalf("after %q: replies %q lack %q", text, joined, want)
	}
	return joined
}

type cloudDetail struct {
	Ticket struct {
		ID       string `json:"id"`
		Contact  string `json:"contact"`
		Messages []struct {
			Direction, Text, Delivery string
			DeliveryNote              string                  `json:"deliveryNote"`
			Attachments               []struct{ Name string } `json:"attachments"`
		} `json:"messages"`
	} `json:"ticket"`
}

func (r *cloudRig) delivery(number, text string) (state, note string) {
	r.T.Helper()
	var d cloudDetail
	r.Call("GET", "/api/v1/tickets/"+number, nil, &d)
	for _, m := range d.Ticket.Messages {
		if m.Direction == "out" && m.Text == text {
			return m.Delivery, m.DeliveryNote
		}
	}
	r.T.Fatalf("no outgoing %q on %s", text, number)
	return "", ""
}

// TestWhatsAppCloudEndToEnd is issue 17's "must show 1" through the whole
// app and the fake Graph API: "halo" and a full complaint with a photo of
// the ID card become a ticket keyed by the E.164 phone with the photo as
// an attachment; an operator's reply goes out and shows sent → delivered →
// read on the ticket; a Sijejak consent request goes as text inside the
// window, the exposure prompt to a contact outside it as a template; an
// operator's reply outside the window is held with its reason and goes out
// when the citizen writes again.
func TestWhatsAppCloudEndToEnd(t *testing.T) { whatsappCloudEndToEnd(t) }

// TestWhatsAppCloudEndToEndPostgres runs the same on PostgreSQL.
func TestWhatsAppCloudEndToEndPostgres(t *testing.T) {
	whatsappCloudEndToEnd(t, "LINDUNGI_DATABASE_URL="+storetest.PostgresURL(t))
}

func whatsappCloudEndToEnd(t *testing.T, env ...string) {
	r := startCloud(t, append(env, "LINDUNGI_TRACING_MIN_MINUTES=0.5")...)
	budi := graphfake.Citizen{WaID: "6281233334444", Name: "Budi"}

	r.ask(budi, "halo", "Selamat datang")
	// The menu went as a list; Budi picks its first row.
	if g := r.fake.Sent(budi.WaID); g[len(g)-1].Type != "interactive" || len(g[len(g)-1].Rows) < 3 {
		t.Fatalf("the menu went as %+v", g[len(g)-1])
	}
	n := len(r.fake.Sent(budi.WaID))
	pick, _ := r.fake.ListReply(budi, "1", "Sertifikat vaksin bel…")
	r.deliver(pick)
	if s := r.sentAfter(budi.WaID, n); !strings.Contains(s[0].Text, "nama lengkap") {
		t.Fatalf("after the list choice: %+v", s)
	}
	r.ask(budi, "Budi Santoso", "NIK")
	r.ask(budi, "3174014501900001", "tanggal lahir")
	r.ask(budi, "05-01-1990", "nomor HP")
	r.ask(budi, "081233334444", "jelaskan")
	r.ask(budi, "Sertifikat dosis 2 belum muncul di aplikasi", "foto")
	photo := append([]byte("\xff\xd8\xff\xe0"), bytes.Repeat([]byte("foto ktp "), 200)...)
	n = len(r.fake.Sent(budi.WaID))
	body, _ := r.fake.Image(budi, "ini foto KTP saya", photo, "image/jpeg")
	r.deliver(body)
	r.sentAfter(budi.WaID, n)
	confirm := r.ask(budi, "ya", "PL-")
	number := apptest.TicketNumber.FindString(confirm)

	var list apptest.TicketList
	r.Call("GET", "/api/v1/tickets?channel=whatsapp", nil, &list)
	if len(list.Tickets) != 1 || list.Tickets[0].ID != number || list.Tickets[0].Contact != "+6281233334444" {
		t.Fatalf("tickets: %+v", list.Tickets)
	}
	var d cloudDetail
	r.Call("GET", "/api/v1/tickets/"+number, nil, &d)
	photos := 0
	for _, m := range d.Ticket.Messages {
		photos += len(m.Attachments)
	}
	if photos != 1 {
		t.Fatalf("attachments on the ticket: %d", photos)
	}

	// The operator answers; WhatsApp reports sent, delivered, read.
	const reply = "Selamat siang Pak Budi, data Anda kami periksa."
	n = len(r.fake.Sent(budi.WaID))
	if code := r.Call("POST", "/api/v1/tickets/"+number+"/replies", map[string]string{"text": reply}, nil); code != http.StatusCreated {
		t.Fatalf("reply: %d", code)
	}
	out := r.sentAfter(budi.WaID, n)[0]
	if out.Text != reply || out.Type != "text" || out.CallbackData == "" {
		t.Fatalf("sent: %+v", out)
	}
	for st := ""; st != "sent"; st, _ = r.delivery(number, reply) { // the outbox records its own "sent"
		time.Sleep(10 * time.Millisecond)
	}
	for _, st := range []string{"sent", "delivered", "read"} {
		r.deliver(r.fake.Status(out, st, 0))
		if got, _ := r.delivery(number, reply); got != st {
			t.Fatalf("after the %s status the ticket shows %q", st, got)
		}
	}

	// Sijejak: Ani registers (her SIJEJAK message opens her window) and a
	// health officer marks Budi positive; his consent request goes as text.
	ani := graphfake.Citizen{WaID: "6281211110002", Name: "Ani"}
	devA := cloudRegister(t, r, budi)
	devB := cloudRegister(t, r, ani)
	officer, err := r.Accounts.Add(context.Background(), "dinkes", accounts.HealthOfficer)
	if err != nil {
		t.Fatal(err)
	}
	var ids apptest.TempIDs
	devB.Do(t, "GET", "/api/tracing/v1/tempids", devB.Token, nil, &ids)
	first := ids.TempIDs[0]
	// Budi's phone heard Ani's first TempID every 10 s since it began.
	var recs []map[string]any
	for ts := first.StartTime + 1; ts < time.Now().Unix() && ts < first.ExpiryTime; ts += 10 {
		recs = append(recs, map[string]any{"v": 2, "msg": first.TempID, "org": "ID_MOH", "modelP": "SM-G973F", "modelC": "SM-G981B/DS", "rssi": -45, "txPower": 12, "timestamp": ts})
	}
	n = len(r.fake.Sent(budi.WaID))
	if code := devA.Do(t, "POST", "/api/v1/tracing/cases", officer.Token, map[string]string{"phone": "+" + budi.WaID, "onsetDate": time.Now().Format("2006-01-02")}, nil); code != 201 {
		t.Fatalf("mark positive: %d", code)
	}
	if c := r.sentAfter(budi.WaID, n)[0]; c.Type != "text" {
		t.Fatalf("consent request inside the window went as %s", c.Type)
	}
	r.ask(budi, "SETUJU", "")

	// A day later (the provider's clock), Ani is outside her window: her
	// exposure prompt goes as the approved template in Indonesian.
	r.skew.Store(int64(25 * time.Hour))
	n = len(r.fake.Sent(ani.WaID))
	var res struct{ Accepted int }
	if code := devA.Do(t, "POST", "/api/tracing/v1/uploads", devA.Token, map[string]any{"records": recs}, &res); code != 200 || res.Accepted != len(recs) {
		t.Fatalf("upload: %d %+v", code, res)
	}
	prompt := r.sentAfter(ani.WaID, n)[0]
	if prompt.Type != "template" || prompt.Template != "sijejak_paparan" || prompt.Language != "id" || len(prompt.Params) != 1 || prompt.Params[0] == "" {
		t.Fatalf("exposure prompt outside the window: %+v", prompt)
	}

	// An operator's reply to Budi now is held, not attempted.
	const late = "Mohon maaf, data sudah kami perbaiki."
	before := r.fake.Requests()
	if code := r.Call("POST", "/api/v1/tickets/"+number+"/replies", map[string]string{"text": late}, nil); code != http.StatusCreated {
		t.Fatalf("late reply: %d", code)
	}
	var st, note string
	for st, note = r.delivery(number, late); st != "held"; st, note = r.delivery(number, late) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(note, "24-hour") {
		t.Errorf("held without a clear reason: %q", note)
	}
	if r.fake.Requests() != before {
		t.Errorf("a held reply was attempted: %d requests, before %d", r.fake.Requests(), before)
	}
	// Budi writes again (at the provider's "now"): the window opens and
	// the held reply goes out as text.
	n = len(r.fake.Sent(budi.WaID))
	body, _ = r.fake.MessageAt(budi, "text", map[string]string{"body": "terima kasih"}, time.Now().Add(25*time.Hour))
	r.deliver(body)
	found := false
	for deadline := time.Now().Add(30 * time.Second); !found && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, s := range r.fake.Sent(budi.WaID)[n:] {
			found = found || (s.Text == late && s.Type == "text")
		}
	}
	if !found {
		t.Fatalf("the held reply was not released\n%s", r.Logs.String())
	}
	testlog.AssertClean(t, r.Logs.String(), "6281233334444", "6281211110002", reply, "3174014501900001")
	if strings.Contains(r.Logs.String(), cloudToken) {
		t.Error("the access token is in the log")
	}
}

// cloudRegister registers c's phone for Sijejak by the SIJEJAK message
// over the Cloud API.
func cloudRegister(t *testing.T, r *cloudRig, c graphfake.Citizen) *apptest.Device {
	t.Helper()
	d := &apptest.Device{G: r.Gateway, Phone: "+" + c.WaID}
	var reg struct{ Code string }
	if code := d.Do(t, "POST", "/api/tracing/v1/register", "", map[string]string{"phone": d.Phone}, &reg); code != 201 {
		t.Fatalf("register: %d", code)
	}
	r.ask(c, "SIJEJAK "+reg.Code, reg.Code)
	var v struct{ DeviceToken string }
	if code := d.Do(t, "POST", "/api/tracing/v1/register/verify", "", map[string]string{"phone": d.Phone, "code": reg.Code}, &v); code != 200 {
		t.Fatalf("verify: %d", code)
	}
	d.Token = v.DeviceToken
	return d
}

// TestWhatsAppCloudWebhookSecurity is issue 17's "must show 2": webhooks
// without the app secret's signature store nothing; a wrong verify token
// fails the handshake; the access token appears in no log and no error.
func TestWhatsAppCloudWebhookSecurity(t *testing.T) {
	r := startCloud(t)
	citizen := graphfake.Citizen{WaID: "6281255556666", Name: "Siti"}
	body, _ := r.fake.Text(citizen, "halo")
	forged, _ := r.fake.Text(citizen, "transfer data saya ke nomor lain")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"missing signature", body, "", http.StatusUnauthorized},
		{"signature of another secret", body, "sha256=" + strings.Repeat("ab", 32), http.StatusForbidden},
		{"not a sha256= header", body, "sha1=" + strings.Repeat("ab", 20), http.StatusForbidden},
		{"garbage signature", body, "sha256=zz", http.StatusForbidden},
		{"a replayed body with another body's signature", forged, r.fake.Sign(body), http.StatusForbidden},
		{"a signed body changed by one byte", append(bytes.Clone(body[:len(body)-1]), ' '), r.fake.Sign(body), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := r.fake.Post(ctx, tc.body, tc.sig)
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.want {
				t.Errorf("status %d, want %d", code, tc.want)
			}
		})
	}
	if n := countRows(t, r.Gateway, `SELECT COUNT(*) FROM messages`); n != 0 {
		t.Fatalf("%d messages stored from unsigned or forged webhooks", n)
	}
	if len(r.fake.Sent("")) != 0 {
		t.Fatal("the gateway answered a forged webhook")
	}
	// The genuine one is stored, once however often it comes.
	for i := 0; i < 5; i++ {
		if code, err := r.fake.Post(ctx, body, r.fake.Sign(body)); err != nil || code != http.StatusOK {
			t.Fatalf("signed webhook: %d %v", code, err)
		}
	}
	if n := countRows(t, r.Gateway, `SELECT COUNT(*) FROM messages WHERE direction = 'in'`); n != 1 {
		t.Fatalf("%d inbound messages after five deliveries of one", n)
	}

	// The handshake.
	for _, tc := range []struct {
		query string
		want  int
		echo  bool
	}{
		{"hub.mode=subscribe&hub.verify_token=" + cloudVerify + "&hub.challenge=1158201444", http.StatusOK, true},
		{"hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1158201444", http.StatusForbidden, false},
		{"hub.mode=subscribe&hub.challenge=1158201444", http.StatusForbidden, false},
		{"hub.mode=unsubscribe&hub.verify_token=" + cloudVerify + "&hub.challenge=1158201444", http.StatusForbidden, false},
	} {
		resp, err := http.Get(r.Base + "/webhooks/whatsapp?" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || (tc.echo != (string(b) == "1158201444")) {
			t.Errorf("handshake %s: %d %q", tc.query, resp.StatusCode, b)
		}
	}

	// A send refused for a bad token (190): the outbox keeps it, the
	// channel says why, and neither the row's error nor the log holds the
	// token.
	r.fake.Fail(graphfake.Fault{Code: 190, HTTPStatus: 401})
	r.write(citizen, "halo lagi")
	var last string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if r.fake.Requests() >= 3 {
			break
		}
	}
	rows, err := r.DB.Query(ctx, `SELECT last_error FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		rows.Scan(&last)
		if strings.Contains(last, cloudToken) {
			t.Errorf("outbox error holds the token: %q", last)
		}
	}
	rows.Close()
	var ready map[string]any
	resp, err := http.Get(r.Base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_ = ready
	if !bytes.Contains(b, []byte(`"provider":"cloud"`)) {
		t.Errorf("readyz does not show the provider: %s", b)
	}
	metrics := r.Get("/metrics")
	if !strings.Contains(metrics, `lindungi_whatsapp_cloud_webhooks_total{result="bad_signature"} 5`) ||
		!strings.Contains(metrics, `lindungi_whatsapp_cloud_webhooks_total{result="no_signature"} 1`) {
		t.Errorf("webhook metrics:\n%s", grepLines(metrics, "lindungi_whatsapp_cloud_webhooks_total"))
	}
	for _, s := range []string{r.Logs.String(), metrics} {
		if strings.Contains(s, cloudToken) || strings.Contains(s, cloudAppSecret) || strings.Contains(s, cloudVerify) {
			t.Error("a secret is in the log or the metrics")
		}
	}
	testlog.AssertClean(t, r.Logs.String(), "6281255556666")
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func countRows(t testing.TB, ta *apptest.Gateway, q string) int {
	t.Helper()
	var n int
	if err := ta.DB.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", q, err))
	}
	return n
}

// outboxRow reads an outbox row's status and delivery state.
func outboxRow(t testing.TB, ta *apptest.Gateway, id string) (status, delivery string) {
	t.Helper()
	if err := ta.DB.QueryRow(context.Background(), `SELECT status, delivery FROM outbox WHERE id = ?`, id).Scan(&status, &delivery); err != nil {
		t.Fatalf("outbox row %s: %v", id, err)
	}
	return status, delivery
}

// TestWhatsAppCloudDuplicatesAndOrder is issue 17's "must show 3", middle
// part: the same webhook delivered five times at once is one message and
// one reply; statuses repeated and out of order end in the right state;
// statuses that overtake the send's answer are kept, and a permanent
// failure among them dead-letters the message and flags its ticket.
func TestWhatsAppCloudDuplicatesAndOrder(t *testing.T) {
	r := startCloud(t)
	rina := graphfake.Citizen{WaID: "6281277778888", Name: "Rina"}
	body, _ := r.fake.Text(rina, "halo")
	done := make(chan error, 5)
	for i := 0; i < 5; i++ {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done <- r.fake.Deliver(ctx, body)
		}()
	}
	for i := 0; i < 5; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	greeting := r.sentAfter(rina.WaID, 0)
	if in := countRows(t, r.Gateway, `SELECT COUNT(*) FROM messages WHERE direction = 'in'`); in != 1 {
		t.Fatalf("%d inbound messages from five deliveries of one", in)
	}
	if rows := countRows(t, r.Gateway, `SELECT COUNT(*) FROM outbox`); rows != len(greeting) {
		t.Fatalf("%d outbox rows, %d messages sent", rows, len(greeting))
	}
	g := greeting[0]
	for _, st := range []string{"read", "sent", "delivered", "read", "sent", "delivered"} {
		r.deliver(r.fake.Status(g, st, 0))
		r.deliver(r.fake.Status(g, st, 0))
	}
	if _, dl := outboxRow(t, r.Gateway, g.CallbackData); dl != "read" {
		t.Fatalf("after statuses out of order the greeting is %q, want read", dl)
	}

	// Statuses before the send's answer: kept, and the outbox's own
	// record of the send does not undo them.
	r.fake.StatusesBeforeAnswer(0, "sent", "delivered")
	n := len(r.fake.Sent(rina.WaID))
	r.write(rina, "menu")
	early := r.sentAfter(rina.WaID, n)[0]
	var st, dl string
	for st, dl = outboxRow(t, r.Gateway, early.CallbackData); st != "sent"; st, dl = outboxRow(t, r.Gateway, early.CallbackData) {
		time.Sleep(10 * time.Millisecond)
	}
	if dl != "delivered" {
		t.Fatalf("early statuses lost: status %s, delivery %q", st, dl)
	}

	// A permanent failure reported before the answer: dead, the ticket
	// flagged, and it stays dead.
	n = len(r.fake.Sent(rina.WaID))
	r.fake.StatusesBeforeAnswer(0)
	r.ask(rina, "saya mau bicara dengan petugas", "PL-")
	var list apptest.TicketList
	r.Call("GET", "/api/v1/tickets?channel=whatsapp", nil, &list)
	if len(list.Tickets) != 1 {
		t.Fatalf("tickets: %+v", list.Tickets)
	}
	number := list.Tickets[0].ID
	r.fake.StatusesBeforeAnswer(131026, "failed")
	n = len(r.fake.Sent(rina.WaID))
	if code := r.Call("POST", "/api/v1/tickets/"+number+"/replies", map[string]string{"text": "Kami bantu, Bu Rina."}, nil); code != http.StatusCreated {
		t.Fatalf("reply: %d", code)
	}
	failed := r.sentAfter(rina.WaID, n)[0]
	r.fake.StatusesBeforeAnswer(0)
	for st, dl = outboxRow(t, r.Gateway, failed.CallbackData); st == "sending" || st == "queued"; st, dl = outboxRow(t, r.Gateway, failed.CallbackData) {
		time.Sleep(10 * time.Millisecond)
	}
	if st != "dead" || dl != "failed" {
		t.Fatalf("a permanent failure left the row %s/%s", st, dl)
	}
	var d struct {
		Ticket struct{ Flags []string } `json:"ticket"`
	}
	r.Call("GET", "/api/v1/tickets/"+number, nil, &d)
	if !strings.Contains(strings.Join(d.Ticket.Flags, ","), "delivery_failed") {
		t.Fatalf("ticket flags %v", d.Ticket.Flags)
	}
	if state, _ := r.delivery(number, "Kami bantu, Bu Rina."); state != "dead" {
		t.Fatalf("the ticket shows the failed reply as %q", state)
	}
	// A late "delivered" for it changes nothing.
	r.deliver(r.fake.Status(failed, "delivered", 0))
	if st, dl = outboxRow(t, r.Gateway, failed.CallbackData); st != "dead" || dl != "failed" {
		t.Fatalf("a late status revived a dead row: %s/%s", st, dl)
	}
}

// Meta's quality and tier webhooks show in /readyz, /metrics, the status
// route and the console's ticket list.
func TestWhatsAppCloudQualityShown(t *testing.T) {
	r := startCloud(t)
	// With this provider nothing holds a connection, so nothing is
	// elected: every replica takes webhooks.
	for _, name := range r.Singletons() {
		if name == "whatsapp" {
			t.Fatal("provider cloud runs a WhatsApp singleton")
		}
	}
	r.deliver(r.fake.QualityUpdate("FLAGGED", "TIER_10K"))
	if b := r.Get("/readyz"); !strings.Contains(b, `"quality":"FLAGGED"`) || !strings.Contains(b, `"tier":"TIER_10K"`) {
		t.Errorf("readyz: %s", b)
	}
	if m := r.Get("/metrics"); !strings.Contains(m, `lindungi_whatsapp_cloud_quality{quality="FLAGGED",tier="TIER_10K"} 1`) {
		t.Errorf("metrics:\n%s", grepLines(m, "lindungi_whatsapp_cloud_quality"))
	}
	var st map[string]string
	r.Call("GET", "/api/v1/whatsapp/status", nil, &st)
	if st["provider"] != "cloud" || st["tier"] != "TIER_10K" || st["state"] != "connected" {
		t.Errorf("status: %v", st)
	}
	c, err := r.Accounts.Add(context.Background(), "operator1", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar}
	resp, err := cl.PostForm(r.Base+"/login", url.Values{"name": {"operator1"}, "password": {c.Password}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "kualitas nomor FLAGGED") || !strings.Contains(string(page), "batas percakapan TIER_10K") {
		t.Errorf("console list lacks the number's quality:\n%s", grepLines(string(page), "WhatsApp"))
	}
}

// A token the Graph API refuses shows at start-up, as the channel's state
// in /readyz, without a citizen's message having to fail first; the token
// itself is in no log.
func TestWhatsAppCloudBadTokenAtStart(t *testing.T) {
	fake, err := graphfake.New("127.0.0.1:0", graphfake.Options{AccessToken: "the-right-token", AppSecret: cloudAppSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	ta := apptest.Start(t, cloudConfig(t, fake))
	var b string
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(b, `"whatsapp":"unauthorized"`); time.Sleep(20 * time.Millisecond) { // failure guard only
		if time.Now().After(deadline) {
			t.Fatalf("readyz never showed the refused token: %s", b)
		}
		b = ta.Get("/readyz")
	}
	if strings.Contains(ta.Logs.String(), cloudToken) {
		t.Error("the refused token is in the log")
	}
}
