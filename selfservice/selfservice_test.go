package selfservice_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"lindungi/certificate"
	"lindungi/channels"
	"lindungi/registry"
	"lindungi/registry/fhirfake"
	"lindungi/selfservice"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/testlog"
	"lindungi/tickets"
)

const (
	nikSiti  = "3174055708900003" // two doses, registered number +6281234567890
	dobSiti  = "1990-08-17"
	phoneSit = "+6281234567890"
	nikAgus  = "3273010101850007" // no dose recorded
	dobAgus  = "1985-01-01"
	phoneAgu = "+6281398765432"
	stranger = "+6285700001111"
)

type env struct {
	t       *testing.T
	db      *store.DB
	fake    *fhirfake.Server
	svc     *selfservice.Service
	wa      *channels.Recorder
	sent    int
	logs    *testlog.Buffer
	tickets *tickets.Store
}

func newEnv(t *testing.T) *env { return newEnvWith(t, storetest.SQLite(t), nil) }

// newEnvWith runs on db and lets a test stand between the service and the
// registry.
func newEnvWith(t *testing.T, db *store.DB, wrap func(registry.Registry) registry.Registry) *env {
	t.Helper()
	sealer := storetest.Sealer(t)
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := tickets.New(db, sealer)
	ob := channels.NewOutbox(db, channels.OutboxConfig{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	wa := channels.NewRecorder("whatsapp")
	ob.Register(wa)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	fake := fhirfake.New("lindungi", "s3cret")
	fake.AddPatient(fhirfake.Patient{ID: "P02478375538", NIK: nikSiti, Name: "Siti Aminah", Gender: "female", BirthDate: dobSiti, Phone: "0812-3456-7890"})
	fake.AddDose(fhirfake.Dose{ID: "imm-1", PatientID: "P02478375538", Date: "2021-08-17", KFACode: "93001019", VaccineName: "CoronaVac", Place: "Puskesmas Kebayoran Baru", Dose: 1, Series: 2})
	fake.AddDose(fhirfake.Dose{ID: "imm-2", PatientID: "P02478375538", Date: "2021-09-14", KFACode: "93001019", VaccineName: "CoronaVac", Place: "Puskesmas Kebayoran Baru", Dose: 2, Series: 2})
	fake.AddPatient(fhirfake.Patient{ID: "P01234567890", NIK: nikAgus, Name: "Agus Salim", Gender: "male", BirthDate: dobAgus, Phone: phoneAgu})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	reg := registry.NewFHIR(registry.Config{BaseURL: srv.URL + fhirfake.FHIRPath, TokenURL: srv.URL + fhirfake.TokenPath,
		ClientID: "lindungi", ClientSecret: "s3cret", Attempts: 2, Timeout: time.Second, BreakerFailures: 100, CacheTTL: time.Nanosecond}, log)
	var r registry.Registry = reg
	if wrap != nil {
		r = wrap(reg)
	}
	signer, err := certificate.DemoSigner(t.TempDir(), "ID", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	svc := selfservice.New(db, sealer, ts, ob, r, signer, selfservice.Config{VerifyURL: "https://lindungi.example/verify"}, log)
	return &env{t: t, db: db, fake: fake, svc: svc, wa: wa, logs: logs, tickets: ts}
}

// contact makes the sender's contact, as the bot would have.
func (e *env) contact(from string) int64 {
	var id int64
	err := e.db.InTx(context.Background(), func(tx *store.Tx) error {
		c, err := e.tickets.UpsertContact(context.Background(), tx, "whatsapp", from, "")
		id = c.ID
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) req(kind, from, nik, dob string) selfservice.Request {
	return selfservice.Request{Kind: kind, Channel: "whatsapp", From: from, ContactID: e.contact(from), Lang: "id",
		Fields: map[string]string{"nik": nik, "dob": dob, "name": "x", "description": "sertifikat belum muncul"}}
}

// next returns the messages sent since the last call (n of them).
func (e *env) next(n int) []channels.Outbound {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if !e.wa.WaitFor(ctx, e.sent+n) {
		e.t.Fatalf("expected %d more messages, have %d", n, len(e.wa.Sent())-e.sent)
	}
	all := e.wa.Sent()
	out := all[e.sent:]
	e.sent = len(all)
	return out
}

func (e *env) count(q string) int {
	var n int
	if err := e.db.QueryRow(context.Background(), q).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestRequests(t *testing.T) {
	for _, c := range []struct {
		name       string
		kind       string
		from, nik  string
		dob        string
		fault      func(*fhirfake.Server)
		want       []string // in the reply
		pdf        bool
		newTickets int
	}{
		{"status, registered number", tickets.VaccinationStatus, phoneSit, nikSiti, dobSiti, nil,
			[]string{"Siti Aminah", "Dosis 1: 17 Agustus 2021, CoronaVac, Puskesmas Kebayoran Baru", "Dosis 2: 14 September 2021"}, false, 0},
		{"certificate download", tickets.CertificateDownload, phoneSit, nikSiti, dobSiti, nil,
			[]string{"sertifikat vaksinasi atas nama *Siti Aminah*", "https://lindungi.example/verify"}, true, 0},
		{"certificate missing, dose now recorded: certificate, no ticket", tickets.CertificateMissing, phoneSit, nikSiti, dobSiti, nil,
			[]string{"sertifikat vaksinasi"}, true, 0},
		{"certificate missing, no dose: ticket with the registry's answer", tickets.CertificateMissing, phoneAgu, nikAgus, dobAgus, nil,
			[]string{"belum tercatat", "PL-"}, false, 1},
		{"status, no dose", tickets.VaccinationStatus, phoneAgu, nikAgus, dobAgus, nil,
			[]string{"Belum ada dosis"}, false, 0},
		{"status in English", tickets.VaccinationStatus, phoneSit, nikSiti, dobSiti, nil,
			[]string{"Vaccination status for *Siti Aminah*", "Dose 2: 14 September 2021, CoronaVac"}, false, 0},
		{"wrong birth date", tickets.VaccinationStatus, phoneSit, nikSiti, "1990-08-18", nil,
			[]string{"tidak menemukan data", "Sisa percobaan: 4"}, false, 0},
		{"registry down: try later", tickets.VaccinationStatus, phoneSit, nikSiti, dobSiti, func(s *fhirfake.Server) { s.Fail5xx(100) },
			[]string{"coba lagi"}, false, 0},
		{"registry down, certificate missing: filed, nothing lost", tickets.CertificateMissing, phoneSit, nikSiti, dobSiti, func(s *fhirfake.Server) { s.Fail5xx(100) },
			[]string{"tidak dapat dihubungi", "PL-"}, false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			if c.fault != nil {
				c.fault(e.fake)
			}
			r := e.req(c.kind, c.from, c.nik, c.dob)
			if strings.HasSuffix(c.name, "in English") {
				r.Lang = "en"
			}
			e.svc.Handle(context.Background(), r)
			m := e.next(1)[0]
			if m.To != c.from {
				t.Errorf("sent to %s, want the sender %s", m.To, c.from)
			}
			for _, w := range c.want {
				if !strings.Contains(m.Text, w) {
					t.Errorf("reply %q lacks %q", m.Text, w)
				}
			}
			if c.pdf != (len(m.Attachments) == 1) || (c.pdf && !bytes.HasPrefix(m.Attachments[0].Data, []byte("%PDF-"))) {
				t.Errorf("attachments %d, want a PDF: %v", len(m.Attachments), c.pdf)
			}
			// Health data leaves no copy in the outbox once delivered.
			if c.pdf && m.Kind != channels.KindExport {
				t.Errorf("certificate sent as %q, want %q", m.Kind, channels.KindExport)
			}
			if n := e.count(`SELECT COUNT(*) FROM tickets`); n != c.newTickets {
				t.Errorf("%d tickets, want %d", n, c.newTickets)
			}
			if c.newTickets == 1 {
				number := regexp.MustCompile(`PL-\d{4}-\d+`).FindString(m.Text)
				tk, _, err := e.tickets.Detail(context.Background(), number)
				if err != nil {
					t.Fatalf("ticket %q: %v", number, err)
				}
				if tk.Category != c.kind || tk.Fields["nik"] != c.nik || !strings.Contains(tk.Fields["registry_result"], "registry unavailable") && !strings.Contains(tk.Fields["registry_result"], "no completed Immunization") {
					t.Errorf("ticket %s %s fields %v: want the citizen's answers and the registry's", tk.Number, tk.Category, tk.Fields)
				}
			}
			// Audited, and the NIK appears neither there nor in the logs.
			if n := e.count(`SELECT COUNT(*) FROM audit_log WHERE action LIKE 'selfservice.%'`); n != 1 {
				t.Errorf("%d audit rows, want 1", n)
			}
			if n := e.count(`SELECT COUNT(*) FROM audit_log WHERE object_id LIKE '%` + c.nik + `%' OR detail LIKE '%` + c.nik + `%'`); n != 0 {
				t.Error("the audit log holds the NIK in clear")
			}
			testlog.AssertClean(t, e.logs.String(), c.nik, c.dob, "Siti Aminah", "Agus Salim")
		})
	}
}

var codeRE = regexp.MustCompile(`\b\d{6}\b`)

func TestOtherNumberNeedsTheCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { testOtherNumberNeedsTheCode(t, newEnvWith(t, db, nil)) })
}

func testOtherNumberNeedsTheCode(t *testing.T, e *env) {
	r := e.req(tickets.VaccinationStatus, stranger, nikSiti, dobSiti)
	e.svc.Handle(context.Background(), r)
	msgs := e.next(2)
	var otp, notice channels.Outbound
	for _, m := range msgs {
		if m.To == phoneSit {
			otp = m
		} else {
			notice = m
		}
	}
	// The stranger learns nothing of the registered number, not even
	// its last digits.
	if notice.To != stranger || !strings.Contains(notice.Text, "kode 6 angka") || strings.Contains(notice.Text, "7890") || strings.Contains(notice.Text, "Dosis") {
		t.Fatalf("the stranger got %q", notice.Text)
	}
	code := codeRE.FindString(otp.Text)
	if otp.Kind != "otp" || code == "" {
		t.Fatalf("the registered number got %q", otp.Text)
	}
	// The Cloud API sends the code as Meta's authentication template.
	if want := map[string]string{"template": "otp", "code": code, "lang": "id"}; !maps.Equal(otp.Meta, want) {
		t.Errorf("OTP meta %v, want %v", otp.Meta, want)
	}

	// A wrong code gives nothing away and forgets the pending request.
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	e.svc.Code(context.Background(), r, wrong)
	if m := e.next(1)[0]; !strings.Contains(m.Text, "tidak cocok") {
		t.Fatalf("wrong code answered %q", m.Text)
	}
	e.svc.Code(context.Background(), r, code)
	if m := e.next(1)[0]; !strings.Contains(m.Text, "tidak cocok") {
		t.Fatalf("the code of a forgotten request answered %q", m.Text)
	}

	// Asked again, the right code unlocks the status, sent to the asker.
	e.svc.Handle(context.Background(), r)
	msgs = e.next(2)
	for _, m := range msgs {
		if m.To == phoneSit {
			code = codeRE.FindString(m.Text)
		}
	}
	e.svc.Code(context.Background(), r, code)
	if m := e.next(1)[0]; m.To != stranger || !strings.Contains(m.Text, "Dosis 2") {
		t.Fatalf("after the right code: %s got %q", m.To, m.Text)
	}
}

func TestFiveWrongCombinationsStop(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 5; i++ {
		e.svc.Handle(context.Background(), e.req(tickets.VaccinationStatus, stranger, nikSiti, "1990-01-0"+string(rune('0'+i))))
		m := e.next(1)[0]
		if i < 5 && !strings.Contains(m.Text, "tidak menemukan") {
			t.Fatalf("attempt %d: %q", i, m.Text)
		}
		if i == 5 && !strings.Contains(m.Text, "pilih *4*") {
			t.Fatalf("fifth wrong attempt: %q, want the stop and the operator", m.Text)
		}
	}
	fhirBefore, _ := e.fake.Requests()
	// Even the right combination is refused now, without asking the registry.
	e.svc.Handle(context.Background(), e.req(tickets.VaccinationStatus, stranger, nikSiti, dobSiti))
	if m := e.next(1)[0]; !strings.Contains(m.Text, "hentikan sementara") {
		t.Fatalf("after the stop: %q", m.Text)
	}
	if after, _ := e.fake.Requests(); after != fhirBefore {
		t.Error("a stopped sender's request reached the registry")
	}
}

func TestServes(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		channel, kind string
		want          bool
	}{
		{"whatsapp", tickets.VaccinationStatus, true},
		{"whatsapp", tickets.CertificateMissing, true},
		{"whatsapp", tickets.ChangeData, false},
		{"email", tickets.CertificateDownload, false},
		{"simulator", tickets.VaccinationStatus, false},
	} {
		if got := e.svc.Serves(c.channel, c.kind); got != c.want {
			t.Errorf("Serves(%s, %s) = %v, want %v", c.channel, c.kind, got, c.want)
		}
	}
}

func TestIsCode(t *testing.T) {
	for _, c := range []struct {
		in   string
		code string
		ok   bool
	}{
		{"KODE 123456", "123456", true},
		{" kode 000001 ", "000001", true},
		{"code 654321", "654321", true},
		{"KODE 12345", "", false},
		{"KODE 12345a", "", false},
		{"123456", "", false},
	} {
		code, ok := selfservice.IsCode(c.in)
		if code != c.code || ok != c.ok {
			t.Errorf("IsCode(%q) = %q, %v", c.in, code, ok)
		}
	}
}

// A data-subject request reaches the sender rows: exported without NIK,
// erased with the pending request they may hold.
func TestExportAndEraseSenders(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.svc.Handle(ctx, e.req(tickets.VaccinationStatus, stranger, nikSiti, "1990-01-01"))
	e.next(1)
	e.svc.Handle(ctx, e.req(tickets.VaccinationStatus, stranger, nikSiti, dobSiti)) // leaves a pending code
	e.next(2)
	recs, err := e.svc.ExportSenders(ctx, []string{stranger})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || !recs[0].CodePending || recs[0].FailedAttempts != 1 {
		t.Fatalf("export %+v: want one sender with a pending code and the wrong attempt (a match from another number clears nothing)", recs)
	}
	var n int64
	err = e.db.InTx(ctx, func(tx *store.Tx) (err error) {
		n, err = e.svc.EraseSenders(ctx, tx, []string{stranger, phoneSit})
		return err
	})
	if err != nil || n != 1 {
		t.Fatalf("erased %d, %v; want 1", n, err)
	}
	if recs, _ := e.svc.ExportSenders(ctx, []string{stranger}); len(recs) != 0 {
		t.Errorf("after erasure: %+v", recs)
	}
}

// barrier holds every FindPerson until n of them are in flight, so that
// concurrent requests overlap for certain, without timing.
type barrier struct {
	registry.Registry
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func (b *barrier) FindPerson(ctx context.Context, nik, dob string) (registry.Person, error) {
	b.mu.Lock()
	if b.arrived++; b.arrived == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-ctx.Done():
		return registry.Person{}, ctx.Err()
	}
	return b.Registry.FindPerson(ctx, nik, dob)
}

// Wrong birth dates sent at once each count: the eight workers of a
// process (and the replicas) take them together, and a count read before
// the registry call and written after it lost all but one.
func TestConcurrentWrongCombinationsAllCount(t *testing.T) {
	storetest.Each(t, testConcurrentWrongCombinationsAllCount)
}

func testConcurrentWrongCombinationsAllCount(t *testing.T, db *store.DB) {
	const n = 5 // the limit
	b := &barrier{n: n, all: make(chan struct{})}
	e := newEnvWith(t, db, func(r registry.Registry) registry.Registry { b.Registry = r; return b })
	var wg sync.WaitGroup
	for i := range n {
		r := e.req(tickets.VaccinationStatus, stranger, nikSiti, "1990-01-0"+string(rune('1'+i)))
		wg.Add(1)
		go func() { defer wg.Done(); e.svc.Handle(context.Background(), r) }()
	}
	wg.Wait()
	locked := 0
	for _, m := range e.next(n) {
		if strings.Contains(m.Text, "hentikan sementara") {
			locked++
		}
	}
	if locked != 1 {
		t.Errorf("%d of %d concurrent wrong attempts answered with the stop, want 1", locked, n)
	}
	recs, err := e.svc.ExportSenders(context.Background(), []string{stranger})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].FailedAttempts != n || recs[0].StoppedUntil == nil {
		t.Fatalf("sender %+v: want %d attempts counted and a stop", recs, n)
	}
}

// Of several answers with the live code at once, one is served: a code
// is checked once, however many workers hold a "KODE" message.
func TestConcurrentCodesServeOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { testConcurrentCodesServeOnce(t, newEnvWith(t, db, nil)) })
}

