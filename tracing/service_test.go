package tracing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"lindungi/channels"
	"lindungi/jobs"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tracing/score"
)

// fakeSender captures what would have gone to the outbox.
type fakeSender struct {
	mu   sync.Mutex
	sent []channels.Outbound
	n    int
}

func (f *fakeSender) Enqueue(ctx context.Context, tx *store.Tx, m channels.Outbound) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	m.ID = fmt.Sprintf("T%04d", f.n)
	// Only what commits counts, like the real outbox.
	tx.AfterCommit(func() {
		f.mu.Lock()
		f.sent = append(f.sent, m)
		f.mu.Unlock()
	})
	return m.ID, nil
}

func (f *fakeSender) to(phone, meta string) []channels.Outbound {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []channels.Outbound
	for _, m := range f.sent {
		if m.To == phone && (meta == "" || m.Meta["tracing"] == meta) {
			out = append(out, m)
		}
	}
	return out
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

const (
	phoneA = "+6281234567890"
	phoneB = "+6285712345678"
	phoneC = "+6281399990000"
)

type fixture struct {
	db     *store.DB
	svc    *Service
	sender *fakeSender
	clk    *clock
}

func newFixture(t testing.TB, db *store.DB, cfg Config) *fixture {
	f := &fixture{db: db, sender: &fakeSender{}, clk: &clock{t: time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)}}
	cfg.Now = f.clk.Now
	svc, err := NewService(context.Background(), db, storetest.Sealer(t), f.sender, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// register walks the WhatsApp registration: app asks for a code, the bot
// sees "SIJEJAK <code>" from the phone, the app verifies.
func (f *fixture) register(t testing.TB, phone string) Device {
	t.Helper()
	ctx := context.Background()
	code, link, err := f.svc.Register(ctx, phone, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if link != "https://wa.me/6281110500567?text=SIJEJAK%20"+code {
		t.Fatalf("link %s", link)
	}
	if _, err := f.svc.Verify(ctx, phone, code, ""); !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("verify before the WhatsApp message: %v", err)
	}
	if err := f.db.InTx(ctx, func(tx *store.Tx) error {
		return f.svc.ConfirmCode(ctx, tx, channels.WhatsApp, phone, strings.ToLower(code))
	}); err != nil {
		t.Fatal(err)
	}
	tok, err := f.svc.Verify(ctx, phone, code, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Verify(ctx, phone, code, ""); !errors.Is(err, ErrBadCode) {
		t.Fatalf("code reused: %v", err)
	}
	d, err := f.svc.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func count(t testing.TB, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// encounters makes n records one minute apart: uploader heard contact's
// TempIDs (valid at each time) at a strong signal.
func encounters(batch TempIDBatch, from time.Time, n int, rssi float64) []Record {
	var out []Record
	for i := 0; i < n; i++ {
		ts := from.Add(time.Duration(i) * time.Minute).Unix()
		msg := ""
		for _, id := range batch.TempIDs {
			if ts >= id.StartTime && ts < id.ExpiryTime {
				msg = id.TempID
				break
			}
		}
		out = append(out, Record{V: 2, Msg: msg, Org: "ID_MOH", ModelC: "SM-G981B/DS", ModelP: "samsung SM-A515F", RSSI: rssi, Timestamp: float64(ts)})
	}
	return out
}

func TestServiceFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Config{Score: score.Params{MinMinutes: 5}, MaxRecords: 1000, UploadsPerDevice: 100})
		svc := f.svc

		a := f.register(t, phoneA)
		b := f.register(t, "0857-1234-5678") // the same number as phoneB
		if a.UserID == b.UserID {
			t.Fatal("same user ID")
		}
		if n := count(t, db, `SELECT COUNT(*) FROM tracing_devices WHERE phone_index <> ''`); n != 2 {
			t.Fatalf("%d devices", n)
		}
		// Phone numbers are sealed: not in any column as text.
		if n := count(t, db, `SELECT COUNT(*) FROM tracing_devices WHERE user_id LIKE '%81234%' OR phone_index LIKE '%81234%'`); n != 0 {
			t.Fatal("phone number stored in clear")
		}

		meet := f.clk.Now()
		batchA, err := svc.TempIDs(ctx, a, meet)
		if err != nil {
			t.Fatal(err)
		}
		batchB, err := svc.TempIDs(ctx, b, meet)
		if err != nil {
			t.Fatal(err)
		}
		if len(batchB.TempIDs) != 100 || batchB.RefreshTime != meet.Add(12*time.Hour).Unix() {
			t.Fatalf("batch: %d, refresh %d", len(batchB.TempIDs), batchB.RefreshTime)
		}

		// A and B sit together for 30 minutes; A also logs itself, an
		// empty message and a tampered ID.
		recs := encounters(batchB, meet.Add(time.Minute), 30, -62)
		self := encounters(batchA, meet.Add(2*time.Minute), 1, -40)[0]
		tampered := recs[3]
		tampered.Msg = tamper(tampered.Msg, 10, 0x20)
		empty := recs[4]
		empty.Msg = ""
		recs = append(recs, self, tampered, empty)

		f.clk.Advance(3 * time.Hour)
		// No consent yet.
		if _, err := svc.Upload(ctx, a, recs); !errors.Is(err, ErrNotAuthorised) {
			t.Fatalf("upload without case: %v", err)
		}
		if _, err := svc.MarkPositive(ctx, "dr.sari", phoneC, meet, time.Time{}); !errors.Is(err, ErrNotRegistered) {
			t.Fatalf("unregistered phone: %v", err)
		}
		c, err := svc.MarkPositive(ctx, "dr.sari", phoneA, meet.Add(24*time.Hour), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		req := f.sender.to(phoneA, "consent_request")
		if len(req) != 1 || !strings.Contains(req[0].Text, "SETUJU") || req[0].Channel != "whatsapp" {
			t.Fatalf("consent request: %+v", req)
		}
		if auth, _ := svc.UploadAuthorisation(ctx, a); auth.Authorised {
			t.Fatal("authorised before consent")
		}
		if _, err := svc.Upload(ctx, a, recs); !errors.Is(err, ErrNotAuthorised) {
			t.Fatalf("upload before consent: %v", err)
		}
		var pending bool
		db.InTx(ctx, func(tx *store.Tx) error {
			pending, err = svc.PendingConsent(ctx, tx, channels.WhatsApp, phoneA)
			return err
		})
		if !pending {
			t.Fatal("no pending consent")
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			return svc.RecordConsent(ctx, tx, channels.WhatsApp, phoneA, true, req[0].Text)
		}); err != nil {
			t.Fatal(err)
		}
		db.InTx(ctx, func(tx *store.Tx) error {
			pending, err = svc.PendingConsent(ctx, tx, channels.WhatsApp, phoneA)
			return err
		})
		if pending {
			t.Fatal("still pending after the answer")
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return svc.RecordConsent(ctx, tx, channels.WhatsApp, phoneA, true, "") }); !errors.Is(err, ErrNoConsent) {
			t.Fatalf("second answer: %v", err)
		}
		auth, err := svc.UploadAuthorisation(ctx, a)
		if err != nil || !auth.Authorised || !auth.ExpiresAt.Equal(f.clk.Now().Add(24*time.Hour)) {
			t.Fatalf("authorisation %+v %v", auth, err)
		}
		if c.InfectiousFrom.After(meet) {
			t.Fatalf("infectious from %v, after the meeting %v", c.InfectiousFrom, meet)
		}

		// B cannot upload: no case, no consent.
		if _, err := svc.Upload(ctx, b, recs); !errors.Is(err, ErrNotAuthorised) {
			t.Fatalf("B uploads: %v", err)
		}

		res, err := svc.Upload(ctx, a, recs)
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != 30 || res.Rejected[ReasonSelfEncounter] != 1 || res.Rejected[ReasonFailedDecryption] != 1 || res.Rejected[ReasonNoMsg] != 1 || res.Notified != 1 || res.Contacts != 1 {
			t.Fatalf("upload result %+v", res)
		}
		prompts := f.sender.to(phoneB, "exposure")
		if len(prompts) != 1 {
			t.Fatalf("B got %d prompts", len(prompts))
		}
		p := prompts[0]
		// Quarantine until the exposure day (WIB) + 5 days.
		until := formatDate("id", meet.In(svc.cfg.Location).AddDate(0, 0, 5))
		if !strings.Contains(p.Text, "karantina mandiri") || !strings.Contains(p.Text, until) || p.Kind != "prompt" {
			t.Fatalf("prompt: %q (want %s)", p.Text, until)
		}
		for _, leak := range []string{"81234567890", "dr.sari", "0812", "Sari"} {
			if strings.Contains(p.Text, leak) {
				t.Fatalf("prompt leaks %q", leak)
			}
		}
		if len(f.sender.to(phoneA, "exposure")) != 0 {
			t.Fatal("the case was prompted about themself")
		}
		// Raw records are gone once matched; one exposure, notified.
		if n := count(t, db, `SELECT COUNT(*) FROM tracing_uploads WHERE raw_sealed IS NOT NULL OR matched_at IS NULL`); n != 0 {
			t.Fatalf("%d unmatched/raw uploads", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM tracing_exposures WHERE device_id = ? AND notified_at IS NOT NULL`, b.ID); n != 1 {
			t.Fatalf("%d exposures", n)
		}

		// Replay: recognised, nothing stored, nobody notified.
		again, err := svc.Upload(ctx, a, recs)
		if err != nil || !again.Replay || again.Notified != 0 {
			t.Fatalf("replay: %+v %v", again, err)
		}
		// Overlapping upload (a different body): stored, but B is not
		// prompted twice for the same day.
		over, err := svc.Upload(ctx, a, recs[:20])
		if err != nil || over.Replay || over.Notified != 0 || over.Accepted != 20 {
			t.Fatalf("overlap: %+v %v", over, err)
		}
		if n := len(f.sender.to(phoneB, "exposure")); n != 1 {
			t.Fatalf("B prompted %d times", n)
		}
		uploads := count(t, db, `SELECT COUNT(*) FROM tracing_uploads`)
		refusedBefore := count(t, db, `SELECT COUNT(*) FROM audit_log WHERE action = 'upload_refused'`)

		// Abuse: refused or rejected, counted, nothing stored.
		var forged []Record
		for _, r := range recs[:10] {
			r.Msg = tamper(r.Msg, 20, 0x01)
			forged = append(forged, r)
		}
		res, err = svc.Upload(ctx, a, forged)
		if err != nil || res.Accepted != 0 || res.Rejected[ReasonFailedDecryption] != 10 {
			t.Fatalf("tampered: %+v %v", res, err)
		}
		// An ID under a key ID we never had.
		unk := recs[:1]
		unk = []Record{unk[0]}
		unk[0].Msg = tamper(unk[0].Msg, 0, 200)
		res, err = svc.Upload(ctx, a, unk)
		if err != nil || res.Rejected[ReasonUnknownKey] != 1 {
			t.Fatalf("unknown key: %+v %v", res, err)
		}
		garbage := append([]Record(nil), recs[:5]...)
		garbage[2].RSSI = 900
		garbage[3].V = 0
		res, err = svc.Upload(ctx, a, garbage)
		if !errors.Is(err, ErrBadUpload) || res.Rejected[ReasonBadRecord] != 2 {
			t.Fatalf("garbage: %+v %v", res, err)
		}
		if _, err := svc.Upload(ctx, a, []Record{{V: 2, Msg: strings.Repeat("x", 5000), Timestamp: 1}}); !errors.Is(err, ErrBadUpload) {
			t.Fatalf("huge field: %v", err)
		}
		if _, err := svc.Upload(ctx, a, nil); !errors.Is(err, ErrBadUpload) {
			t.Fatalf("empty: %v", err)
		}
		many := make([]Record, 1001)
		for i := range many {
			many[i] = recs[0]
		}
		if _, err := svc.Upload(ctx, a, many); !errors.Is(err, ErrTooManyRecords) {
			t.Fatalf("too many: %v", err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM tracing_uploads`); n != uploads {
			t.Fatalf("refused uploads stored: %d → %d", uploads, n)
		}
		// Every refusal is counted; the audit log has the first of the hour
		// (refusals are what a script would repeat), and each upload that
		// was read but held no valid record.
		if n := count(t, db, `SELECT COUNT(*) FROM audit_log WHERE action = 'upload_rejected'`); n != 2 {
			t.Fatalf("%d rejected uploads audited, want 2", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM audit_log WHERE action = 'upload_refused'`) - refusedBefore; n > 1 {
			t.Fatalf("%d refusals audited in one hour, want at most 1", n)
		}
		if n := counted(t, svc, "refused_bad_upload") + counted(t, svc, "refused_too_many_records"); n != 4 {
			t.Fatalf("%v refusals counted, want 4", n)
		}
		// After the window.
		f.clk.Advance(25 * time.Hour)
		if _, err := svc.Upload(ctx, a, recs[:3]); !errors.Is(err, ErrNotAuthorised) {
			t.Fatalf("after window: %v", err)
		}

		// Audit: a row for consent, upload, match, notification; no PII.
		for _, act := range []string{"consent_requested", "consent_given", "upload_received", "upload_matched", "exposure_notified", "upload_replayed"} {
			if n := count(t, db, `SELECT COUNT(*) FROM audit_log WHERE action = ?`, act); n == 0 {
				t.Errorf("no audit row %s", act)
			}
		}
		rows, err := db.Query(ctx, `SELECT actor || ' ' || action || ' ' || object_type || ' ' || object_id || ' ' || detail FROM audit_log`)
		if err != nil {
			t.Fatal(err)
		}
		digits := regexp.MustCompile(`\d{9,}`)
		for rows.Next() {
			var s string
			rows.Scan(&s)
			if digits.MatchString(s) || strings.Contains(s, "+62") {
				t.Errorf("audit row with PII: %q", s)
			}
		}
		rows.Close()

		// Purge: a day later nothing is due except codes; 60 days later
		// everything of these citizens is gone.
		got, err := svc.Purge(ctx, f.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got["tracing_devices"] != 0 || got["tracing_exposures"] != 0 {
			t.Fatalf("purged too early: %v", got)
		}
		got, err = svc.Purge(ctx, f.clk.Now().Add(60*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got["tracing_devices"] != 2 || got["tracing_registrations"] != 2 {
			t.Fatalf("purge: %v", got)
		}
		for _, tbl := range purgeTables {
			if tbl == "tracing_keys" {
				continue
			}
			if n := count(t, db, `SELECT COUNT(*) FROM `+tbl); n != 0 {
				t.Errorf("%s: %d rows left", tbl, n)
			}
		}
	})
}

func TestOTPAndRateLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Config{})
		svc := f.svc
		f.register(t, phoneB)
		if err := svc.SendOTP(ctx, phoneB, "10.0.0.2"); err != nil {
			t.Fatal(err)
		}
		msgs := f.sender.to(phoneB, "otp")
		if len(msgs) != 1 || msgs[0].Kind != "otp" || msgs[0].Channel != "whatsapp" {
			t.Fatalf("otp messages %+v", msgs)
		}
		otp := regexp.MustCompile(`\b\d{6}\b`).FindString(msgs[0].Text)
		if otp == "" {
			t.Fatalf("no code in %q", msgs[0].Text)
		}
		// Brute force: five wrong guesses kill the OTP, the right one then fails.
		wrong := "000000"
		if wrong == otp {
			wrong = "111111"
		}
		for i := 0; i < 5; i++ {
			if _, err := svc.Verify(ctx, phoneB, "", wrong); !errors.Is(err, ErrBadCode) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		if _, err := svc.Verify(ctx, phoneB, "", otp); !errors.Is(err, ErrTooManyAttempts) {
			t.Fatalf("right OTP after 5 wrong guesses: %v", err)
		}
		// A fresh OTP works, once.
		svc.SendOTP(ctx, phoneB, "10.0.0.2")
		msgs = f.sender.to(phoneB, "otp")
		otp = regexp.MustCompile(`\b\d{6}\b`).FindString(msgs[len(msgs)-1].Text)
		tok, err := svc.Verify(ctx, phoneB, "", otp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
		// Reuse fails (and by now the per-phone verify limit of 10/h bites too).
		if _, err := svc.Verify(ctx, phoneB, "", otp); !errors.Is(err, ErrBadCode) && !errors.Is(err, ErrTooMany) {
			t.Fatalf("OTP reused: %v", err)
		}
		// Third OTP this hour is allowed, the fourth is not.
		if err := svc.SendOTP(ctx, phoneB, "10.0.0.2"); err != nil {
			t.Fatal(err)
		}
		if err := svc.SendOTP(ctx, phoneB, "10.0.0.2"); !errors.Is(err, ErrTooMany) {
			t.Fatalf("4th OTP: %v", err)
		}
		// An expired OTP fails.
		f.clk.Advance(2 * time.Hour)
		svc.SendOTP(ctx, phoneB, "10.0.0.2")
		msgs = f.sender.to(phoneB, "otp")
		otp = regexp.MustCompile(`\b\d{6}\b`).FindString(msgs[len(msgs)-1].Text)
		f.clk.Advance(6 * time.Minute)
		if _, err := svc.Verify(ctx, phoneB, "", otp); !errors.Is(err, ErrBadCode) {
			t.Fatalf("expired OTP: %v", err)
		}
		// Registration per IP.
		var last error
		for i := 0; i < 40 && last == nil; i++ {
			_, _, last = svc.Register(ctx, fmt.Sprintf("+62812000%05d", i), "192.0.2.9")
		}
		if !errors.Is(last, ErrTooMany) {
			t.Fatalf("per-IP limit: %v", last)
		}
		// Old tokens stop working.
		if _, err := svc.Authenticate(ctx, "forged"); !errors.Is(err, ErrBadToken) {
			t.Fatal(err)
		}
		// A code confirmed from another phone does not count.
		code, _, _ := svc.Register(ctx, phoneA, "10.0.0.3")
		if err := db.InTx(ctx, func(tx *store.Tx) error { return svc.ConfirmCode(ctx, tx, channels.WhatsApp, phoneC, code) }); !errors.Is(err, ErrBadCode) {
			t.Fatalf("confirm from another phone: %v", err)
		}
	})
}

func TestKeyRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Config{})
		svc := f.svc
		d := f.register(t, phoneA)
		now := f.clk.Now()
		old, err := svc.TempIDs(ctx, d, now)
		if err != nil {
			t.Fatal(err)
		}
		k1, _ := svc.keys.Current()
		// Not due yet.
		if err := svc.RotateKeys(ctx, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if k, _ := svc.keys.Current(); k != k1 {
			t.Fatal("rotated early")
		}
		if err := svc.RotateKeys(ctx, now.Add(25*time.Hour)); err != nil {
			t.Fatal(err)
		}
		k2, _ := svc.keys.Current()
		if k2 == k1 {
			t.Fatal("not rotated")
		}
		// A second service (another replica) sees both keys.
		other, err := NewService(ctx, db, svc.sealer, f.sender, Config{Now: f.clk.Now}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.keys.Decrypt(old.TempIDs[0].TempID); err != nil {
			t.Fatalf("old ID after rotation: %v", err)
		}
		// 21 days on, the retired key is gone.
		if err := svc.RotateKeys(ctx, now.Add(22*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.keys.Decrypt(old.TempIDs[0].TempID); ReasonOf(err) != ReasonUnknownKey {
			t.Fatalf("old key kept: %v", err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM tracing_keys`); n > 2 {
			t.Fatalf("%d keys kept", n)
		}
	})
}

func TestDecodeUploadAndMetrics(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFixture(t, db, Config{MaxUploadBytes: 2000})
	recs, err := f.svc.DecodeUpload(strings.NewReader(`{"records":[{"v":2,"msg":"x","org":"ID_MOH","modelP":"A","modelC":"B","rssi":-60,"txPower":-8,"timestamp":1780000000123}]}`))
	if err != nil || len(recs) != 1 || recs[0].TxPower == nil || *recs[0].TxPower != -8 {
		t.Fatalf("%+v %v", recs, err)
	}
	if _, err := f.svc.DecodeUpload(strings.NewReader(`{"records":[` + strings.Repeat(`{"v":2},`, 400) + `{}]}`)); !errors.Is(err, ErrUploadTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if _, err := f.svc.DecodeUpload(strings.NewReader(`{"records":"nope"}`)); !errors.Is(err, ErrBadUpload) {
		t.Fatalf("garbage: %v", err)
	}
	reg := prometheus.NewRegistry()
	if err := f.svc.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
}

func TestMillisecondTimestamps(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	f := newFixture(t, db, Config{Score: score.Params{MinMinutes: 5}})
	a := f.register(t, phoneA)
	b := f.register(t, phoneB)
	meet := f.clk.Now()
	batch, _ := f.svc.TempIDs(ctx, b, meet)
	recs := encounters(batch, meet.Add(time.Minute), 20, -60)
	for i := range recs {
		recs[i].Timestamp *= 1000
	}
	f.clk.Advance(time.Hour)
	f.svc.MarkPositive(ctx, "dr.budi", phoneA, meet, time.Time{})
	if err := db.InTx(ctx, func(tx *store.Tx) error { return f.svc.RecordConsent(ctx, tx, channels.WhatsApp, phoneA, true, "") }); err != nil {
		t.Fatal(err)
	}
	// B wrote to the bot in English before: the prompt is in English.
	if _, err := db.Exec(ctx, `INSERT INTO contacts (channel, address, lang, created_at, updated_at) VALUES ('whatsapp', ?, 'en', ?, ?)`, phoneB, store.Now(), store.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Upload(ctx, a, recs)
	if err != nil || res.Accepted != 20 || res.Notified != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	p := f.sender.to(phoneB, "exposure")
	if len(p) != 1 || !strings.Contains(p[0].Text, "self-quarantine until 25 November 2026") {
		t.Fatalf("English prompt: %+v", p)
	}
}

func TestMatchPendingAfterCrash(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	f := newFixture(t, db, Config{Score: score.Params{MinMinutes: 5}})
	a := f.register(t, phoneA)
	b := f.register(t, phoneB)
	meet := f.clk.Now()
	batch, _ := f.svc.TempIDs(ctx, b, meet)
	f.clk.Advance(time.Hour)
	f.svc.MarkPositive(ctx, "dr.budi", phoneA, meet, time.Time{})
	db.InTx(ctx, func(tx *store.Tx) error { return f.svc.RecordConsent(ctx, tx, channels.WhatsApp, phoneA, true, "") })
	f.svc.crashBeforeMatch = true
	res, err := f.svc.Upload(ctx, a, encounters(batch, meet, 20, -60))
	if err != nil || res.Notified != 0 || res.UploadID == 0 {
		t.Fatalf("%+v %v", res, err)
	}
	f.svc.crashBeforeMatch = false
	if got := count(t, db, `SELECT COUNT(*) FROM tracing_uploads WHERE raw_sealed IS NOT NULL AND matched_at IS NULL`); got != 1 {
		t.Fatalf("%d pending", got)
	}
	// The scheduled job is what finds it.
	match := job(t, f.svc, "match-pending-uploads")
	env := jobs.Env{Job: match.Name, Now: f.clk.Now()}
	if n, err := match.Run(ctx, env); err != nil || n != 1 {
		t.Fatalf("pending matched: %d %v", n, err)
	}
	if n, err := match.Run(ctx, env); err != nil || n != 0 {
		t.Fatalf("second run: %d %v", n, err)
	}
	if got := len(f.sender.to(phoneB, "exposure")); got != 1 {
		t.Fatalf("B prompted %d times", got)
	}
}

// job returns the Sijejak job called name.
func job(t *testing.T, s *Service, name string) jobs.Job {
	t.Helper()
	for _, j := range s.Jobs() {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("no job %s among tracing's", name)
	return jobs.Job{}
}

// The purge job reports the rows of every table the purge deleted; the key
// job creates the next TempID key.
func TestPurgeAndKeyJobs(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	f := newFixture(t, db, Config{RegisterPerPhone: 100, RegisterPerIP: 100})
	for i := 0; i < 3; i++ {
		if _, _, err := f.svc.Register(ctx, phoneFor(i), "10.1.1.1"); err != nil {
			t.Fatal(err)
		}
	}
	later := f.clk.Now().Add(49 * time.Hour)
	purged, err := job(t, f.svc, "purge-tracing").Run(ctx, jobs.Env{Now: later})
	if err != nil || purged < 3 {
		t.Errorf("purge job: %d rows, %v; want at least the 3 registrations", purged, err)
	}
	keys := func() int { return count(t, db, `SELECT COUNT(*) FROM tracing_keys`) }
	before := keys()
	if _, err := job(t, f.svc, "rotate-tempid-keys").Run(ctx, jobs.Env{Now: f.clk.Now().Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if after := keys(); after <= before {
		t.Errorf("rotate job: %d keys before, %d after", before, after)
	}
}

func TestPurgeBatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Config{PurgeBatch: 10, RegisterPerPhone: 100, RegisterPerIP: 100})
		for i := 0; i < 25; i++ {
			if _, _, err := f.svc.Register(ctx, phoneFor(i), "10.1.1.1"); err != nil {
				t.Fatal(err)
			}
		}
		// Codes live 15 minutes and are kept 48 hours after.
		got, err := f.svc.Purge(ctx, f.clk.Now().Add(48*time.Hour))
		if err != nil || got["tracing_registrations"] != 0 {
			t.Fatalf("early: %v %v", got, err)
		}
		got, err = f.svc.Purge(ctx, f.clk.Now().Add(49*time.Hour))
		if err != nil || got["tracing_registrations"] != 25 || got["tracing_rate_limits"] == 0 {
			t.Fatalf("purge: %v %v", got, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM audit_log WHERE action = 'purged'`); n != 1 {
			t.Fatalf("%d purge audit rows", n)
		}
	})
}

// counted reads lindungi_tracing_uploads_total{outcome}.
func counted(t testing.TB, svc *Service, outcome string) float64 {
	t.Helper()
	var m dto.Metric
	if err := svc.m.uploads.WithLabelValues(outcome).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// A SIJEJAK code or a consent answer speaks for a phone only when it came
// on the tracing channel: the same words from the simulator (anyone with
// its token, "from" any number) register nothing and consent to nothing.
func TestCodeAndConsentOnlyFromTracingChannel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Config{})
		svc := f.svc
		code, _, err := svc.Register(ctx, phoneB, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		inTx := func(fn func(tx *store.Tx) error) error { return db.InTx(ctx, fn) }
		if err := inTx(func(tx *store.Tx) error { return svc.ConfirmCode(ctx, tx, channels.Simulator, phoneB, code) }); !errors.Is(err, ErrBadCode) {
			t.Fatalf("code from the simulator: %v, want %v", err, ErrBadCode)
		}
		if _, err := svc.Verify(ctx, phoneB, code, ""); !errors.Is(err, ErrNotConfirmed) {
			t.Fatalf("verify after a simulator code: %v, want %v", err, ErrNotConfirmed)
		}
		f.register(t, phoneA) // on WhatsApp
		if _, err := svc.MarkPositive(ctx, "officer", phoneA, f.clk.Now(), time.Time{}); err != nil {
			t.Fatal(err)
		}
		var pending bool
		if err := inTx(func(tx *store.Tx) (err error) {
			pending, err = svc.PendingConsent(ctx, tx, channels.Simulator, phoneA)
			return err
		}); err != nil || pending {
			t.Fatalf("pending consent seen from the simulator: %v %v", pending, err)
		}
		if err := inTx(func(tx *store.Tx) error { return svc.RecordConsent(ctx, tx, channels.Simulator, phoneA, true, "") }); !errors.Is(err, ErrNoConsent) {
			t.Fatalf("consent from the simulator: %v, want %v", err, ErrNoConsent)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM tracing_upload_windows`); n != 0 {
			t.Fatalf("%d upload windows opened from the simulator", n)
		}
		if err := inTx(func(tx *store.Tx) error { return svc.RecordConsent(ctx, tx, channels.WhatsApp, phoneA, true, "") }); err != nil {
			t.Fatalf("consent on WhatsApp: %v", err)
		}
	})
}
