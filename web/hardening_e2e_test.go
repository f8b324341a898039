package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"lindungi/accounts"
	"lindungi/internal/app"
	"lindungi/internal/app/apptest"
	"lindungi/store/storetest"
	"lindungi/web"
)

// apiGet does a GET with a bearer token and returns status and body.
func apiGet(t testing.TB, base, token, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Search text is personal data (names, NIKs): input the database cannot take
// (a NUL byte, text that is not UTF-8) is the client's mistake, a 400 that
// says so, and the text never reaches the log. On both dialects: PostgreSQL
// refuses a NUL in a text parameter, SQLite's FTS stops at it.
func TestSearchBadInputIs400(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			var env []string
			if name == "postgres" {
				env = append(env, "LINDUNGI_DATABASE_URL="+storetest.PostgresURL(t))
			}
			ta := apptest.Start(t, apptest.Config(t, env...))
			const nik = "3174055505900001"
			for _, q := range []string{
				"Siti Rahayu\x00" + nik,
				"Siti \xff\xfe " + nik,
				strings.Repeat("x", 1025),
			} {
				status, b := apiGet(t, ta.Base, ta.Token, "/api/v1/tickets?q="+url.QueryEscape(q))
				if status != http.StatusBadRequest || apptest.ErrorCode(t, b) != "bad_query" {
					t.Errorf("q=%q: %d %s, want 400 bad_query", q, status, b)
				}
			}
			if strings.Contains(ta.Logs.String(), nik) || strings.Contains(ta.Logs.String(), "Siti") {
				t.Errorf("search text reached the log:\n%s", ta.Logs.String())
			}
		})
	}
}

