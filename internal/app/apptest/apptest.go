// Package apptest starts a whole gateway (internal/app, the same wiring as
// `lindungi serve`) on 127.0.0.1:0 with a fresh data directory, for
// end-to-end tests in any package, as the exposure-notifications server's
// enkstest does. It owns no table: tests that look into the database bring
// their own SQL.
//
// app imports most of the module, so a package's tests that use apptest
// are external test packages (package bot_test), never internal ones.
package apptest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/config"
	"lindungi/internal/app"
	"lindungi/store/storetest"
	"lindungi/testlog"
)

// Config is a gateway with the simulator on, WhatsApp and the scheduler
// off, debug logs, on a fresh temp dir; env lines (LINDUNGI_*=…) override.
func Config(t testing.TB, env ...string) config.Config {
	t.Helper()
	base := []string{"LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_LISTEN=127.0.0.1:0", "LINDUNGI_DATA_DIR=" + t.TempDir(),
		"LINDUNGI_SIMULATOR=true", "LINDUNGI_TRACING_CHANNEL=simulator", "LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_LOG_LEVEL=debug"}
	cfg, err := config.Load("", append(base, env...))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Postgres is the env line that puts a gateway on a private PostgreSQL
// schema (storetest's); without LINDUNGI_TEST_POSTGRES_URL the test skips,
// or fails when servers are required.
func Postgres(t testing.TB) string {
	t.Helper()
	return "LINDUNGI_DATABASE_URL=" + storetest.PostgresURL(t)
}

// Gateway is a running gateway and an admin's API token for it. Call, Say
// and Replies use only T, Base and Token, so a Gateway{T, Base, Token}
// literal talks to a gateway process started some other way.
type Gateway struct {
	*app.App
	T     testing.TB
	Base  string // http://127.0.0.1:port
	Token string // an admin's bearer token
	Logs  *testlog.Buffer

	cancel context.CancelFunc
	done   chan error
}

// Start wires cfg (options carry the fakes for WhatsApp's servers and
// clock), adds an admin and runs the gateway until the test ends.
func Start(t testing.TB, cfg config.Config, opts ...app.Options) *Gateway {
	t.Helper()
	var o app.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, logs, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		cancel()
		t.Fatal(err)
	}
	g := &Gateway{App: a, T: t, Base: "http://" + a.Addr, Logs: logs, cancel: cancel, done: make(chan error, 1)}
	c, err := a.Accounts.Add(ctx, fmt.Sprintf("op%d", time.Now().UnixNano()), accounts.Admin)
	if err != nil {
		t.Fatal(err)
	}
	g.Token = c.Token
	go func() { g.done <- a.Run(ctx) }()
	t.Cleanup(g.Stop)
	return g
}

// Stop shuts the gateway down (once; Start also registers it as cleanup).
func (g *Gateway) Stop() {
	if g.cancel == nil {
		return
	}
	g.cancel()
	g.cancel = nil
	select {
	case <-g.done:
	case <-time.After(30 * time.Second):
		g.T.Error("app did not stop within 30s")
	}
}

