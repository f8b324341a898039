package web_test

// The one set of browser helpers of the web package's tests: a headless
// Chromium tab (with the dialogs and console messages it saw), login,
// screenshots and the assertions every browser test ends with.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"lindungi/internal/app/apptest"
	"lindungi/store/storetest"
)

// The browser tests drive Debian's Chromium: skipped when it is absent,
// required in CI (LINDUNGI_TEST_REQUIRE_SERVERS=1, .ci/run).
const chromiumPath = "/usr/bin/chromium"

// needChromium skips the test (fails it in CI) without Chromium.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		storetest.SkipOrFail(t, "Chromium not installed at "+chromiumPath+" (apt-get install chromium)")
	}
}

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
	needChromium(t)
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

// login signs a new account of role in through the login form.
func (b *browser) login(ta *apptest.Gateway, name, role string) {
	b.t.Helper()
	acc, err := ta.Accounts.Add(b.ctx, name, role)
	if err != nil {
		b.t.Fatal(err)
	}
	b.signIn(ta, name, acc.Password)
}

// signIn signs an existing account in through the login form and returns
// the response of the page the login led to.
func (b *browser) signIn(ta *apptest.Gateway, name, password string) *network.Response {
	b.t.Helper()
	b.load("open login", chromedp.Navigate(ta.Base+"/login"))
	b.do("type credentials",
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password))
	return b.load("log in", chromedp.Click(chromedp.ID("login")))
}

// screenshot saves the page as name.png (quality 100: PNG, not JPEG) in
// LINDUNGI_CONSOLE_SHOTS (a temporary folder when unset) and returns the
// path.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	dir := os.Getenv("LINDUNGI_CONSOLE_SHOTS")
	if dir == "" {
		dir = b.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	shot := get(b, "screenshot "+name, chromedp.FullScreenshot(100))
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s: %s (%d bytes)", name, p, len(shot))
	return p
}

// nothingRan fails the test if a JavaScript dialog opened, the CSP blocked
// something or a script threw in this tab (Chromium logs an uncaught
// exception as "exception …" or "… Uncaught …", depending on the path).
func (b *browser) nothingRan() {
	b.t.Helper()
	dialogs, console := b.seen()
	if len(dialogs) > 0 {
		b.t.Errorf("JavaScript dialogs opened: %q", dialogs)
	}
	for _, m := range console {
		if strings.Contains(m, "Content Security Policy") || strings.HasPrefix(m, "exception") || strings.Contains(m, "Uncaught") {
			b.t.Errorf("browser console: %s", m)
		}
	}
}
