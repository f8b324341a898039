package email

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"lindungi/channels"
	"lindungi/store"
)

// memSink stores what it is given keyed by ExternalID and commits the
// runner's cursor in the same transaction, like the bot's sink does.
type memSink struct {
	db    *store.DB
	mu    sync.Mutex
	got   map[string]channels.Inbound
	uids  map[string]int // "uidvalidity/uid" → deliveries that committed
	calls int
	fail  func(in channels.Inbound) error
	seen  chan channels.Inbound
}

func newMemSink(db *store.DB) *memSink {
	return &memSink{db: db, got: map[string]channels.Inbound{}, uids: map[string]int{}, seen: make(chan channels.Inbound, 10000)}
}

func (s *memSink) Deliver(ctx context.Context, in channels.Inbound) error {
	s.mu.Lock()
	s.calls++
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		if err := fail(in); err != nil {
			return err
		}
	}

	s.mu.Lock()
	_, dup := s.got[in.ExternalID]
	s.got[in.ExternalID] = in
	s.uids[in.Meta[MetaUIDValidity]+"/"+in.Meta[MetaUID]]++
	s.mu.Unlock()
	if !dup {
		s.seen <- in
	}
	return nil
}

func (s *memSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *memSink) uidCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uids)
}

// waitFor waits until n distinct messages arrived.
func (s *memSink) waitFor(t testing.TB, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for s.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d messages, want %d", s.count(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func checkUTF8(t testing.TB, in channels.Inbound) {
	t.Helper()
	for _, s := range []string{in.Text, in.Subject, in.Name, in.From, in.HTML} {
		if !utf8.ValidString(s) {
			t.Errorf("%s: invalid UTF-8", in.ExternalID)
		}
	}
}

// memIMAP starts go-imap's in-memory server with user/pass and INBOX.
func memIMAP(t testing.TB, caps ...imap.Cap) (addr string) {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("user", "pass")
	u.Create("INBOX", nil)
	u.Create("Processed", nil)
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         capSet(caps),
		InsecureAuth: true,
		Logger:       nopLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

// appendMsgs APPENDs raw messages to folder.
func appendMsgs(t testing.TB, addr, user, pass, folder string, msgs ...[]byte) {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		cmd := c.Append(folder, int64(len(m)), &imap.AppendOptions{Time: time.Date(2026, 11, 3, 4, 5, 6, 0, time.UTC)})
		cmd.Write(m)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
}

// smtpCapture is a go-smtp server that records what it receives.
type smtpCapture struct {
	mu     sync.Mutex
	msgs   [][]byte
	rcpts  [][]string
	reject int // reply code for RCPT, 0 = accept
	// requireAuth answers MAIL FROM with 530 before a login.
	requireAuth bool
}

func (s *smtpCapture) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSess{s: s}, nil }

type smtpSess struct {
	s      *smtpCapture
	rcpts  []string
	authed bool
}

func (x *smtpSess) AuthMechanisms() []string { return []string{"PLAIN"} }
func (x *smtpSess) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != "user" || password != "pass" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		x.authed = true
		return nil
	}), nil
}
func (x *smtpSess) Mail(from string, _ *smtp.MailOptions) error {
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.requireAuth && !x.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	return nil
}
func (x *smtpSess) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	code := x.s.reject
	x.s.mu.Unlock()
	if code != 0 {
		return &smtp.SMTPError{Code: code, Message: "no such user"}
	}
	x.rcpts = append(x.rcpts, to)
	return nil
}
func (x *smtpSess) Data(r io.Reader) error {
	var b bytes.Buffer
	io.Copy(&b, r)
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, b.Bytes())
	x.s.rcpts = append(x.s.rcpts, x.rcpts)
	x.s.mu.Unlock()
	return nil
}
func (x *smtpSess) Reset()        {}
func (x *smtpSess) Logout() error { return nil }

func startSMTP(t testing.TB) (*smtpCapture, string) { return startSMTPAuth(t, true) }

// startSMTPAuth is startSMTP; offerAuth false makes a relay that offers no
// AUTH at all (Postfix for its trusted networks, most corporate relays).
func startSMTPAuth(t testing.TB, offerAuth bool) (*smtpCapture, string) {
	cap := &smtpCapture{}
	srv := smtp.NewServer(cap)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = offerAuth
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return cap, ln.Addr().String()
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func imapUID(u uint32) imap.UID { return imap.UID(u) }

func capSet(caps []imap.Cap) imap.CapSet {
	if len(caps) == 0 {
		caps = []imap.Cap{imap.CapIMAP4rev1, imap.CapIMAP4rev2}
	}
	s := imap.CapSet{}
	for _, c := range caps {
		s[c] = struct{}{}
	}
	return s
}
