package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lindungi/accounts"
	"lindungi/store/storetest"
)

// fileComplaint walks the bot's certificate complaint as citizen and
// returns the ticket number.
func fileComplaint(t *testing.T, ta *testApp, citizen, nik, text string) string {
	t.Helper()
	mustReply(t, ta.say(citizen, "halo"), "Selamat datang")
	mustReply(t, ta.say(citizen, "1"), "nama lengkap")
	mustReply(t, ta.say(citizen, "Budi Santoso"), "NIK")
	mustReply(t, ta.say(citizen, nik), "tanggal lahir")
	mustReply(t, ta.say(citizen, "05-01-1990"), "nomor HP")
	mustReply(t, ta.say(citizen, "081234567890"), "jelaskan")
	mustReply(t, ta.say(citizen, text), "foto")
	mustReply(t, ta.say(citizen, "lewati"), nik)
	number := ticketNumber.FindString(strings.Join(ta.say(citizen, "ya"), "\n"))
	if number == "" {
		t.Fatal("no ticket number in the confirmation")
	}
	return number
}

// login signs a new account of role in through the login form.
func (b *browser) login(ta *testApp, name, role string) {
	b.t.Helper()
	acc, err := ta.accounts.Add(b.ctx, name, role)
	if err != nil {
		b.t.Fatal(err)
	}
	b.load("open login", chromedp.Navigate(ta.base+"/login"))
	b.do("type credentials",
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), acc.Password))
	b.load("log in", chromedp.Click(chromedp.ID("login")))
}

// screenshot saves the page as name.png in LINDUNGI_CONSOLE_SHOTS (a
// temporary folder when unset) and returns the path.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	dir := os.Getenv("LINDUNGI_CONSOLE_SHOTS")
	if dir == "" {
		dir = b.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	shot := get(b, "screenshot "+name, chromedp.FullScreenshot(90))
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s: %s (%d bytes)", name, p, len(shot))
	return p
}

// TestConsoleOperatorFlow is the operator's day in Chromium (issue 18,
// must-show 1, as far as built): a complaint filed over the simulator while
// the inbox is open appears in Unassigned without a reload; the operator
// takes it and finds it under Mine.
func TestConsoleOperatorFlow(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		storetest.SkipOrFail(t, "Chromium not installed at "+chromiumPath+" (apt-get install chromium)")
	}
	ta := startApp(t, testConfig(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := newBrowser(t, ctx)
	b.login(ta, "petugas.rina", accounts.Operator)
	b.do("wait for the inbox", chromedp.WaitVisible(chromedp.CSS(`#tickets`)))
	if tab := b.text(`#views a.active`); tab != "Belum ditangani" {
		t.Errorf("the console opens on tab %q, want Belum ditangani (unassigned)", tab)
	}
	if row := b.text(`#tickets tbody tr`); !strings.Contains(row, "Tidak ada tiket") {
		t.Errorf("empty inbox shows %q", row)
	}

	// The complaint arrives while the page stays open: the page's own
	// refresh brings its row (the context bounds the wait, not a timer).
	const citizen, nik = "+6281234500088", "3174014501900002"
	number := fileComplaint(t, ta, citizen, nik, "Sertifikat dosis *kedua* belum muncul")
	row := `#tickets tr[data-ticket="` + number + `"]`
	b.do("wait for the new row without reload", chromedp.WaitVisible(chromedp.CSS(row)))
	if got := b.text(row); !strings.Contains(got, "3174********0002") || !strings.Contains(got, "sisa 23 jam") || strings.Contains(got, nik) {
		t.Errorf("new row %q, want the masked NIK and the SLA countdown", got)
	}
	if got := b.text(row); !strings.Contains(got, "WIB") {
		t.Errorf("last activity in row %q is not in WIB", got)
	}
	b.screenshot("inbox")

	// Take it: it leaves Unassigned and shows under Mine with the name.
	b.load("take", chromedp.Click(chromedp.CSS(row+` button.take`)))
	if n := get(b, "rows of the number", chromedp.Evaluate[int](`document.querySelectorAll('`+row+`').length`)); n != 0 {
		t.Errorf("after taking, %s is still in Unassigned", number)
	}
	b.load("mine", chromedp.Click(chromedp.CSS(`#views a[data-view=mine]`)))
	if got := b.text(row + ` td.assignee`); got != "petugas.rina" {
		t.Errorf("Mine shows assignee %q, want petugas.rina", got)
	}

	// A page that does not exist: Indonesian, inside the layout.
	resp := b.load("unknown page", chromedp.Navigate(ta.base+"/tidak-ada"))
	if resp.Status != 404 || !strings.Contains(b.text("#error"), "tidak ada") || !strings.Contains(b.text("header"), "petugas.rina") {
		t.Errorf("unknown page: status %d, %q, header %q", resp.Status, b.text("#error"), b.text("header"))
	}
	b.nothingRan()
}