func testConcurrentCodesServeOnce(t *testing.T, e *env) {
	r := e.req(tickets.VaccinationStatus, stranger, nikSiti, dobSiti)
	e.svc.Handle(context.Background(), r)
	var code string
	for _, m := range e.next(2) {
		if m.To == phoneSit {
			code = codeRE.FindString(m.Text)
		}
	}
	const n = 8
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); e.svc.Code(context.Background(), r, code) }()
	}
	wg.Wait()
	served := 0
	for _, m := range e.next(n) {
		if strings.Contains(m.Text, "Dosis 2") {
			served++
		}
	}
	if served != 1 {
		t.Errorf("the code served %d of %d concurrent answers, want 1", served, n)
	}
}

// Only a match on the sender's own registered number clears the count.
// From another number a known NIK and birth date must not buy four more
// guesses each time.
func TestOnlyTheOwnNumberClearsMistakes(t *testing.T) {
	for _, c := range []struct {
		name string
		from string
		want string // the answer to the wrong attempt after the match
	}{
		{"another number: the fifth mistake stops", stranger, "hentikan sementara"},
		{"the registered number: counting starts again", phoneSit, "Sisa percobaan: 4"},
	} {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			t.Run(c.name, func(t *testing.T) { testOwnNumber(t, newEnvWith(t, db, nil), c.from, c.want) })
		})
	}
}

