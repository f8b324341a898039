package email

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/prometheus/client_golang/prometheus"

	"lindungi/channels"
	"lindungi/store/storetest"
	"lindungi/testlog"
)

// memFaults are behaviours of real servers that go-imap's in-memory
// server lacks: an IDLE that never announces new mail (Debian's Cyrus
// without idled checks once a minute; some never do), and a CREATE it
// refuses (quota, ACL, a mail root it may not write to).
type memFaults struct {
	quietIdle    bool
	refuseCreate atomic.Bool
}

type faultySession struct {
	imapserver.SessionIMAP4rev2
	f *memFaults
}

func (s faultySession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if s.f.quietIdle {
		<-stop
		return nil
	}
	return s.SessionIMAP4rev2.Idle(w, stop)
}

func (s faultySession) Create(name string, o *imap.CreateOptions) error {
	if s.f.refuseCreate.Load() {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNoPerm, Text: "Permission denied"}
	}
	return s.SessionIMAP4rev2.Create(name, o)
}

// memIMAPFaulty is memIMAP with f's faults.
func memIMAPFaulty(t testing.TB, f *memFaults) (addr string) {
	t.Helper()
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("user", "pass")
	u.Create("INBOX", nil)
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return faultySession{mem.NewSession().(imapserver.SessionIMAP4rev2), f}, nil, nil
		},
		Caps:         capSet(nil),
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

// folderCount is STATUS MESSAGES of folder (-1 when it does not exist).
func folderCount(t testing.TB, addr, folder string) int {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("user", "pass").Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return -1
	}
	return int(*st.NumMessages)
}

