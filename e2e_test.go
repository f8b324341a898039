package main

import (
	"os"
	"testing"
	"time"

	"lindungi/config"
	"lindungi/internal/app/apptest"
	"lindungi/testlog"
)

// testApp is apptest's gateway under the names the root tests use.
type testApp struct {
	*App
	t      testing.TB
	base   string
	token  string
	logs   *testlog.Buffer
	cancel func() // nil once stopped
}

func testConfig(t testing.TB, env ...string) config.Config {
	t.Helper()
	return apptest.Config(t, env...)
}

func startApp(t testing.TB, cfg config.Config) *testApp {
	t.Helper()
	g := apptest.Start(t, cfg, appOptions())
	return &testApp{App: wrap(g.App), t: t, base: g.Base, token: g.Token, logs: g.Logs, cancel: g.Stop}
}

func (ta *testApp) stop() {
	if ta.cancel != nil {
		ta.cancel()
		ta.cancel = nil
	}
}

// client talks to the gateway at base as token, reporting to t (a test
// may point a testApp at a gateway process, or hand it to a subtest).
func (ta *testApp) client() *apptest.Gateway {
	g := &apptest.Gateway{T: ta.t, Base: ta.base, Token: ta.token}
	if ta.App != nil {
		g.App, g.Logs = ta.App.App, ta.logs
	}
	return g
}

// count runs a COUNT query on the app's database.
func (ta *testApp) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	return ta.client().Count(t, query, args...)
}

// waitCount waits until query returns at least want.
func (ta *testApp) waitCount(t testing.TB, want int, query string, args ...any) {
	t.Helper()
	ta.client().WaitCount(t, want, query, args...)
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

func tail(s string, n int) string { return apptest.Tail(s, n) }

// The helpers of the tests that moved to their packages, under the names
// the root tests (the console's, the process-level ones) still use.

func contains(replies []string, want string) bool { return apptest.Contains(replies, want) }

func mustReply(t testing.TB, replies []string, want string) {
	t.Helper()
	apptest.MustReply(t, replies, want)
}

var (
	ticketNumber = apptest.TicketNumber
	noRedirects  = apptest.NoRedirects
)

type (
	ticketList   = apptest.TicketList
	ticketDetail = apptest.TicketDetail
)

// register registers a Sijejak device for phone at ta's gateway.
func register(t testing.TB, ta *testApp, phone string) *apptest.Device {
	t.Helper()
	return apptest.Register(t, ta.client(), phone)
}

// call does an API request and decodes the JSON answer into out.
func (ta *testApp) call(method, path string, body any, out any) int {
	ta.t.Helper()
	return ta.client().Call(method, path, body, out)
}

type simMsg = apptest.SimMsg

// say sends text as `from` and returns the replies that arrive.
func (ta *testApp) say(from, text string) []string {
	ta.t.Helper()
	return ta.client().Say(from, text)
}

// replies waits for the outbox to deliver what the bot wrote.
func (ta *testApp) replies(from, after string) []string {
	ta.t.Helper()
	return ta.client().Replies(from, after)
}

func urlq(s string) string { return apptest.URLQ(s) }

// TestMain runs the tests and benchmarks with the garbage-collector
// settings serve applies (gc.go), so what they measure is the process as
// deployed.
func TestMain(m *testing.M) {
	tuneGC(os.Getenv, "/")
	os.Exit(m.Run())
}
