package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"lindungi/accounts"
	"lindungi/internal/app/apptest"
	"lindungi/store/storetest"
)

const chromiumPath = "/usr/bin/chromium"

// browser is one headless Chromium tab with what it saw on the side: the
// JavaScript dialogs that opened and the console messages (CSP violations
// and uncaught exceptions land there).
type browser struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	dialogs []string
	console []string
}

// newBrowser starts Debian's Chromium with a fresh profile. ctx bounds the
// whole session: it is the failure guard, not an assertion on speed.
func newBrowser(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { bcancel(); acancel() })
	b := &browser{t: t, ctx: bctx}
	// Start the browser and the tab, then subscribe before any page loads.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	dialogs := chromedp.Events(bctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			// Close it, or the page (and the test) would hang.
			chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m.String())
			b.mu.Unlock()
		}
	}()
	return b
}

// do runs actions that return nothing and fails the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// load runs actions that navigate (a link, a form) and returns the response
// of the document that loaded.
func (b *browser) load(what string, actions ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return resp
}

func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (b *browser) html() string {
	b.t.Helper()
	return get(b, "page HTML", chromedp.OuterHTML(chromedp.CSS("html")))
}

func (b *browser) location() string {
	b.t.Helper()
	return get(b, "location", chromedp.Location())
}

// sessionCookie returns the console's session cookie, or nil.
func (b *browser) sessionCookie() *network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		b.t.Fatalf("cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "lindungi_session" {
			return c
		}
	}
	return nil
}

func (b *browser) seen() (dialogs, console []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...), append([]string(nil), b.console...)
}

func header(r *network.Response, name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// checkCSP fails unless the document came with the console's strict policy.
func checkCSP(t *testing.T, what string, r *network.Response) {
	t.Helper()
	csp := header(r, "Content-Security-Policy")
	// The console's one script is its own file: no inline script, no eval.
	script := ""
	for _, d := range strings.Split(csp, ";") {
		if d = strings.TrimSpace(d); strings.HasPrefix(d, "script-src") {
			script = d
		}
	}
	if !strings.Contains(csp, "default-src 'none'") || script != "script-src 'self'" || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: Content-Security-Policy %q, want default-src 'none', script-src 'self' only, frame-ancestors 'none'", what, csp)
	}
	if xfo := header(r, "X-Frame-Options"); xfo != "DENY" {
		t.Errorf("%s: X-Frame-Options %q", what, xfo)
	}
}

