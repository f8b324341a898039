package main

// End-to-end tests of the e-mail channel: a real Dovecot (package
// dovecottest), the YAML mailbox contract, the real wiring (in-process or the
// real binary killed with SIGKILL) and an in-test go-smtp server standing in
// for the submission server and the citizens' mailboxes.

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"lindungi/accounts"
	"lindungi/channels/email"
	"lindungi/channels/email/dovecottest"
	"lindungi/config"
	"lindungi/store/storetest"
)

const (
	e2eMailbox = "pedulilindungi@kemkes.go.id"
	e2eDomain  = "kemkes.go.id"
)

// ---------------------------------------------------------------------------
// The SMTP side: one go-smtp server that accepts everything (AUTH PLAIN with
// any credentials, as the mailbox's password is sent) and records it.

type sentMail struct {
	Rcpt          string
	MessageID     string // without brackets
	InReplyTo     string
	References    string
	Subject       string
	AutoSubmitted string
	Raw           []byte
}

type smtpSink struct {
	Addr string

	mu     sync.Mutex
	mails  []sentMail
	notify chan struct{}
	// onMail, if set, is called (outside the lock, on the SMTP session's
	// goroutine, after the message was accepted) for every mail.
	onMail func(sentMail)
}

func startSMTPSink(t testing.TB) *smtpSink {
	t.Helper()
	s := &smtpSink{notify: make(chan struct{}, 1)}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.MaxRecipients = 10
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *smtpSink) setOnMail(f func(sentMail)) {
	s.mu.Lock()
	s.onMail = f
	s.mu.Unlock()
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

func (s *smtpSink) all() []sentMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sentMail(nil), s.mails...)
}

func (s *smtpSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mails)
}

