package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lindungi/accounts"
	"lindungi/internal/app/apptest"
)

// TestOfficerTryEnglishInBrowser is issue 18's officer, try-it and language
// pages in Chromium: a health officer signs in, lands on the case page,
// marks a registered phone positive and sees the case waiting for the
// citizen's consent; an operator talks to the bot on the try page and its
// answer appears without a reload; the operator switches the console to
// English and reads English labels, dates and the dashboard (with the
// Sijejak counts and a citizen's comment). Screenshots: officer, try,
// dashboard-en.
func TestOfficerTryEnglishInBrowser(t *testing.T) {
	needChromium(t)
	g := apptest.Start(t, apptest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const phone = "+6281234500501"
	apptest.Register(t, g, phone)
	rateWithComment(t, g, "+6281234500502", "Petugasnya ramah, terima kasih banyak atas bantuannya")

	// The health officer.
	officer := apptest.SignIn(t, g, "nakes.dewi", accounts.HealthOfficer)
	b := newBrowser(t, ctx)
	b.signIn(g, officer.Name, officer.Password)
	if loc := get(b, "location", chromedp.Location()); !strings.HasSuffix(loc, "/officer") {
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
	b.nothingRan()

	// The operator, in a browser of their own.
	op := apptest.SignIn(t, g, "petugas.rina", accounts.Operator)
	b = newBrowser(t, ctx)
	b.signIn(g, op.Name, op.Password)
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
	if loc := get(b, "location", chromedp.Location()); !strings.HasSuffix(loc, "/try") {
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
	b.nothingRan()
}