// eventually polls ok until it holds (a failure guard, not a timing).
func eventually(t testing.TB, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestRunnerRefusedMoveKeepsImporting: with after_import move:Arsip and a
// server that refuses to create Arsip, every new mail is still imported
// (before, the failed move ended each pass before the search for new mail,
// so nothing after the first mail came in). The refusal is warned about
// once with the CREATE's answer, counted, and shown as pending work and a
// degraded mailbox; once the folder can be created the pending moves are
// done and the mailbox is healthy again. No mail is delivered twice.
func TestRunnerRefusedMoveKeepsImporting(t *testing.T) {
	f := &memFaults{}
	f.refuseCreate.Store(true)
	addr := memIMAPFaulty(t, f)
	db := storetest.SQLite(t)
	var logs testlog.Buffer
	cfg := fastCfg()
	cfg.ActionRetry = 50 * time.Millisecond
	cfg.Mailboxes = []MailboxConfig{{Address: "pedulilindungi@kemkes.go.id", IMAPURL: "imap://" + addr, Username: "user", Password: "pass", AfterImport: "move:Arsip"}}
	ch, err := New(cfg, db, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(ch)
	sink := newMemSink(db)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ch.Run(ctx, sink); close(done) }()
	defer func() { cancel(); <-done }()
	r := ch.Runners()[0]

	// Reported at start, before any mail: the CREATE's own answer.
	eventually(t, "the refused CREATE at start", func() bool { return strings.Contains(r.ActionHealth().Error, `CREATE "Arsip"`) })
	const n = 5
	for i := 1; i <= n; i++ {
		appendMsgs(t, addr, "user", "pass", "INBOX", testMail(i))
		sink.waitFor(t, i, 10*time.Second)
	}
	eventually(t, "all moves pending", func() bool { return r.ActionHealth().Pending == n })
	h := r.ActionHealth()
	if !strings.Contains(h.Error, "NOPERM") || h.Failures < 2 || !h.Degraded() {
		t.Errorf("health while refused: %+v; want the CREATE's NOPERM answer, retries counted, degraded", h)
	}
	m := mailboxMetrics(t, reg)
	if m["lindungi_email_post_import_pending"] != n || m["lindungi_email_post_import_failures_total"] < 2 {
		t.Errorf("metrics while refused: %v", m)
	}
	if detail, degraded := ch.Readiness(); !degraded || !strings.Contains(toJSON(t, detail), `"status":"degraded"`) {
		t.Errorf("readiness while refused: %v %s", degraded, toJSON(t, detail))
	}
	l := logs.String()
	if c := strings.Count(l, "level=WARN msg=\"email: the server refused the after-import action"); c != 1 {
		t.Errorf("%d warnings about the refusal, want exactly 1 (once per cause and hour):\n%s", c, l)
	}
	if !strings.Contains(l, `CREATE \"Arsip\"`) || strings.Contains(l, "warga") {
		t.Errorf("log should name the refused CREATE and no sender:\n%s", l)
	}
	if strings.Contains(l, "reconnecting") {
		t.Errorf("a refused move must not end the session:\n%s", l)
	}

	f.refuseCreate.Store(false)
	eventually(t, "pending moves done", func() bool { h := r.ActionHealth(); return h.Pending == 0 && !h.Degraded() })
	if in, arsip := folderCount(t, addr, "INBOX"), folderCount(t, addr, "Arsip"); in != 0 || arsip != n {
		t.Errorf("after the folder became creatable: INBOX %d, Arsip %d; want 0 and %d", in, arsip, n)
	}
	if m := mailboxMetrics(t, reg); m["lindungi_email_post_import_pending"] != 0 {
		t.Errorf("pending gauge %v after recovery, want 0", m["lindungi_email_post_import_pending"])
	}
	if _, degraded := ch.Readiness(); degraded {
		t.Error("still degraded after recovery")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for uid, k := range sink.uids {
		if k != 1 {
			t.Errorf("UID %s delivered %d times", uid, k)
		}
	}
}

// TestRunnerIdleWithoutPush: a server whose IDLE never announces new mail.
// The runner ends IDLE after the mailbox's poll interval and finds the
// mail by its search; before, it waited for the IDLE restart (25 minutes;
// here 10).
func TestRunnerIdleWithoutPush(t *testing.T) {
	addr := memIMAPFaulty(t, &memFaults{quietIdle: true})
	db := storetest.SQLite(t)
	cfg := fastCfg()
	cfg.IdleRestart = 10 * time.Minute
	const poll = time.Second
	box := MailboxConfig{Address: "pedulilindungi@kemkes.go.id", IMAPURL: "imap://" + addr, Username: "user", Password: "pass", PollInterval: poll}
	r, err := NewRunner(box, cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := newMemSink(db)
	stop := runRunner(t, r, sink)
	defer stop()
	eventually(t, "the first pass", func() bool { _, last := r.Progress(); return !last.IsZero() })
	var worst time.Duration
	for i := 1; i <= 3; i++ {
		time.Sleep(poll / 3) // land somewhere inside an IDLE
		start := time.Now()
		appendMsgs(t, addr, "user", "pass", "INBOX", testMail(i))
		sink.waitFor(t, i, 20*time.Second)
		worst = max(worst, time.Since(start))
	}
	t.Logf("slowest of 3 mails: %v with poll_interval %v and an IDLE that never pushes", worst.Round(time.Millisecond), poll)
}

// TestRunnerIdleOff: idle: false polls even when the server offers IDLE.
func TestRunnerIdleOff(t *testing.T) {
	addr := memIMAP(t)
	db := storetest.SQLite(t)
	var logs testlog.Buffer
	off := false
	box := MailboxConfig{Address: "a@kemkes.go.id", IMAPURL: "imap://" + addr, Username: "user", Password: "pass", Idle: &off}
	r, err := NewRunner(box, fastCfg(), db, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sink := newMemSink(db)
	stop := runRunner(t, r, sink)
	defer stop()
	appendMsgs(t, addr, "user", "pass", "INBOX", testMail(1))
	sink.waitFor(t, 1, 10*time.Second)
	if l := logs.String(); !strings.Contains(l, "idle=false") {
		t.Errorf("idle: false should poll:\n%s", l)
	}
}

// cutProxy forwards TCP to a server and can drop every connection, as a
// server restart or a NAT timeout does.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startCutProxy(t testing.TB, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestRunnerBackoffResetsAfterPass: a session that completed a pass was a
// recovery, however short: the next reconnect starts at the shortest
// backoff again (before, only a session longer than two minutes reset it,
// so a mailbox whose connection dropped every minute waited longer and
// longer).
func TestRunnerBackoffResetsAfterPass(t *testing.T) {
	proxy := startCutProxy(t, memIMAP(t))
	db := storetest.SQLite(t)
	var logs testlog.Buffer
	cfg := fastCfg()
	cfg.MaxBackoff = time.Minute
	box := MailboxConfig{Address: "pedulilindungi@kemkes.go.id", IMAPURL: "imap://" + proxy.addr(), Username: "user", Password: "pass", AfterImport: "keep"}
	r, err := NewRunner(box, cfg, db, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	stop := runRunner(t, r, newMemSink(db))
	defer stop()
	for i := 1; i <= 3; i++ {
		cutAt := time.Now()
		eventually(t, "a completed pass", func() bool { _, last := r.Progress(); return last.After(cutAt) && r.State() == channels.StateUp })
		proxy.cut()
		eventually(t, "the reconnect", func() bool { return strings.Count(logs.String(), "reconnecting") == i })
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "reconnecting") && !strings.Contains(line, "backoff=1s") {
			t.Errorf("reconnect after a completed pass without the shortest backoff: %s", line)
		}
	}
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