// waitFor waits until match holds for some mail and returns it.
func (s *smtpSink) waitFor(t testing.TB, what string, match func(sentMail) bool) sentMail {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // failure guard only
	for {
		for _, m := range s.all() {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SMTP server never received %s; it has %d mails", what, s.count())
		}
		select {
		case <-s.notify:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type sinkSession struct {
	s     *smtpSink
	rcpts []string
}

func (x *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (x *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, _, _ string) error { return nil }), nil
}
func (x *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.rcpts = append(x.rcpts, strings.ToLower(to))
	return nil
}
func (x *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := sentMail{Raw: raw}
	if len(x.rcpts) > 0 {
		m.Rcpt = x.rcpts[0]
	}
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		h := msg.Header
		var dec mime.WordDecoder
		m.Subject, _ = dec.DecodeHeader(h.Get("Subject"))
		m.MessageID = strings.Trim(h.Get("Message-Id"), "<> ")
		m.InReplyTo = strings.Trim(h.Get("In-Reply-To"), "<> ")
		m.References = h.Get("References")
		m.AutoSubmitted = h.Get("Auto-Submitted")
	}
	x.s.mu.Lock()
	x.s.mails = append(x.s.mails, m)
	on := x.s.onMail
	x.s.mu.Unlock()
	select {
	case x.s.notify <- struct{}{}:
	default:
	}
	if on != nil {
		on(m)
	}
	return nil
}
func (x *sinkSession) Reset()        { x.rcpts = nil }
func (x *sinkSession) Logout() error { return nil }

// ---------------------------------------------------------------------------
// Mail that citizens write.

var complaintSubjects = []string{
	"Sertifikat vaksin dosis 2 belum muncul",
	"NIK saya dipakai orang lain",
	"Tidak bisa login aplikasi PeduliLindungi",
	"Data vaksinasi salah (tanggal lahir)",
	"Pengaduan: status hitam padahal sudah vaksin",
	"Mohon bantuan perbaikan nama di sertifikat",
	"Booster belum tercatat",
	"OTP tidak pernah masuk",
}

var complaintBodies = []string{
	"Selamat siang,\n\nsaya sudah vaksin dosis kedua tanggal 12 Oktober di puskesmas Kebayoran Baru, tetapi sertifikatnya belum muncul di aplikasi. Mohon dibantu.\n\nTerima kasih.",
	"Yth. Admin PeduliLindungi,\n\nketika saya mendaftar, NIK saya ternyata sudah terdaftar atas nama orang lain. Bagaimana cara memperbaikinya?\n\nSalam",
	"Halo, aplikasi selalu menampilkan \"gagal masuk\" setelah saya memasukkan nomor HP. Sudah coba hapus dan pasang ulang tetap sama.",
	"Dengan hormat,\n\ntanggal lahir saya di sertifikat tertulis 01-01-1970, seharusnya 17-08-1985. Mohon diperbaiki.\n\nHormat saya",
	"Status saya hitam di aplikasi padahal sudah vaksin dua kali. Saya tidak bisa masuk mal. Tolong segera dicek ya.",
	"Nama saya di sertifikat salah ketik (Sitti, seharusnya Siti). Terlampir foto KTP menyusul.",
	"Saya sudah booster bulan lalu di RS, tapi di aplikasi masih tertulis dosis 2. Mohon informasinya.",
	"Kode OTP tidak pernah masuk ke HP saya sejak kemarin, sudah coba berkali-kali.",
}

// complaintMail is a small, realistic complaint from warga<i>@<domain>
// with a unique Message-ID; it returns the mail and its Message-ID.
func complaintMail(i int, from string, extra ...string) ([]byte, string) {
	var rnd [6]byte
	rand.Read(rnd[:])
	id := fmt.Sprintf("%d.%s@mail%d.example.id", i, hex.EncodeToString(rnd[:]), i%5)
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", from)
	fmt.Fprintf(&b, "From: Warga %d <%s>\r\n", i, from)
	fmt.Fprintf(&b, "To: PeduliLindungi <%s>\r\n", e2eMailbox)
	fmt.Fprintf(&b, "Subject: %s\r\n", complaintSubjects[i%len(complaintSubjects)])
	fmt.Fprintf(&b, "Date: %s\r\n", time.Date(2026, 11, 3, 8, 0, 0, 0, time.FixedZone("WIB", 7*3600)).Add(time.Duration(i)*time.Second).Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s>\r\n", id)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(complaintBodies[i%len(complaintBodies)], "\n", "\r\n"))
	fmt.Fprintf(&b, "\r\n\r\n-- \r\nWarga %d\r\nDikirim dari ponsel saya\r\n", i)
	return []byte(b.String()), id
}

// ---------------------------------------------------------------------------
// Configuration through the YAML contract.

// emailYAML is a config file with one mailbox on d (after_import: seen) that
// sends through smtpAddr.
func emailYAML(d *dovecottest.Server, smtpAddr, extra string) string {
	return "email:\n  mailboxes:\n" + mailboxYAML(d, smtpAddr, e2eMailbox, "INBOX", extra)
}

// mailboxYAML is one entry of email.mailboxes: address, reading folder on
// d, after_import: seen, sending through smtpAddr, then extra keys.
func mailboxYAML(d *dovecottest.Server, smtpAddr, address, folder, extra string) string {
	return fmt.Sprintf(`    - address: %s
      imap_url: imap://127.0.0.1:%d
      username: %s
      password: %s
      folder: %s
      after_import: seen
      smtp_url: smtp://%s
%s`, address, d.Port, d.User, d.Password, folder, smtpAddr, extra)
}

func writeConfigFile(t testing.TB, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lindungi.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// emailConfig is testConfig's environment plus a config file with yaml.
func emailConfig(t testing.TB, yaml string, env ...string) config.Config {
	t.Helper()
	base := []string{"LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_LISTEN=127.0.0.1:0", "LINDUNGI_DATA_DIR=" + t.TempDir(),
		"LINDUNGI_SIMULATOR=true", "LINDUNGI_TRACING_CHANNEL=simulator", "LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_LOG_LEVEL=info"}
	cfg, err := config.Load(writeConfigFile(t, yaml), append(base, env...))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Email.Mailboxes) == 0 || cfg.Email.Mailboxes[0].IMAPURL == "" {
		t.Fatalf("mailbox config not loaded: %+v", cfg.Email)
	}
	return cfg
}

// ---------------------------------------------------------------------------
// Helpers on the in-process app.

func (ta *testApp) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := ta.db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitCount waits until query returns at least want.
func (ta *testApp) waitCount(t testing.TB, want int, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // failure guard only
	for {
		n := ta.count(t, query, args...)
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d\nlogs:\n%s", query, n, want, tail(ta.logs.String(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outboxSettled waits until no outbox row is queued or being sent.
func (ta *testApp) outboxSettled(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for ta.count(t, `SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sending')`) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox never drained")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// ticketOf is the number of the ticket holding the inbound mail with msgID.
func (ta *testApp) ticketOf(t testing.TB, msgID string) string {
	t.Helper()
	var number string
	err := ta.db.QueryRow(context.Background(), `SELECT t.number FROM messages m JOIN tickets t ON t.id = m.ticket_id
		WHERE m.channel = 'email' AND m.direction = 'in' AND m.external_id > ? AND m.external_id < ?`, msgID+":", msgID+";").Scan(&number)
	if err != nil {
		t.Fatalf("ticket of %s: %v", msgID, err)
	}
	return number
}

// ---------------------------------------------------------------------------
// Must show 2: the autoresponder loop stops.

// TestEmailAutoresponderLoop: a citizen's mailbox answers every mail it gets
// with an out-of-office reply (Auto-Submitted: auto-replied, In-Reply-To our
// mail), APPENDed back into our mailbox. The complaint gets one
// acknowledgement; every out-of-office is a follow-up on the same ticket and
// is not acknowledged. After each round (an operator reply provokes another
// out-of-office) the test waits until the reply is stored and the outbox is
// empty: at that point nothing is left that could send another mail, so the
// counts below are final, not a snapshot.
func TestEmailAutoresponderLoop(t *testing.T) {
	d := dovecottest.Start(t)
	sink := startSMTPSink(t)
	const citizen = "budi.cuti@example.id"
	var oofMu sync.Mutex
	var oofIDs []string
	var oofErr error
	oofN := 0
	// The autoresponder: every mail to the citizen is answered.
	sink.setOnMail(func(m sentMail) {
		if m.Rcpt != citizen {
			return
		}
		oofMu.Lock()
		oofN++
		id := fmt.Sprintf("oof%d.%d@example.id", oofN, time.Now().UnixNano())
		oofMu.Unlock()
		raw := fmt.Sprintf("From: Budi <%s>\r\nTo: %s\r\nSubject: Automatic reply: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n"+
			"In-Reply-To: <%s>\r\nReferences: <%s>\r\nAuto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
			"Terima kasih atas email Anda. Saya sedang cuti sampai 10 Desember dan akan membalas setelah kembali.\r\n",
			citizen, e2eMailbox, m.Subject, time.Now().Format(time.RFC1123Z), id, m.MessageID, m.MessageID)
		err := d.AppendErr("INBOX", []byte(raw))
		oofMu.Lock()
		if err != nil && oofErr == nil {
			oofErr = err
		}
		oofIDs = append(oofIDs, id)
		oofMu.Unlock()
	})
	ta := startApp(t, emailConfig(t, emailYAML(d, sink.Addr, "")))
	ctx := context.Background()
	op, err := ta.accounts.Add(ctx, "petugas-oof", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}

	complaint, complaintID := complaintMail(1, citizen)
	d.Append("INBOX", complaint)

	const rounds = 4
	for round := 1; round <= rounds; round++ {
		// Round r: r out-of-office replies stored, all on one ticket.
		ta.waitCount(t, 1+round, `SELECT COUNT(*) FROM messages WHERE channel = 'email' AND direction = 'in'`)
		ta.outboxSettled(t)
		number := ta.ticketOf(t, complaintID)
		if round < rounds {
			// An operator answers; the autoresponder answers that too.
			if code := apiCall(t, ta.base, op.Token, "POST", "/api/v1/tickets/"+number+"/replies",
				`{"text":"Mohon kirimkan foto KTP Bapak agar data dapat kami perbaiki."}`, nil); code != http.StatusCreated {
				t.Fatalf("operator reply: %d", code)
			}
		}
	}
	oofMu.Lock()
	if oofErr != nil {
		t.Fatalf("autoresponder APPEND: %v", oofErr)
	}
	ids := append([]string(nil), oofIDs...)
	oofMu.Unlock()

	number := ta.ticketOf(t, complaintID)
	for _, id := range ids {
		if got := ta.ticketOf(t, id); got != number {
			t.Errorf("out-of-office %s went to %s, want %s", id, got, number)
		}
	}
	tickets := ta.count(t, `SELECT COUNT(*) FROM tickets WHERE channel = 'email'`)
	ackRows := ta.count(t, `SELECT COUNT(*) FROM outbox WHERE channel = 'email' AND kind = 'ack'`)
	autoRows := ta.count(t, `SELECT COUNT(*) FROM outbox WHERE channel = 'email' AND kind <> 'reply'`)
	var acks, replies int
	for _, m := range sink.all() {
		if m.Rcpt != citizen {
			t.Errorf("mail to %q", m.Rcpt)
		}
		if m.AutoSubmitted != "" && m.AutoSubmitted != "no" {
			acks++
		} else {
			replies++
		}
	}
	t.Logf("loop: %d out-of-office replies stored on %s, %d acknowledgement(s), %d operator replies sent", len(ids), number, acks, replies)
	if tickets != 1 || ackRows != 1 || autoRows != 1 || acks != 1 {
		t.Errorf("tickets %d, ack rows %d, automatic outbox rows %d, automatic mails received %d; want 1 each", tickets, ackRows, autoRows, acks)
	}
	if replies != rounds-1 || len(ids) != rounds {
		t.Errorf("operator replies received %d (want %d), out-of-office replies %d (want %d)", replies, rounds-1, len(ids), rounds)
	}
	if in := ta.count(t, `SELECT COUNT(*) FROM messages WHERE channel = 'email' AND direction = 'in'`); in != 1+rounds {
		t.Errorf("inbound messages %d, want %d", in, 1+rounds)
	}
}

// apiCall does an API request with token; out, if set, gets the JSON.
func apiCall(t testing.TB, base, token, method, path, body string, out *[]byte) int {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		*out = b
	}
	return resp.StatusCode
}

// ---------------------------------------------------------------------------
// Must show 3: an operator's reply threads both ways.

// TestEmailOperatorReplyThreading: an operator answers an e-mail ticket over
// the API; the mail reaches SMTP with "Re:", the [PL-…] tag and In-Reply-To
// the citizen's Message-ID; the citizen's answer to it (In-Reply-To our
// Message-ID, subject without the tag) lands on the same ticket.
func TestEmailOperatorReplyThreading(t *testing.T) {
	d := dovecottest.Start(t)
	sink := startSMTPSink(t)
	ta := startApp(t, emailConfig(t, emailYAML(d, sink.Addr, "")))
	ctx := context.Background()
	op, err := ta.accounts.Add(ctx, "petugas-balas", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	const citizen = "siti.rahayu@example.id"
	complaint, complaintID := complaintMail(2, citizen)
	d.Append("INBOX", complaint)
	ta.waitCount(t, 1, `SELECT COUNT(*) FROM tickets WHERE channel = 'email'`)
	number := ta.ticketOf(t, complaintID)
	ack := sink.waitFor(t, "the acknowledgement", func(m sentMail) bool { return m.Rcpt == citizen })
	if ack.InReplyTo != complaintID || !strings.Contains(ack.Subject, "["+number+"]") {
		t.Errorf("acknowledgement: In-Reply-To %q Subject %q", ack.InReplyTo, ack.Subject)
	}

	text := "Data Ibu sudah kami perbaiki, silakan cek kembali aplikasi besok pagi."
	if code := apiCall(t, ta.base, op.Token, "POST", "/api/v1/tickets/"+number+"/replies", fmt.Sprintf(`{"text":%q}`, text), nil); code != http.StatusCreated {
		t.Fatalf("reply: %d", code)
	}
	reply := sink.waitFor(t, "the operator's reply", func(m sentMail) bool { return m.Rcpt == citizen && m.AutoSubmitted == "" })
	var ourID string
	if err := ta.db.QueryRow(ctx, `SELECT id FROM outbox WHERE channel = 'email' AND kind = 'reply'`).Scan(&ourID); err != nil {
		t.Fatal(err)
	}
	wantID := email.OutboundMessageID(ourID, number, e2eDomain)
	if !strings.HasPrefix(reply.Subject, "Re: ") || !strings.Contains(reply.Subject, "["+number+"]") || strings.Count(reply.Subject, "Re:") != 1 {
		t.Errorf("reply subject %q: want one Re: and [%s]", reply.Subject, number)
	}
	if reply.InReplyTo != complaintID {
		t.Errorf("reply In-Reply-To %q, want the citizen's %q", reply.InReplyTo, complaintID)
	}
	if reply.MessageID != wantID {
		t.Errorf("reply Message-ID %q, want %q", reply.MessageID, wantID)
	}
	if !strings.Contains(string(reply.Raw), "perbaiki") {
		t.Errorf("reply body lacks the operator's text:\n%s", reply.Raw)
	}

	// The citizen answers from a client that drops the tag from the subject.
	answer := fmt.Sprintf("From: Siti Rahayu <%s>\r\nTo: %s\r\nSubject: Re: %s\r\nDate: %s\r\nMessage-ID: <jawaban.%d@example.id>\r\n"+
		"In-Reply-To: <%s>\r\nReferences: <%s> <%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"Terima kasih, sudah muncul sekarang.\r\n\r\n> %s\r\n",
		citizen, e2eMailbox, complaintSubjects[2%len(complaintSubjects)], time.Now().Format(time.RFC1123Z), time.Now().UnixNano(),
		reply.MessageID, complaintID, reply.MessageID, text)
	d.Append("INBOX", []byte(answer))
	ta.waitCount(t, 2, `SELECT COUNT(*) FROM messages WHERE channel = 'email' AND direction = 'in'`)
	var onTicket string
	if err := ta.db.QueryRow(ctx, `SELECT t.number FROM messages m JOIN tickets t ON t.id = m.ticket_id
		WHERE m.channel = 'email' AND m.direction = 'in' AND m.external_id LIKE 'jawaban.%'`).Scan(&onTicket); err != nil {
		t.Fatal(err)
	}
	if onTicket != number {
		t.Errorf("the citizen's answer went to %q, want %s", onTicket, number)
	}
	if n := ta.count(t, `SELECT COUNT(*) FROM tickets`); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
	var status string
	ta.db.QueryRow(ctx, `SELECT status FROM tickets WHERE number = ?`, number).Scan(&status)
	if status != "open" {
		t.Errorf("ticket status after the citizen's answer %q, want open", status)
	}
	ta.outboxSettled(t)
	if n := ta.count(t, `SELECT COUNT(*) FROM outbox WHERE kind = 'ack'`); n != 1 {
		t.Errorf("%d acknowledgements, want 1 (a follow-up is not acknowledged)", n)
	}

	// The mailbox's progress is on /metrics.
	resp, err := http.Get(ta.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	series := `{folder="INBOX",mailbox="` + e2eMailbox + `"}`
	for _, want := range []string{"lindungi_email_backlog" + series + " 0", "lindungi_email_imported_total" + series + " 2", "lindungi_email_connected" + series + " 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// ---------------------------------------------------------------------------
// Must show 1: crash safety of the import with the real binary.

// TestEmailCrashSafetySIGKILL: 10,000 complaints in Dovecot, the real
// binary importing them with the YAML mailbox config, SIGKILLed after 2,000,
// 5,000 and 8,000 stored messages and restarted each time. Afterwards every
// mail is stored once as its own ticket, flagged \Seen in Dovecot, and has
// exactly one acknowledgement row, which the SMTP server received (twice
// only with the same Message-ID).
func TestEmailCrashSafetySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level crash test skipped in -short mode")
	}
	const total = 10000
	kills := []int{2000, 5000, 8000}
	d := dovecottest.Start(t)
	sink := startSMTPSink(t)
	bin := buildBinary(t)

	msgs := make([][]byte, total)
	citizenOf := map[string]string{} // Message-ID → sender
	for i := range msgs {
		from := fmt.Sprintf("warga%05d@example.id", i)
		var id string
		msgs[i], id = complaintMail(i, from)
		citizenOf[id] = from
	}
	start := time.Now()
	d.AppendAll("INBOX", msgs, 4, nil)
	appendTook := time.Since(start)
	if n, err := d.Count("INBOX"); err != nil || n != total {
		t.Fatalf("Dovecot holds %d messages (%v), want %d", n, err, total)
	}
	t.Logf("APPENDed %d messages in %v (%.0f/s, 4 connections, MULTIAPPEND)", total, appendTook.Round(time.Millisecond), float64(total)/appendTook.Seconds())

	data := t.TempDir()
	addr := freePort(t)
	cfgFile := writeConfigFile(t, emailYAML(d, sink.Addr, "outbox:\n  rate:\n    email: 1000\n"))
	env := []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr, "LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false"}
	args := []string{"serve", "--config", cfgFile}

	p := startProc(t, bin, env, args...)
	defer func() {
		if p != nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	}()
	waitHealthy(t, addr)

	// Progress, read-only from the SQLite file while the binary writes it.
	ro, err := sql.Open("sqlite3", "file:"+filepath.Join(data, "lindungi.db")+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	stored := func() int {
		var n int
		if err := ro.QueryRow(`SELECT COUNT(*) FROM inbound_keys WHERE channel = 'email'`).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	waitStored := func(want int, what string) {
		// Failure guard only: give up when nothing was stored for 2 minutes.
		last, lastAt := -1, time.Now()
		for {
			n := stored()
			if n >= want {
				return
			}
			if n != last {
				last, lastAt = n, time.Now()
			}
			if time.Since(lastAt) > 2*time.Minute {
				t.Fatalf("%s: stuck at %d messages stored, want %d\nlogs:\n%s", what, n, want, tail(p.logs.String(), 4000))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Import rate: messages stored per second of process lifetime (from
	// exec to kill or to the last message), restarts included.
	var busy time.Duration
	segStart := time.Now()
	for _, at := range kills {
		waitStored(at, fmt.Sprintf("before the kill at %d", at))
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		busy += time.Since(segStart)
		t.Logf("SIGKILL with %d messages stored", stored())
		segStart = time.Now()
		p = startProc(t, bin, env, args...)
		waitHealthy(t, addr)
	}
	waitStored(total, "after the last restart")
	busy += time.Since(segStart)
	rate := float64(total) / busy.Seconds()
	t.Logf("import: %d messages in %v of process time across 4 runs: %.0f messages/s", total, busy.Round(time.Millisecond), rate)

	// Let the acknowledgements drain and the last \Seen flags land.
	q := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := ro.QueryRow(query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Minute); q(`SELECT COUNT(*) FROM outbox WHERE status <> 'sent'`) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d outbox rows never sent", q(`SELECT COUNT(*) FROM outbox WHERE status <> 'sent'`))
		}
	}
	var unseen []imap.UID
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if unseen, err = d.Unseen("INBOX"); err != nil {
			t.Fatal(err)
		}
		if len(unseen) == 0 || time.Now().After(deadline) {
			break
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	p = nil

	// Stored exactly once, each its own ticket.
	keys := q(`SELECT COUNT(*) FROM inbound_keys WHERE channel = 'email'`)
	var in, distinct int
	if err := ro.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT external_id) FROM messages WHERE direction = 'in' AND channel = 'email'`).Scan(&in, &distinct); err != nil {
		t.Fatal(err)
	}
	tickets := q(`SELECT COUNT(*) FROM tickets WHERE channel = 'email'`)
	orphans := q(`SELECT COUNT(*) FROM messages WHERE direction = 'in' AND channel = 'email' AND ticket_id IS NULL`)
	if keys != total || in != total || distinct != total || tickets != total || orphans != 0 {
		t.Errorf("stored: %d keys, %d inbound messages (%d distinct external IDs), %d tickets, %d without a ticket; want %d each and 0",
			keys, in, distinct, tickets, orphans, total)
	}
	// Every Message-ID we APPENDed is there.
	rows, err := ro.Query(`SELECT external_id FROM messages WHERE direction = 'in' AND channel = 'email'`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for rows.Next() {
		var ext string
		rows.Scan(&ext)
		id, _ := email.SplitExternalID(ext)
		got[id] = true
	}
	rows.Close()
	missing := 0
	for id := range citizenOf {
		if !got[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d appended Message-IDs not stored", missing)
	}
	// \Seen in Dovecot.
	if len(unseen) > 0 {
		t.Errorf("%d messages still UNSEEN in Dovecot after the import (UIDs %v); a kill between the commit and the STORE leaves a message unflagged unless the runner re-applies after_import to UIDs at or below its cursor",
			len(unseen), firstUIDs(unseen, 10))
	}

	// One acknowledgement row per ticket, each received; resends only with
	// the same Message-ID.
	badTickets := q(`SELECT COUNT(*) FROM tickets t WHERE t.channel = 'email' AND
		(SELECT COUNT(*) FROM outbox o WHERE o.ticket_id = t.id AND o.kind = 'ack') <> 1`)
	ackRows := q(`SELECT COUNT(*) FROM outbox WHERE channel = 'email' AND kind = 'ack'`)
	if badTickets != 0 || ackRows != total {
		t.Errorf("%d tickets without exactly one ack row; %d ack rows, want %d", badTickets, ackRows, total)
	}
	want := map[string]string{} // our Message-ID → recipient
	rows, err = ro.Query(`SELECT o.id, t.number, o.recipient FROM outbox o JOIN tickets t ON t.id = o.ticket_id WHERE o.kind = 'ack'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, number, rcpt string
		rows.Scan(&id, &number, &rcpt)
		want[email.OutboundMessageID(id, number, e2eDomain)] = strings.ToLower(rcpt)
	}
	rows.Close()
	received := map[string]int{} // Message-ID → deliveries
	idsPerRcpt := map[string]map[string]bool{}
	strays := 0
	for _, m := range sink.all() {
		received[m.MessageID]++
		if idsPerRcpt[m.Rcpt] == nil {
			idsPerRcpt[m.Rcpt] = map[string]bool{}
		}
		idsPerRcpt[m.Rcpt][m.MessageID] = true
		if rcpt, ok := want[m.MessageID]; !ok || rcpt != m.Rcpt {
			strays++
		}
	}
	notReceived, twice, multiID := 0, 0, 0
	for id := range want {
		switch n := received[id]; {
		case n == 0:
			notReceived++
		case n > 1:
			twice++
		}
	}
	for _, ids := range idsPerRcpt {
		if len(ids) > 1 {
			multiID++
		}
	}
	t.Logf("SMTP: %d mails received, %d distinct Message-IDs, %d acknowledgements resent after a kill (same Message-ID)", sink.count(), len(received), twice)
	if notReceived != 0 || strays != 0 || multiID != 0 || len(idsPerRcpt) != total {
		t.Errorf("SMTP: %d ack rows never received, %d mails that match no ack row, %d citizens got acks with different Message-IDs, %d citizens reached (want %d)",
			notReceived, strays, multiID, len(idsPerRcpt), total)
	}
}

func firstUIDs(u []imap.UID, n int) []imap.UID {
	if len(u) > n {
		return u[:n]
	}
	return u
}

// ---------------------------------------------------------------------------
// Must show 4: import throughput against the raw IMAP baseline.

// BenchmarkEmailImport puts b.N complaints in Dovecot and measures, in the
// same run, (1) a bare go-imap UID FETCH 1:* BODY.PEEK[] with email.Parse of
// every message, nothing durable, and (2) the real app (in-process, mailbox
// from the YAML contract, after_import: seen) importing them into tickets,
// from the app's start until the last ticket is committed. It reports both
// rates and app/raw (target ≥ 0.5).
//
//	go test -run '^$' -bench BenchmarkEmailImport -benchtime 2000x .
//
// With LINDUNGI_BENCH_POSTGRES=1 (and LINDUNGI_TEST_POSTGRES_URL) the app
// runs on PostgreSQL instead of its embedded SQLite. LINDUNGI_BENCH_TRACE=1
// prints the app's debug log and the ticket count over time to stderr (when
// the first chunk commits, the steady rate, the drain).
func BenchmarkEmailImport(b *testing.B) {
	n := b.N
	d := dovecottest.Start(b)
	sink := startSMTPSink(b)
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i], _ = complaintMail(i, fmt.Sprintf("bench%06d@example.id", i))
	}
	d.AppendAll("INBOX", msgs, 4, nil)
	// Fixture, not import: the first read-write SELECT of a maildir that
	// was just filled moves every file from new/ to cur/ (160 ms for
	// 10,000 here), which the read-only baseline would never pay. A
	// mailbox that receives mail while the gateway is connected moves a
	// few at a time, so both measurements start from a settled mailbox.
	settle := d.MustDial()
	if _, err := settle.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	settle.Close()
	trace := os.Getenv("LINDUNGI_BENCH_TRACE") != ""
	env := []string{"LINDUNGI_LOG_LEVEL=warn"}
	logw := io.Discard
	if trace {
		env[0], logw = "LINDUNGI_LOG_LEVEL=debug", os.Stderr
	}
	if os.Getenv("LINDUNGI_BENCH_POSTGRES") != "" {
		env = append(env, "LINDUNGI_DATABASE_URL="+storetest.PostgresURL(b))
	}
	cfg := emailConfig(b, emailYAML(d, sink.Addr, ""), env...)

	b.ResetTimer()
	// (1) the baseline.
	b.StopTimer()
	cpu0, own0 := machineCPU(), processCPU()
	rawStart := time.Now()
	if got := rawFetchParse(b, d); got != n {
		b.Fatalf("raw fetch saw %d messages, want %d", got, n)
	}
	rawTook := time.Since(rawStart)
	cpu1, own1 := machineCPU(), processCPU()

	// (2) the app: timed as the benchmark's operation.
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, logw)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	b.StartTimer()
	appStart := time.Now()
	go func() { done <- a.Run(ctx) }()
	last, lastAt := -1, time.Now()
	for {
		// The year's ticket counter is one row (COUNT(*) would scan and
		// slow the app down, and ids are not dense on PostgreSQL); it
		// commits with its tickets, and only e-mail opens tickets here.
		var k int
		a.db.QueryRow(ctx, `SELECT COALESCE(SUM(last), 0) FROM ticket_counters`).Scan(&k)
		if k >= n {
			break
		}
		if k != last {
			if trace {
				fmt.Fprintf(os.Stderr, "progress %6.1f ms: %d tickets\n", float64(time.Since(appStart).Microseconds())/1000, k)
			}
			last, lastAt = k, time.Now()
		}
		if time.Since(lastAt) > time.Minute { // failure guard only: no progress
			cancel()
			b.Fatalf("app stuck at %d of %d tickets", k, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	appTook := time.Since(appStart)
	cpu2, own2 := machineCPU(), processCPU()
	b.StopTimer()
	var k int
	a.db.QueryRow(ctx, `SELECT COUNT(*) FROM tickets WHERE channel = 'email'`).Scan(&k)
	if k != n {
		b.Errorf("%d e-mail tickets, want %d", k, n)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Error("app did not stop")
	}

	rawRate := float64(n) / rawTook.Seconds()
	appRate := float64(n) / appTook.Seconds()
	b.ReportMetric(appRate, "app-msgs/s")
	b.ReportMetric(rawRate, "raw-msgs/s")
	b.ReportMetric(appRate/rawRate, "app/raw")
	// CPU time of the whole machine (this process and Dovecot) per
	// message in each phase: steadier than the rates on a noisy machine,
	// and it says where a shortfall comes from (work, or waiting).
	b.ReportMetric((cpu1-cpu0)/float64(n)*1e6, "raw-cpu-µs/msg")
	b.ReportMetric((cpu2-cpu1)/float64(n)*1e6, "app-cpu-µs/msg")
	// The gateway's own share of it (the rest is Dovecot and the kernel
	// work done for it).
	b.ReportMetric((own1-own0)/float64(n)*1e6, "raw-own-cpu-µs/msg")
	b.ReportMetric((own2-own1)/float64(n)*1e6, "app-own-cpu-µs/msg")
}

// processCPU is this process's user and system CPU time in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// rawFetchParse is the baseline: one bulk fetch of the whole mailbox and
// email.Parse of every message.
func rawFetchParse(b testing.TB, d *dovecottest.Server) int {
	c := d.MustDial()
	defer c.Close()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		b.Fatal(err)
	}
	var set imap.UIDSet
	set.AddRange(1, 0)
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range bufs {
		in := email.Parse(m.FindBodySection(section), email.ParseOptions{ReceivedAt: m.InternalDate})
		if in.ExternalID == "" {
			b.Fatalf("UID %d: no external ID", m.UID)
		}
	}
	return len(bufs)
}

// TestEmailRetiredMailboxNoticeOnce: the retired address (here a second
// mailbox on the same account, folder "Lama") is still imported into
// tickets, and each sender is told the new address once, however many
// complaints they send there, also one whose mail joins another citizen's
// ticket; the answers come from the active address.
func TestEmailRetiredMailboxNoticeOnce(t *testing.T) {
	d := dovecottest.Start(t)
	createFolder(t, d, "Lama")
	sink := startSMTPSink(t)
	const retired = "sertifikat@pedulilindungi.id"
	yaml := emailYAML(d, sink.Addr, "") + mailboxYAML(d, sink.Addr, retired, "Lama",
		"      retired: true\n      notice: \"Alamat ini sudah tidak aktif; gunakan "+e2eMailbox+"\"\n")
	ta := startApp(t, emailConfig(t, yaml))
	senders := []string{"warga.lama1@example.id", "warga.lama1@example.id", "warga.lama1@example.id", "warga.lama2@example.id"}
	for i, from := range senders {
		raw, _ := complaintMail(i, from)
		d.Append("Lama", raw)
	}
	ta.waitCount(t, len(senders), `SELECT COUNT(*) FROM tickets WHERE channel = 'email'`)
	// A third sender writes there about the first sender's ticket (its
	// tag in the subject): the mail joins that ticket, and the notice goes
	// to the one who wrote, not to the ticket's owner.
	var number string
	if err := ta.db.QueryRow(context.Background(), `SELECT t.number FROM tickets t JOIN contacts c ON c.id = t.contact_id WHERE c.address = 'warga.lama1@example.id' ORDER BY t.id LIMIT 1`).Scan(&number); err != nil {
		t.Fatal(err)
	}
	raw, _ := complaintMail(9, "warga.lama3@example.id")
	raw = bytes.Replace(raw, []byte("Subject: "), []byte("Subject: ["+number+"] "), 1)
	d.Append("Lama", raw)
	ta.waitCount(t, len(senders)+1, `SELECT COUNT(*) FROM messages WHERE channel = 'email' AND direction = 'in'`)
	ta.outboxSettled(t)
	for _, from := range []string{"warga.lama1@example.id", "warga.lama2@example.id", "warga.lama3@example.id"} {
		notices := 0
		for _, m := range sink.all() {
			if m.Rcpt != from {
				continue
			}
			if bytes.Contains(m.Raw, []byte("tidak aktif")) {
				notices++
			}
			if !bytes.Contains(m.Raw, []byte("<"+e2eMailbox+">")) {
				t.Errorf("an answer to %s does not come from %s:\n%.300s", from, e2eMailbox, m.Raw)
			}
		}
		if notices != 1 {
			t.Errorf("%s received the retired-address notice %d times, want once", from, notices)
		}
	}
}

// TestEmailAnswersFromTheMailboxWrittenTo: with two active mailboxes, the
// acknowledgement and the operator's reply to mail sent to the second one
// leave from the second one, not from the first.
func TestEmailAnswersFromTheMailboxWrittenTo(t *testing.T) {
	d := dovecottest.Start(t)
	createFolder(t, d, "Kedua")
	sink := startSMTPSink(t)
	const second = "pengaduan@kemkes.go.id"
	ta := startApp(t, emailConfig(t, emailYAML(d, sink.Addr, "")+mailboxYAML(d, sink.Addr, second, "Kedua", "")))
	ctx := context.Background()
	op, err := ta.accounts.Add(ctx, "petugas-kedua", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	const citizen = "budi.kedua@example.id"
	complaint, complaintID := complaintMail(7, citizen)
	d.Append("Kedua", complaint)
	ta.waitCount(t, 1, `SELECT COUNT(*) FROM tickets WHERE channel = 'email'`)
	number := ta.ticketOf(t, complaintID)
	if code := apiCall(t, ta.base, op.Token, "POST", "/api/v1/tickets/"+number+"/replies", `{"text":"Sudah kami periksa, mohon cek kembali."}`, nil); code != http.StatusCreated {
		t.Fatalf("reply: %d", code)
	}
	ack := sink.waitFor(t, "the acknowledgement", func(m sentMail) bool { return m.Rcpt == citizen && m.AutoSubmitted != "" })
	reply := sink.waitFor(t, "the operator's reply", func(m sentMail) bool { return m.Rcpt == citizen && m.AutoSubmitted == "" })
	for what, m := range map[string]sentMail{"acknowledgement": ack, "reply": reply} {
		if from := headerOf(m.Raw, "From"); !strings.Contains(from, "<"+second+">") {
			t.Errorf("%s From %q, want %s", what, from, second)
		}
	}
}

// headerOf returns one header of a raw mail.
func headerOf(raw []byte, name string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return msg.Header.Get(name)
}

// createFolder makes a mailbox folder on d for a second configured mailbox.
func createFolder(t *testing.T, d *dovecottest.Server, name string) {
	t.Helper()
	c := d.MustDial()
	defer c.Close()
	if err := c.Create(name, nil).Wait(); err != nil {
		t.Fatal(err)
	}
}

// machineCPU is the CPU time, in seconds, every core of the machine has
// spent outside idle, I/O wait and steal since boot (/proc/stat), or 0
// where there is no such file.
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i == 7 || i >= 8 { // idle, iowait, steal; guest time is already in user
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / 100 // USER_HZ
}