// Call does an API request with the admin token and decodes the JSON
// answer into out.
func (g *Gateway) Call(method, path string, body any, out any) int {
	g.T.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, g.Base+path, rd)
	req.Header.Set("Authorization", "Bearer "+g.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			g.T.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// SimMsg is a message the simulator delivered.
type SimMsg struct {
	Seq  int64  `json:"seq"`
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Say sends text to the simulator as `from` and returns the replies that
// arrive.
func (g *Gateway) Say(from, text string) []string {
	g.T.Helper()
	var before struct {
		NextCursor string `json:"next_cursor"`
	}
	g.Call("GET", "/api/v1/simulator/messages?to="+URLQ(from), nil, &before)
	if code := g.Call("POST", "/api/v1/simulator/messages", map[string]string{"from": from, "name": "Budi", "text": text}, nil); code != http.StatusAccepted {
		g.T.Fatalf("post %q: status %d", text, code)
	}
	return g.Replies(from, before.NextCursor)
}

// Replies waits for the outbox to deliver what the bot wrote to `from`
// after the simulator cursor `after`, until the stream goes quiet.
func (g *Gateway) Replies(from, after string) []string {
	g.T.Helper()
	var out []string
	cursor := after
	quiet := 0
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		var got struct {
			Messages   []SimMsg `json:"messages"`
			NextCursor string   `json:"next_cursor"`
		}
		wait := "3s"
		if len(out) > 0 {
			wait = "300ms"
		}
		g.Call("GET", "/api/v1/simulator/messages?to="+URLQ(from)+"&after="+cursor+"&wait="+wait, nil, &got)
		cursor = got.NextCursor
		for _, m := range got.Messages {
			out = append(out, m.Text)
		}
		if len(got.Messages) == 0 && len(out) > 0 {
			quiet++
			if quiet >= 1 {
				break
			}
		}
	}
	return out
}

// Count runs a COUNT query on the gateway's database.
func (g *Gateway) Count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := g.DB.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// WaitCount waits until query returns at least want.
func (g *Gateway) WaitCount(t testing.TB, want int, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // failure guard only
	for {
		n := g.Count(t, query, args...)
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d\nlogs:\n%s", query, n, want, Tail(g.Logs.String(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Get is the body of an unauthenticated GET.
func (g *Gateway) Get(path string) string {
	resp, err := http.Get(g.Base + path)
	if err != nil {
		g.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// URLQ escapes what a phone number or a name needs in a query string.
func URLQ(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "+", "%2B"), " ", "%20") }

// Tail is the last n bytes of s (a log, in a failure message).
func Tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Contains reports whether any reply contains want.
func Contains(replies []string, want string) bool {
	for _, r := range replies {
		if strings.Contains(r, want) {
			return true
		}
	}
	return false
}

// MustReply fails the test unless a reply contains want.
func MustReply(t testing.TB, replies []string, want string) {
	t.Helper()
	if !Contains(replies, want) {
		t.Fatalf("no reply contains %q; got %q", want, replies)
	}
}

// APIDo sends a JSON request with a bearer token and returns status and
// body.
func APIDo(t testing.TB, base, token, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// ProcStatusMB reads a VmRSS/VmHWM-style field of /proc/self/status in MB.
func ProcStatusMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

// TicketNumber matches a ticket number in a reply (PL-2026-000001).
var TicketNumber = regexp.MustCompile(`PL-\d{4}-\d{6}`)

// TicketList is the answer of GET /api/v1/tickets.
type TicketList struct {
	Tickets []struct {
		ID, Category, Status, Nik, Contact, Channel string
		HandedOff                                   bool `json:"handedOff"`
	} `json:"tickets"`
}

// TicketDetail is the answer of GET /api/v1/tickets/{number}.
type TicketDetail struct {
	Ticket struct {
		ID, Status, Category, Nik string
		Fields                    map[string]string `json:"fields"`
		Messages                  []struct {
			Direction, Text, Channel string
			Attachments              []struct{ Name string } `json:"attachments"`
		} `json:"messages"`
	} `json:"ticket"`
}

// Device is a phone app talking to Sijejak's API.
type Device struct {
	G     *Gateway
	Phone string
	Token string
}

// Do sends a JSON request, with bearer when it is not empty, and decodes
// the answer into out.
func (d *Device) Do(t testing.TB, method, path, bearer string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, d.G.Base+path, rd)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// Register runs the inbound-first registration: the app asks for a code,
// the citizen sends "SIJEJAK <code>" on the (simulated) WhatsApp, the app
// exchanges the code for a device token.
func Register(t testing.TB, g *Gateway, phone string) *Device {
	t.Helper()
	d := &Device{G: g, Phone: phone}
	var reg struct{ Code, WaLink string }
	if code := d.Do(t, "POST", "/api/tracing/v1/register", "", map[string]string{"phone": phone}, &reg); code != 201 || reg.Code == "" {
		t.Fatalf("register: %d %+v", code, reg)
	}
	if !strings.Contains(reg.WaLink, "wa.me/6281110500567?text=SIJEJAK%20"+reg.Code) {
		t.Errorf("waLink %q", reg.WaLink)
	}
	var v struct{ DeviceToken string }
	if code := d.Do(t, "POST", "/api/tracing/v1/register/verify", "", map[string]string{"phone": phone, "code": reg.Code}, &v); code != 409 {
		t.Errorf("verify before the WhatsApp message: %d, want 409", code)
	}
	MustReply(t, g.Say(phone, "SIJEJAK "+reg.Code), reg.Code)
	if code := d.Do(t, "POST", "/api/tracing/v1/register/verify", "", map[string]string{"phone": phone, "code": reg.Code}, &v); code != 200 || v.DeviceToken == "" {
		t.Fatalf("verify: %d", code)
	}
	d.Token = v.DeviceToken
	return d
}

// TempIDs is the answer of Sijejak's GET /tempIDs.
type TempIDs struct {
	TempIDs []struct {
		TempID                string `json:"tempID"`
		StartTime, ExpiryTime int64
	} `json:"tempIDs"`
	RefreshTime int64 `json:"refreshTime"`
}

// NoRedirects is a client that shows a redirect instead of following it
// (the console's login answers with one).
var NoRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// ErrorCode is the code of an API error answer (web's coded errors).
func ErrorCode(t testing.TB, b []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not a JSON error: %s", b)
	}
	if e.Error.Message == "" {
		t.Fatalf("error without a message: %s", b)
	}
	return e.Error.Code
}

// EmptyRecords streams {"records":[{},{},…]} of exactly n bytes without
// holding it: the shape that once made one upload cost a gigabyte.
type EmptyRecords struct{ n, off int }

const emptyHead, emptyTail = `{"records":[`, `{}]}`

func (e *EmptyRecords) Read(p []byte) (int, error) {
	if e.off >= e.n {
		return 0, io.EOF
	}
	w := 0
	for w < len(p) && e.off < e.n {
		var c byte
		switch {
		case e.off < len(emptyHead):
			c = emptyHead[e.off]
		case e.off >= e.n-len(emptyTail):
			c = emptyTail[e.off-(e.n-len(emptyTail))]
		default:
			c = "{},"[(e.off-len(emptyHead))%3]
		}
		p[w] = c
		w++
		e.off++
	}
	return w, nil
}

// PostUpload sends an upload of n bytes of empty records with the device
// token and returns the status (0 when the server closed the connection
// before the client finished sending, which a refusal may do).
func PostUpload(base, token string, n int) int {
	req, _ := http.NewRequest("POST", base+"/api/tracing/v1/uploads", &EmptyRecords{n: n})
	req.ContentLength = int64(n)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Metric reads one sample from /metrics (0 when absent).
func Metric(t testing.TB, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
