package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"lindungi/accounts"
	"lindungi/internal/app/apptest"
)

// apptest.NoRedirects shows a redirect to the test instead of following it.

// The console login over HTTP: a public https URL (TLS ended at a proxy)
// makes the session cookie Secure although the request is plain HTTP, and
// repeated wrong passwords are throttled — even the right password waits
// until the window passes — with an audit row and no password in the logs.
func TestConsoleLoginCookieAndThrottle(t *testing.T) {
	for _, tc := range []struct {
		publicURL  string
		wantSecure bool
	}{
		{"https://pedulilindungi.example", true},
		{"http://127.0.0.1:8080", false},
	} {
		t.Run(tc.publicURL, func(t *testing.T) {
			ta := apptest.Start(t, apptest.Config(t, "LINDUNGI_PUBLIC_URL="+tc.publicURL))
			c, err := ta.Accounts.Add(context.Background(), "petugas.ani", accounts.Operator)
			if err != nil {
				t.Fatal(err)
			}
			client := apptest.NoRedirects
			login := func(password string) *http.Response {
				t.Helper()
				res, err := client.PostForm(ta.Base+"/login", url.Values{"name": {"petugas.ani"}, "password": {password}})
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res
			}
			res := login(c.Password)
			var session *http.Cookie
			for _, ck := range res.Cookies() {
				if ck.Name == "lindungi_session" {
					session = ck
				}
			}
			if session == nil || session.Secure != tc.wantSecure || !session.HttpOnly {
				t.Fatalf("session cookie %+v, want Secure=%v and HttpOnly", session, tc.wantSecure)
			}
			if !tc.wantSecure {
				return
			}
			for i := 0; i < 5; i++ {
				if loc := login("salah-" + c.Password).Header.Get("Location"); loc != "/login?e=1" {
					t.Fatalf("wrong password %d went to %q", i, loc)
				}
			}
			if loc := login(c.Password).Header.Get("Location"); loc != "/login?e=wait" {
				t.Fatalf("right password after 5 failures went to %q, want the throttle notice", loc)
			}
			page, err := http.Get(ta.Base + "/login?e=wait")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(page.Body)
			page.Body.Close()
			if !strings.Contains(string(body), "Terlalu banyak percobaan") {
				t.Error("throttle notice missing from the login page")
			}
			if n := ta.Count(t, `SELECT COUNT(*) FROM audit_log WHERE action = 'login.throttled'`); n != 1 {
				t.Errorf("%d audit rows for the throttled attempt, want 1", n)
			}
			if strings.Contains(ta.Logs.String(), c.Password) {
				t.Error("a password reached the logs")
			}
		})
	}
}
