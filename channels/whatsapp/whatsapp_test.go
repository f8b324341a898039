package whatsapp

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"lindungi/channels"
	"lindungi/channels/whatsapp/wafake"
)

// The end-to-end tests run the real whatsmeow client against one fake
// server per process. Pairing generates 812 pre-keys, so one paired store
// is shared by the tests that do not destroy it; they run one at a time.
var (
	fake       *wafake.Server
	tmpDir     string
	sharedOnce sync.Once
	sharedDB   *sql.DB
	sharedErr  error
)

// guard bounds every wait; it is a failure guard, not a timing assertion.
const guard = 60 * time.Second

func TestMain(m *testing.M) {
	var err error
	fake, err = wafake.New("127.0.0.1:0", wafake.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir, _ = os.MkdirTemp("", "wa-test")
	code := m.Run()
	_ = fake.Close()
	_ = os.RemoveAll(tmpDir)
	os.Exit(code)
}

func openDB(t testing.TB, name string) *sql.DB {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(tmpDir, name)+"?_foreign_keys=on&_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// sinkDouble records deliveries; failNext makes the next Deliver of an ID fail.
type sinkDouble struct {
	mu       sync.Mutex
	stored   []channels.Inbound
	attempts map[string]int
	failNext map[string]bool
	failAll  bool
}

func newSink() *sinkDouble {
	return &sinkDouble{attempts: map[string]int{}, failNext: map[string]bool{}}
}

func (s *sinkDouble) Deliver(_ context.Context, in channels.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[in.ExternalID]++
	if s.failAll || s.failNext[in.ExternalID] {
		delete(s.failNext, in.ExternalID)
		return errors.New("database is down")
	}
	for _, m := range s.stored {
		if m.ExternalID == in.ExternalID {
			return nil // already stored: not an error, like the real intake
		}
	}
	s.stored = append(s.stored, in)
	return nil
}

func (s *sinkDouble) get(id string) (channels.Inbound, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.stored {
		if m.ExternalID == id {
			return m, true
		}
	}
	return channels.Inbound{}, false
}

func (s *sinkDouble) attemptsFor(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[id]
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-tick.C:
		}
	}
}

// startChannel runs an adapter on db against srv until the test ends.
func startChannel(t testing.TB, srv *wafake.Server, db *sql.DB, mod func(*Config)) (*Channel, *sinkDouble) {
	t.Helper()
	cfg := Config{Enabled: true, AccountPhone: "+" + srv.AccountPhone(), SendMinGap: -1,
		TestServer: &TestServer{Addr: srv.Addr(), RootKey: srv.RootKey()}}
	if mod != nil {
		mod(&cfg)
	}
	ch, err := New(cfg, db, "sqlite3", testLogger())
	if err != nil {
		t.Fatal(err)
	}
	sink := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ch, sink
}

// pairNew pairs a fresh store by QR and waits until the client is connected
// and its pre-keys are on the server.
func pairNew(t testing.TB, srv *wafake.Server, db *sql.DB) (*Channel, *sinkDouble) {
	t.Helper()
	ch, sink := startChannel(t, srv, db, nil)
	waitUntil(t, "a QR code", func() bool { return ch.Status().QR != "" })
	if ch.State() != channels.StatePairing {
		t.Fatalf("state while QR shown = %s, want pairing", ch.State())
	}
	if png, err := ch.QRPNG(); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("QRPNG: %v", err)
	}
	if err := srv.ScanQR(ch.Status().QR); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "connected after pairing", func() bool { return ch.State() == channels.StateUp })
	waitUntil(t, "pre-keys uploaded", srv.ReadyForMessages)
	return ch, sink
}

// shared returns the process's paired store, pairing it on first use.
func shared(t testing.TB) *sql.DB {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDB = openDB(t, "shared.db")
		st := &onceT{TB: t}
		func() {
			defer func() {
				if r := recover(); r != nil && r != any(st) {
					panic(r)
				}
			}()
			pairSharedT(st)
		}()
		if st.failed {
			sharedErr = errors.New("pairing the shared store failed: " + st.msg)
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedDB
}

// onceT lets the shared pairing run under whichever test asks first without
// tying its cleanups to that test.
type onceT struct {
	testing.TB
	failed   bool
	msg      string
	cleanups []func()
}

func (o *onceT) Helper()                   {}
func (o *onceT) Cleanup(f func())          { o.cleanups = append(o.cleanups, f) }
func (o *onceT) Errorf(f string, a ...any) { o.failed, o.msg = true, fmt.Sprintf(f, a...) }
func (o *onceT) Fatalf(f string, a ...any) { o.Errorf(f, a...); panic(o) }
func (o *onceT) Fatal(a ...any)            { o.Errorf("%s", fmt.Sprint(a...)); panic(o) }

func pairSharedT(st *onceT) {
	defer func() {
		for i := len(st.cleanups) - 1; i >= 0; i-- {
			st.cleanups[i]()
		}
	}()
	pairNew(st, fake, sharedDB)
}
