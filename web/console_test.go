package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"lindungi/accounts"
	"lindungi/internal/app/apptest"
)

// TestConsoleInBrowser drives the operator console in headless Chromium:
// login (wrong and right password), the ticket list with the NIK masked, the
// detail page with it in clear, a reply that reaches the citizen, CSRF
// refusal, the CSP header, a script in a citizen's message shown as text,
// the status form and logout.
func TestConsoleInBrowser(t *testing.T) {
	needChromium(t)
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