// A filter value that names nothing is a 400 naming the valid values, never
// a quietly empty list (an operator would read it as an empty queue).
func TestTicketFiltersUnknownValues(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	if _, err := ta.Accounts.Add(context.Background(), "petugas.citra", accounts.Operator); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query  string
		status int
		code   string
	}{
		{"channel=bogus", 400, "bad_channel"},
		{"assignee=nobody", 400, "unknown_assignee"},
		{"channel=whatsapp", 200, ""},
		{"channel=simulator&assignee=petugas.citra", 200, ""},
	} {
		status, b := apiGet(t, ta.Base, ta.Token, "/api/v1/tickets?"+tc.query)
		if status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.query, status, b, tc.status)
			continue
		}
		if tc.code != "" && apptest.ErrorCode(t, b) != tc.code {
			t.Errorf("%s: %s, want code %s", tc.query, b, tc.code)
		}
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// The console's CSRF token must come in the form body (or the API's header):
// a token in a URL ends up in proxy logs, browser history and Referer
// headers, so the query string must not count.
func TestConsoleCSRFNotFromQuery(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	c, err := ta.Accounts.Add(context.Background(), "petugas.dewi", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	res, err := apptest.NoRedirects.PostForm(ta.Base+"/login", url.Values{"name": {"petugas.dewi"}, "password": {c.Password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "lindungi_session" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	do := func(method, path string, body url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, ta.Base+path, strings.NewReader(body.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(session)
		resp, err := apptest.NoRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := do("GET", "/", nil)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field on the ticket list")
	}
	csrf := string(m[1])

	// Console form (s.page) and API under a cookie (s.authenticate): the
	// token in the query string is refused, in the body it is taken.
	for _, path := range []string{"/tickets/PL-2026-999999/reply", "/api/v1/tickets/PL-2026-999999/replies"} {
		resp := do("POST", path+"?csrf="+url.QueryEscape(csrf), url.Values{"text": {"halo"}})
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s with the CSRF token in the query: %d, want 403", path, resp.StatusCode)
		}
	}
	resp = do("POST", "/tickets/PL-2026-999999/reply", url.Values{"text": {"halo"}, "csrf": {csrf}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("console form with the CSRF token in the body: %d, want 404 (past the CSRF check)", resp.StatusCode)
	}
}

// The HTTP server bounds how long a response may take to write (a client
// that never reads must not hold a connection and its goroutine forever),
// yet leaves room for what the routes legitimately take: a request body
// read for up to ReadTimeout (tracing uploads) and the simulator's 30-second
// long poll.
func TestHTTPServerWriteTimeout(t *testing.T) {
	srv := app.NewHTTPServer(http.NotFoundHandler())
	if srv.WriteTimeout <= 0 {
		t.Fatal("no WriteTimeout")
	}
	if srv.WriteTimeout <= srv.ReadTimeout || srv.WriteTimeout <= web.MaxLongPoll {
		t.Errorf("WriteTimeout %v must exceed ReadTimeout %v and the long poll %v", srv.WriteTimeout, srv.ReadTimeout, web.MaxLongPoll)
	}
	if srv.ReadHeaderTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("header and idle timeouts must stay set: %+v", srv)
	}
}

// Fifty wrong guesses from a spread of addresses used to lock an operator
// out of the console everywhere for fifteen minutes. Now the lock is per
// (account, address); past the account's distributed budget guessing only
// slows down, and the address the operator logged in from is exempt.
func TestLoginLockoutSparesOwnAddress(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t, "LINDUNGI_TRUSTED_PROXIES=127.0.0.1"))
	c, err := ta.Accounts.Add(context.Background(), "petugas.gita", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	login := func(from, password string) string {
		t.Helper()
		req, _ := http.NewRequest("POST", ta.Base+"/login", strings.NewReader(url.Values{"name": {"petugas.gita"}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		res, err := apptest.NoRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header.Get("Location")
	}
	const desk = "10.20.0.7"
	if loc := login(desk, c.Password); loc != "/" {
		t.Fatalf("first login went to %q", loc)
	}
	for i := 0; i < 60; i++ {
		login(fmt.Sprintf("198.51.100.%d", i/4+1), "tebakan-"+fmt.Sprint(i))
	}
	if loc := login(desk, c.Password); loc != "/" {
		t.Fatalf("after 60 guesses from elsewhere the operator at her own desk went to %q, want the console", loc)
	}
	if strings.Contains(ta.Logs.String(), c.Password) {
		t.Error("a password reached the logs")
	}
}

// postFrom posts JSON as a client at addr (behind the trusted proxy
// 127.0.0.1, which names it in X-Forwarded-For) and returns status and body.
func postFrom(t testing.TB, base, addr, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Sijejak over HTTP: wrong register/verify calls from someone else's address
// used to block a phone's registration for an hour (429 for its owner), and
// register/otp used to send a WhatsApp OTP to a phone that never registered.
func TestSijejakAbuseSparesOwner(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t, "LINDUNGI_TRUSTED_PROXIES=127.0.0.1"))
	const phone = `"+6281277770001"`
	const attacker, owner = "203.0.113.66", "10.1.2.3"
	for i := 0; i < 12; i++ {
		postFrom(t, ta.Base, attacker, "/api/tracing/v1/register/verify", fmt.Sprintf(`{"phone":%s,"code":"SALAH%03d"}`, phone, i))
		postFrom(t, ta.Base, attacker, "/api/tracing/v1/register", `{"phone":`+phone+`}`)
	}
	if status, b := postFrom(t, ta.Base, attacker, "/api/tracing/v1/register/verify", `{"phone":`+phone+`,"code":"SALAH999"}`); status != http.StatusTooManyRequests {
		t.Errorf("the attacker's own calls are not limited: %d %s", status, b)
	}
	status, b := postFrom(t, ta.Base, owner, "/api/tracing/v1/register", `{"phone":`+phone+`}`)
	if status != http.StatusCreated {
		t.Fatalf("owner's register after the attacker's calls: %d %s", status, b)
	}
	var reg struct{ Code string }
	json.Unmarshal(b, &reg)
	// Before the WhatsApp message the owner's verify says "not yet", not
	// "too many".
	status, b = postFrom(t, ta.Base, owner, "/api/tracing/v1/register/verify", `{"phone":`+phone+`,"code":"`+reg.Code+`"}`)
	if status != http.StatusConflict || apptest.ErrorCode(t, b) != "not_confirmed" {
		t.Errorf("owner's verify after the attacker's calls: %d %s, want 409 not_confirmed", status, b)
	}

	status, b = postFrom(t, ta.Base, attacker, "/api/tracing/v1/register/otp", `{"phone":"+6281277770002"}`)
	if status != http.StatusAccepted {
		t.Fatalf("otp: %d %s", status, b)
	}
	if n := ta.Count(t, `SELECT COUNT(*) FROM outbox WHERE kind = 'otp'`); n != 0 {
		t.Errorf("%d OTP messages queued for a phone that never registered", n)
	}
}

// The operator's browser keeps a device cookie from her last login; with
// it she gets in from a new address while someone floods her account with
// guesses, also after a restart (the in-memory list of her addresses is
// gone then; the cookie is keyed with the data key).
func TestLoginDeviceCookieAfterRestart(t *testing.T) {
	cfg := apptest.Config(t, "LINDUNGI_TRUSTED_PROXIES=127.0.0.1")
	ta := apptest.Start(t, cfg)
	c, err := ta.Accounts.Add(context.Background(), "petugas.oki", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	login := func(base, from, password string, cookies ...*http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"name": {"petugas.oki"}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		res, err := apptest.NoRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	var device *http.Cookie
	for _, ck := range login(ta.Base, "10.20.0.8", c.Password).Cookies() {
		if ck.Name == "lindungi_device" {
			device = ck
		}
	}
	if device == nil || !device.HttpOnly || device.Path != "/login" {
		t.Fatalf("device cookie %+v", device)
	}
	ta.Stop()
	ta2 := apptest.Start(t, cfg)
	for i := 0; i < 60; i++ {
		login(ta2.Base, fmt.Sprintf("198.51.100.%d", i/4+1), "tebakan")
	}
	if loc := login(ta2.Base, "10.99.0.1", c.Password, device).Header.Get("Location"); loc != "/" {
		t.Errorf("with her device cookie, from a new address, after a restart and 60 guesses: went to %q, want the console", loc)
	}
}

// A password reset revokes the device cookies issued before it: the
// cookie of a browser that is no longer the operator's (a shared PC, a
// stolen laptop) must not keep exempting its holder from the account's
// throttle. A fresh login gives the new device cookie.
func TestLoginDeviceCookieRevokedByPasswordReset(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t, "LINDUNGI_TRUSTED_PROXIES=127.0.0.1"))
	ctx := context.Background()
	c, err := ta.Accounts.Add(ctx, "petugas.oki", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	login := func(from, password string, cookies ...*http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", ta.Base+"/login", strings.NewReader(url.Values{"name": {"petugas.oki"}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		res, err := apptest.NoRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	deviceOf := func(res *http.Response) *http.Cookie {
		for _, ck := range res.Cookies() {
			if ck.Name == "lindungi_device" {
				return ck
			}
		}
		return nil
	}
	old := deviceOf(login("10.20.0.8", c.Password))
	if old == nil {
		t.Fatal("no device cookie at login")
	}
	pw, err := ta.Accounts.ResetPassword(ctx, "user:admin", "petugas.oki")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		login(fmt.Sprintf("198.51.100.%d", i/4+1), "tebakan")
	}
	if loc := login("10.99.0.1", pw, old).Header.Get("Location"); loc != "/login?e=wait" {
		t.Errorf("with a device cookie from before the password reset, after 60 guesses: went to %q, want the throttle", loc)
	}
}
