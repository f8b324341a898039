package main

import (
	"os"
	"testing"

	"lindungi/config"
	"lindungi/internal/app/apptest"
	"lindungi/testlog"
)

// TestMain runs the tests with the garbage-collector settings serve
// applies (gc.go), so what they measure is the process as deployed.
func TestMain(m *testing.M) {
	tuneGC(os.Getenv, "/")
	os.Exit(m.Run())
}

// testApp is apptest's gateway under the short names the console's tests
// in this package use (they are moving to web; the process-level tests
// here use internal/app/proctest).
type testApp struct {
	*App
	t     testing.TB
	base  string
	token string
	logs  *testlog.Buffer
}

func testConfig(t testing.TB, env ...string) config.Config {
	t.Helper()
	return apptest.Config(t, env...)
}

func startApp(t testing.TB, cfg config.Config) *testApp {
	t.Helper()
	g := apptest.Start(t, cfg, appOptions())
	return &testApp{App: wrap(g.App), t: t, base: g.Base, token: g.Token, logs: g.Logs}
}

// client talks to the gateway at base as token, reporting to t.
func (ta *testApp) client() *apptest.Gateway {
	return &apptest.Gateway{T: ta.t, Base: ta.base, Token: ta.token, App: ta.App.App, Logs: ta.logs}
}

func mustReply(t testing.TB, replies []string, want string) {
	t.Helper()
	apptest.MustReply(t, replies, want)
}

var (
	ticketNumber = apptest.TicketNumber
	noRedirects  = apptest.NoRedirects
)

type (
	ticketDetail = apptest.TicketDetail
	simMsg       = apptest.SimMsg
)

// call does an API request and decodes the JSON answer into out.
func (ta *testApp) call(method, path string, body any, out any) int {
	ta.t.Helper()
	return ta.client().Call(method, path, body, out)
}

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
