// Package emailtest holds the e-mail fakes the end-to-end tests share
// (the channel's own and the root package's crash test): an SMTP sink that
// records what the gateway sends, citizens' complaint mails, and the YAML
// mailbox contract pointed at a dovecottest server.
package emailtest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"lindungi/channels/email/dovecottest"
	"lindungi/config"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mailbox is the address the test mailbox receives at; Domain is its
// domain (outbound Message-IDs end in it).
const (
	Mailbox = "pedulilindungi@kemkes.go.id"
	Domain  = "kemkes.go.id"
)

// ---------------------------------------------------------------------------
// The SMTP side: one go-smtp server that accepts everything (AUTH PLAIN with
// any credentials, as the mailbox's password is sent) and records it.

// SentMail is a mail the sink accepted, with the headers tests look at.
type SentMail struct {
	Rcpt          string
	MessageID     string // without brackets
	InReplyTo     string
	References    string
	Subject       string
	AutoSubmitted string
	Raw           []byte
}

// SMTPSink stands in for the submission server and the citizens'
// mailboxes: it accepts every mail and records it.
type SMTPSink struct {
	Addr string

	mu     sync.Mutex
	mails  []SentMail
	notify chan struct{}
	// onMail, if set, is called (outside the lock, on the SMTP session's
	// goroutine, after the message was accepted) for every mail.
	onMail func(SentMail)
}

// StartSMTPSink listens on a free loopback port until the test ends.
func StartSMTPSink(t testing.TB) *SMTPSink {
	t.Helper()
	s := &SMTPSink{notify: make(chan struct{}, 1)}
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

func (s *SMTPSink) SetOnMail(f func(SentMail)) {
	s.mu.Lock()
	s.onMail = f
	s.mu.Unlock()
}

func (s *SMTPSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

func (s *SMTPSink) All() []SentMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMail(nil), s.mails...)
}

func (s *SMTPSink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mails)
}

// waitFor waits until match holds for some mail and returns it.
func (s *SMTPSink) WaitFor(t testing.TB, what string, match func(SentMail) bool) SentMail {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // failure guard only
	for {
		for _, m := range s.All() {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SMTP server never received %s; it has %d mails", what, s.Count())
		}
		select {
		case <-s.notify:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type sinkSession struct {
	s     *SMTPSink
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
	m := SentMail{Raw: raw}
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

var ComplaintSubjects = []string{
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

// ComplaintMail is a small, realistic complaint from warga<i>@<domain>
// with a unique Message-ID; it returns the mail and its Message-ID.
func ComplaintMail(i int, from string, extra ...string) ([]byte, string) {
	var rnd [6]byte
	rand.Read(rnd[:])
	id := fmt.Sprintf("%d.%s@mail%d.example.id", i, hex.EncodeToString(rnd[:]), i%5)
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <%s>\r\n", from)
	fmt.Fprintf(&b, "From: Warga %d <%s>\r\n", i, from)
	fmt.Fprintf(&b, "To: PeduliLindungi <%s>\r\n", Mailbox)
	fmt.Fprintf(&b, "Subject: %s\r\n", ComplaintSubjects[i%len(ComplaintSubjects)])
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

// YAML is a config file with one mailbox on d (after_import: seen) that
// sends through smtpAddr.
func YAML(d *dovecottest.Server, smtpAddr, extra string) string {
	return "email:\n  mailboxes:\n" + MailboxYAML(d, smtpAddr, Mailbox, "INBOX", extra)
}

// MailboxYAML is one entry of email.mailboxes: address, reading folder on
// d, after_import: seen, sending through smtpAddr, then extra keys.
func MailboxYAML(d *dovecottest.Server, smtpAddr, address, folder, extra string) string {
	return fmt.Sprintf(`    - address: %s
      imap_url: imap://127.0.0.1:%d
      username: %s
      password: %s
      folder: %s
      after_import: seen
      smtp_url: smtp://%s
%s`, address, d.Port, d.User, d.Password, folder, smtpAddr, extra)
}

// WriteConfigFile writes yaml as a config file in a temp dir.
func WriteConfigFile(t testing.TB, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lindungi.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Config is apptest.Config's environment (at log level info) plus a config file with yaml.
func Config(t testing.TB, yaml string, env ...string) config.Config {
	t.Helper()
	base := []string{"LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_LISTEN=127.0.0.1:0", "LINDUNGI_DATA_DIR=" + t.TempDir(),
		"LINDUNGI_SIMULATOR=true", "LINDUNGI_TRACING_CHANNEL=simulator", "LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_LOG_LEVEL=info"}
	cfg, err := config.Load(WriteConfigFile(t, yaml), append(base, env...))
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
