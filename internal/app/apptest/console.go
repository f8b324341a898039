package apptest

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Console is a signed-in console user: a session cookie and its CSRF token
// (and the account's API token), for tests of the server-rendered pages
// without a browser.
type Console struct {
	G        *Gateway
	Name     string
	Token    string // the account's API token
	Password string
	Session  string
	CSRF     string
}

// SignIn adds an account of role and opens a console session for it.
func SignIn(t testing.TB, g *Gateway, name, role string) *Console {
	t.Helper()
	ctx := context.Background()
	c, err := g.Accounts.Add(ctx, name, role)
	if err != nil {
		t.Fatal(err)
	}
	sid, csrf, _, err := g.Accounts.Login(ctx, name, c.Password, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &Console{G: g, Name: name, Token: c.Token, Password: c.Password, Session: sid, CSRF: csrf}
}

// Get loads a console page and returns its status and body (a redirect is
// answered, not followed).
func (c *Console) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", c.G.Base+path, nil)
	return c.do(t, req)
}

// Post sends a console form with the session's CSRF token and returns the
// status and the redirect target (or the body when there is none).
func (c *Console) Post(t testing.TB, path string, form url.Values) (int, string) {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", c.CSRF)
	}
	req, _ := http.NewRequest("POST", c.G.Base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(t, req)
}

func (c *Console) do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	req.AddCookie(&http.Cookie{Name: "lindungi_session", Value: c.Session})
	resp, err := NoRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// API calls the JSON API with the account's token.
func (c *Console) API(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	return APIDo(t, c.G.Base, c.Token, method, path, body)
}

// FileComplaint walks the bot's certificate complaint as citizen over the
// simulator and returns the ticket number (the console's tests start from
// a ticket a citizen made the ordinary way).
func FileComplaint(t testing.TB, g *Gateway, citizen, nik, text string) string {
	t.Helper()
	MustReply(t, g.Say(citizen, "halo"), "Selamat datang")
	MustReply(t, g.Say(citizen, "1"), "nama lengkap")
	MustReply(t, g.Say(citizen, "Budi Santoso"), "NIK")
	MustReply(t, g.Say(citizen, nik), "tanggal lahir")
	MustReply(t, g.Say(citizen, "05-01-1990"), "nomor HP")
	MustReply(t, g.Say(citizen, "081234567890"), "jelaskan")
	MustReply(t, g.Say(citizen, text), "foto")
	MustReply(t, g.Say(citizen, "lewati"), nik)
	number := TicketNumber.FindString(strings.Join(g.Say(citizen, "ya"), "\n"))
	if number == "" {
		t.Fatal("no ticket number in the confirmation")
	}
	return number
}