// TestConsoleInBrowser drives the operator console in headless Chromium:
// login (wrong and right password), the ticket list with the NIK masked, the
// detail page with it in clear, a reply that reaches the citizen, CSRF
// refusal, the CSP header, a script in a citizen's message shown as text,
// the status form and logout.
func TestConsoleInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		storetest.SkipOrFail(t, "Chromium not installed at "+chromiumPath+" (apt-get install chromium)")
	}
	ta := apptest.Start(t, apptest.Config(t))

	// A citizen files a certificate complaint over the simulator; the
	// description carries markup that must never run in the console.
	const citizen = "+6281234500077"
	const nik, nikMasked = "3174014501900001", "3174********0001"
	const evil = "<script>alert(1)</script>"
	apptest.MustReply(t, ta.Say(citizen, "halo"), "Selamat datang")
	apptest.MustReply(t, ta.Say(citizen, "1"), "nama lengkap")
	apptest.MustReply(t, ta.Say(citizen, "Budi Santoso"), "NIK")
	apptest.MustReply(t, ta.Say(citizen, nik), "tanggal lahir")
	apptest.MustReply(t, ta.Say(citizen, "05-01-1990"), "nomor HP")
	apptest.MustReply(t, ta.Say(citizen, "081234567890"), "jelaskan")
	apptest.MustReply(t, ta.Say(citizen, "Sertifikat dosis 2 belum muncul "+evil), "foto")
	apptest.MustReply(t, ta.Say(citizen, "lewati"), nik)
	number := apptest.TicketNumber.FindString(strings.Join(ta.Say(citizen, "ya"), "\n"))
	if number == "" {
		t.Fatal("no ticket number in the confirmation")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	op, err := ta.Accounts.Add(ctx, "petugas.sari", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, ctx)

	// Not logged in: the console sends the browser to the login page.
	b.load("open console", chromedp.Navigate(ta.Base+"/"))
	if u, _ := url.Parse(b.location()); u.Path != "/login" {
		t.Fatalf("anonymous / went to %s, want /login", b.location())
	}

	// Wrong password: the error, and no session.
	b.do("type wrong password",
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "petugas.sari"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "bukan-"+op.Password))
	resp := b.load("submit wrong password", chromedp.Click(chromedp.ID("login")))
	checkCSP(t, "login page", resp)
	if loc := b.location(); !strings.Contains(loc, "/login?e=1") {
		t.Errorf("after a wrong password the browser is at %s", loc)
	}
	if msg := b.text("p.flag"); !strings.Contains(msg, "kata sandi salah") {
		t.Errorf("wrong password message %q", msg)
	}
	if c := b.sessionCookie(); c != nil {
		t.Fatalf("a wrong password set a session cookie: %+v", c)
	}
	b.load("open console again", chromedp.Navigate(ta.Base+"/"))
	if u, _ := url.Parse(b.location()); u.Path != "/login" {
		t.Fatalf("after a failed login / went to %s, want /login", b.location())
	}

	// Right password: the ticket list.
	b.do("type password",
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "petugas.sari"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), op.Password))
	resp = b.load("log in", chromedp.Click(chromedp.ID("login")))
	if resp.Status != http.StatusOK {
		t.Fatalf("list after login: status %d", resp.Status)
	}
	checkCSP(t, "ticket list", resp)
	c := b.sessionCookie()
	if c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
		t.Fatalf("session cookie %+v, want HttpOnly and SameSite=Strict", c)
	}
	b.do("wait for the list", chromedp.WaitVisible(chromedp.CSS(`#tickets`)))
	row := b.text(`#tickets tbody tr`)
	if !strings.Contains(row, number) || !strings.Contains(row, nikMasked) {
		t.Errorf("list row %q, want %s and the masked NIK %s", row, number, nikMasked)
	}
	// Operators read Indonesian labels, not the API's keys.
	if !strings.Contains(row, "Terbuka") || !strings.Contains(row, "Sertifikat belum muncul") || strings.Contains(row, "certificate_missing") {
		t.Errorf("list row %q, want the status and category in Indonesian", row)
	}
	if strings.Contains(b.html(), nik) {
		t.Error("the ticket list shows the NIK in clear")
	}
	if n := get(b, "count scripts", chromedp.Evaluate[int](foreignScripts)); n != 0 {
		t.Errorf("the ticket list has %d <script> elements; the citizen's markup became HTML", n)
	}
	if !strings.Contains(b.text("header"), "petugas.sari") {
		t.Errorf("header %q does not name the operator", b.text("header"))
	}

	// The detail page: the NIK in clear, the markup as text.
	resp = b.load("open ticket", chromedp.Click(chromedp.CSS(`#tickets a[href="/tickets/`+number+`"]`)))
	checkCSP(t, "ticket page", resp)
	b.do("wait for the ticket", chromedp.WaitVisible(chromedp.ID("messages")))
	if h := b.text("h1"); !strings.Contains(h, number) {
		t.Errorf("ticket heading %q", h)
	}
	// Field labels in Indonesian; the NIK masked until the operator asks.
	if fields := b.text("#fields"); strings.Contains(fields, nik) || !strings.Contains(fields, nikMasked) || !strings.Contains(fields, "Budi Santoso") ||
		!strings.Contains(fields, "Tanggal lahir") || strings.Contains(fields, "dob") {
		t.Errorf("ticket fields %q, want Indonesian labels, the name and the NIK masked as %s", fields, nikMasked)
	}
	if strings.Contains(b.html(), nik) {
		t.Error("the ticket page carries the NIK in clear before it was revealed")
	}
	resp = b.load("reveal", chromedp.Click(chromedp.ID("reveal")))
	checkCSP(t, "revealed ticket page", resp)
	if fields := b.text("#fields"); !strings.Contains(fields, nik) {
		t.Errorf("revealed fields %q, want the NIK %s in clear", fields, nik)
	}
	// The reveal is in the audit log, under the operator's name.
	var audited struct {
		Entries []struct {
			Actor    string `json:"actor"`
			ObjectID string `json:"objectId"`
		} `json:"entries"`
	}
	ta.Call("GET", "/api/v1/audit?action=ticket.reveal&object_id="+number, nil, &audited)
	if len(audited.Entries) != 1 || !strings.Contains(audited.Entries[0].Actor, "petugas.sari") {
		t.Errorf("audit rows of the reveal: %+v, want one by petugas.sari", audited.Entries)
	}
	if msgs := b.text("#messages"); !strings.Contains(msgs, evil) {
		t.Errorf("the citizen's %q is not shown as text; messages: %q", evil, msgs)
	}
	if n := get(b, "count scripts", chromedp.Evaluate[int](foreignScripts)); n != 0 {
		t.Errorf("the ticket page has %d <script> elements; the citizen's markup became HTML", n)
	}
	if h := b.html(); !strings.Contains(h, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the citizen's markup is not escaped in the page")
	}

	// A reply typed in the form goes to the citizen.
	var before struct {
		NextCursor string `json:"next_cursor"`
	}
	ta.Call("GET", "/api/v1/simulator/messages?to="+apptest.URLQ(citizen), nil, &before)
	const answer = "Sertifikat Bapak sudah kami terbitkan ulang, silakan cek aplikasi."
	b.do("type reply", chromedp.SendKeys(chromedp.ID("reply"), answer))
	resp = b.load("send reply", chromedp.Click(chromedp.ID("send")))
	if resp.Status != http.StatusOK {
		t.Fatalf("after sending: status %d", resp.Status)
	}
	b.do("wait for the notice", chromedp.WaitVisible(chromedp.ID("sent")))
	if msgs := b.text("#messages"); !strings.Contains(msgs, answer) || !strings.Contains(msgs, "petugas.sari") {
		t.Errorf("the reply is not on the ticket page: %q", msgs)
	}
	apptest.MustReply(t, ta.Replies(citizen, before.NextCursor), "sudah kami terbitkan ulang")

	// LINDUNGI_CONSOLE_SCREENSHOT names this one file; otherwise it is
	// reply.png among the others (LINDUNGI_CONSOLE_SHOTS).
	if shotPath := os.Getenv("LINDUNGI_CONSOLE_SCREENSHOT"); shotPath != "" {
		shot := get(b, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot of %s: %s (%d bytes)", number, shotPath, len(shot))
	} else {
		b.screenshot("reply")
	}

	// The same form without its CSRF token is refused, and nothing is sent.
	b.do("drop the token", chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action$="/reply"] input[name=csrf]').remove()`))
	b.do("type forged reply", chromedp.SendKeys(chromedp.ID("reply"), "balasan tanpa token"))
	resp = b.load("send without token", chromedp.Click(chromedp.ID("send")))
	if resp.Status != http.StatusForbidden {
		t.Errorf("reply without CSRF token: status %d, want 403", resp.Status)
	}
	if msg := b.text("main"); !strings.Contains(msg, "Sesi formulir tidak valid") {
		t.Errorf("refusal page says %q", msg)
	}
	// Outside the browser too, with the session cookie: no token, a wrong one.
	for _, token := range []string{"", "x" + strings.Repeat("0", 31)} {
		form := url.Values{"status": {"closed"}}
		if token != "" {
			form.Set("csrf", token)
		}
		req, _ := http.NewRequest("POST", ta.Base+"/tickets/"+number+"/status", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("status change with csrf=%q: %d, want 403", token, res.StatusCode)
		}
	}
	var d apptest.TicketDetail
	ta.Call("GET", "/api/v1/tickets/"+number, nil, &d)
	if d.Ticket.Status == "closed" {
		t.Error("a POST without a valid CSRF token closed the ticket")
	}
	for _, m := range d.Ticket.Messages {
		if strings.Contains(m.Text, "tanpa token") {
			t.Error("a reply without a CSRF token was stored")
		}
	}

	// The status form, then the list shows the new status.
	b.load("back to the ticket", chromedp.Navigate(ta.Base+"/tickets/"+number))
	b.do("choose resolved", chromedp.SetValue(chromedp.CSS(`select[name=status]`), "resolved"))
	b.load("save status", chromedp.Click(chromedp.CSS(`form[action$="/status"] button`)))
	if h := b.text("h1 .badge"); h != "Selesai" {
		t.Errorf("status badge after saving %q, want Selesai (resolved)", h)
	}
	b.load("list resolved", chromedp.Navigate(ta.Base+"/?status=resolved"))
	if row := b.text(`#tickets tbody tr`); !strings.Contains(row, number) || !strings.Contains(row, "Selesai") {
		t.Errorf("resolved list row %q", row)
	}

	// Logout ends the session on the server too.
	b.load("log out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	if u, _ := url.Parse(b.location()); u.Path != "/login" {
		t.Errorf("after logout the browser is at %s", b.location())
	}
	req, _ := http.NewRequest("GET", ta.Base+"/", nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	res, err := apptest.NoRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Errorf("old session after logout: %d %s, want a redirect to /login", res.StatusCode, res.Header.Get("Location"))
	}

	b.nothingRan()
}

// foreignScripts counts the script elements of a page other than the
// console's own file: a citizen's markup must never become one.
const foreignScripts = `document.querySelectorAll('script:not([src="/static/console.js"])').length`

// nothingRan fails the test if a JavaScript dialog opened, the CSP blocked
// something or a script threw in this tab.
func (b *browser) nothingRan() {
	b.t.Helper()
	dialogs, console := b.seen()
	if len(dialogs) > 0 {
		b.t.Errorf("JavaScript dialogs opened: %q", dialogs)
	}
	for _, m := range console {
		if strings.Contains(m, "Content Security Policy") || strings.HasPrefix(m, "exception") {
			b.t.Errorf("browser console: %s", m)
		}
	}
}
