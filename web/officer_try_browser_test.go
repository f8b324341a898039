package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"lindungi/accounts"
	"lindungi/internal/app/apptest"
	"lindungi/store/storetest"
)

// The browser tests drive Debian's Chromium the way the root console tests
// do (console_test.go): skipped when it is absent, required in CI
// (LINDUNGI_TEST_REQUIRE_SERVERS=1, .ci/run).
const chromiumBinary = "/usr/bin/chromium"

// consoleTab is one headless Chromium tab and the console messages it
// logged (a CSP violation or an uncaught exception lands there).
type consoleTab struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []string
}

func openConsoleTab(t *testing.T, ctx context.Context) *consoleTab {
	t.Helper()
	if _, err := os.Stat(chromiumBinary); err != nil {
		storetest.SkipOrFail(t, "Chromium not installed at "+chromiumBinary+" (apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumBinary),
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
	b := &consoleTab{t: t, ctx: bctx}
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
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

func (b *consoleTab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *consoleTab) load(what string, actions ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return resp
}

func tabGet[T any](b *consoleTab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *consoleTab) text(sel string) string {
	b.t.Helper()
	return tabGet(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// login signs in through the form with an account made by apptest.SignIn.
func (b *consoleTab) login(g *apptest.Gateway, c *apptest.Console) {
	b.t.Helper()
	b.load("open login", chromedp.Navigate(g.Base+"/login"))
	b.do("type credentials",
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), c.Name),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), c.Password))
	b.load("log in", chromedp.Click(chromedp.ID("login")))
}

// screenshot saves the page as name.png in LINDUNGI_CONSOLE_SHOTS, the
// directory the root console tests save theirs to (a temporary folder
// when unset).
func (b *consoleTab) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("LINDUNGI_CONSOLE_SHOTS")
	if dir == "" {
		dir = b.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	shot := tabGet(b, "screenshot "+name, chromedp.FullScreenshot(100))
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s: %s (%d bytes)", name, p, len(shot))
}

// nothingBlocked fails on a CSP violation or a script error in the tab.
func (b *consoleTab) nothingBlocked() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Uncaught") {
			b.t.Errorf("browser console: %s", m)
		}
	}
}

// TestOfficerTryEnglishInBrowser is issue 18's officer, try-it and language
// pages in Chromium: a health officer signs in, lands on the case page,
// marks a registered phone positive and sees the case waiting for the
// citizen's consent; an operator talks to the bot on the try page and its
// answer appears without a reload; the operator switches the console to
// English and reads English labels, dates and the dashboard (with the
// Sijejak counts and a citizen's comment). Screenshots: officer, try,
// dashboard-en.
func TestOfficerTryEnglishInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumBinary); err != nil {
		storetest.SkipOrFail(t, "Chromium not installed at "+chromiumBinary+" (apt-get install chromium)")
	}
	g := apptest.Start(t, apptest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const phone = "+6281234500501"
	apptest.Register(t, g, phone)
	rateWithComment(t, g, "+6281234500502", "Petugasnya ramah, terima kasih banyak atas bantuannya")

	// The health officer.
	officer := apptest.SignIn(t, g, "nakes.dewi", accounts.HealthOfficer)
	b := openConsoleTab(t, ctx)
	b.login(g, officer)
	if loc := tabGet(b, "location", chromedp.Location()); !strings.HasSuffix(loc, "/officer") {
		t.Fatalf("a health officer lands on %s, want /officer", loc)
	}
	if got := b.text("header nav"); strings.Contains(got, "Kotak masuk") || !strings.Contains(got, "Kasus Sijejak") {
		t.Errorf("a health officer's top bar: %q", got)
	}
	b.do("fill the case form",
		chromedp.SendKeys(chromedp.ID("case-phone"), "0812 3450 0501"),
		chromedp.SetValue(chromedp.ID("case-onset"), "2026-12-01"))
	b.load("mark positive", chromedp.Click(chromedp.ID("case-mark")))
	if got := b.text("#marked"); !strings.Contains(got, "permintaan persetujuan dikirim") {
		t.Errorf("after marking: %q", got)
	}
	row := b.text(`#cases tbody tr[data-case]`)
	if !strings.Contains(row, "diminta, belum dijawab") || !strings.Contains(row, "user:nakes.dewi") || strings.Contains(row, "0501") {
		t.Errorf("the case row %q, want consent requested, the officer, and no phone", row)
	}
	b.screenshot("officer")
	b.nothingBlocked()

	// The operator, in a browser of their own.
	op := apptest.SignIn(t, g, "petugas.rina", accounts.Operator)
	b = openConsoleTab(t, ctx)
	b.login(g, op)
	b.load("try page", chromedp.Click(chromedp.ID("nav-try")))
	b.do("type as the citizen", chromedp.SendKeys(chromedp.ID("try-text"), "halo"))
	b.load("send", chromedp.Click(chromedp.ID("try-send")))
	// The bot's answer arrives through the outbox after the page loaded:
	// the page's own refresh brings it (the context bounds the wait).
	b.do("wait for the bot", chromedp.WaitVisible(chromedp.CSS(`#trylog div[data-kind=bot]`)))
	if got := b.text(`#trylog div[data-kind=bot]`); !strings.Contains(got, "Selamat datang") {
		t.Errorf("the bot's answer on the try page: %q", got)
	}
	if got := b.text(`#trylog div[data-kind=me]`); !strings.Contains(got, "halo") {
		t.Errorf("the operator's line on the try page: %q", got)
	}
	b.screenshot("try")

	// English: the switch in the top bar brings the operator back to the
	// page they were on, in English.
	b.load("switch to English", chromedp.Click(chromedp.ID("lang-switch")))
	if loc := tabGet(b, "location", chromedp.Location()); !strings.HasSuffix(loc, "/try") {
		t.Errorf("after the switch the browser is at %s, want /try", loc)
	}
	if got := b.text("h1"); got != "Try the bot as a citizen" {
		t.Errorf("try page heading in English: %q", got)
	}
	b.load("inbox", chromedp.Navigate(g.Base+"/"))
	if got := b.text("#views a.active"); got != "Unassigned" {
		t.Errorf("the inbox tab in English: %q", got)
	}
	if got := b.text("header nav"); !strings.Contains(got, "Inbox") || !strings.Contains(got, "Dashboard") || !strings.Contains(got, "Try the bot") {
		t.Errorf("the top bar in English: %q", got)
	}
	b.load("dashboard", chromedp.Click(chromedp.ID("nav-dashboard")))
	if got := b.text("h1"); got != "Service dashboard" {
		t.Errorf("dashboard heading: %q", got)
	}
	month := time.Now().In(time.FixedZone("WIB", 7*3600)).Month().String()
	if got := b.text("main p.meta"); !strings.Contains(got, month) || !strings.Contains(got, "WIB") {
		t.Errorf("dashboard period %q, want English month names in WIB", got)
	}
	if got := b.text("#sijejak-cases"); got != "1" {
		t.Errorf("Sijejak cases on the dashboard: %q", got)
	}
	if got := b.text("#csat-comments tbody"); !strings.Contains(got, "Petugasnya ramah") {
		t.Errorf("the citizens' comments on the dashboard: %q", got)
	}
	b.screenshot("dashboard-en")
	b.nothingBlocked()
}