func testOwnNumber(t *testing.T, e *env, from, want string) {
	for i := 1; i <= 4; i++ {
		e.svc.Handle(context.Background(), e.req(tickets.VaccinationStatus, from, nikSiti, "1990-01-0"+string(rune('0'+i))))
		e.next(1)
	}
	e.svc.Handle(context.Background(), e.req(tickets.VaccinationStatus, from, nikSiti, dobSiti))
	if from == stranger {
		e.next(2) // the notice and the code to the registered number
	} else {
		e.next(1)
	}
	e.svc.Handle(context.Background(), e.req(tickets.VaccinationStatus, from, nikSiti, "1990-01-09"))
	if m := e.next(1)[0]; !strings.Contains(m.Text, want) {
		t.Errorf("wrong attempt after the match answered %q, want %q", m.Text, want)
	}
}

// The stored code is keyed with the data key: a copy of the database
// alone, which holds the sender index beside it, must not let anyone find
// the live code by hashing the million candidates.
func TestCodeHashIsKeyed(t *testing.T) {
	e := newEnv(t)
	e.svc.Handle(context.Background(), e.req(tickets.VaccinationStatus, stranger, nikSiti, dobSiti))
	var code string
	for _, m := range e.next(2) {
		if m.To == phoneSit {
			code = codeRE.FindString(m.Text)
		}
	}
	var idx, hash string
	if err := e.db.QueryRow(context.Background(), `SELECT sender_index, otp_hash FROM selfservice_senders`).Scan(&idx, &hash); err != nil {
		t.Fatal(err)
	}
	for _, guess := range []string{idx + ":" + code, code} {
		h := sha256.Sum256([]byte(guess))
		if hex.EncodeToString(h[:]) == hash {
			t.Fatalf("the stored code is an unkeyed SHA-256 of %q", guess)
		}
	}
}
