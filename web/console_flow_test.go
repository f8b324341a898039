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

// TestConsoleOperatorFlow is the operator's day in Chromium (issue 18,
// must-show 1, as far as built): a complaint filed over the simulator while
// the inbox is open appears in Unassigned without a reload; the operator
// takes it and finds it under Mine, answers with a supervisor's canned
// reply that reaches the citizen and shows "terkirim", writes an internal
// note that never reaches them, and a 119 call by the same citizen becomes
// a phone ticket in their history; closing the chat ticket asks the
// citizen to rate and the score shows on the dashboard. Screenshots:
// inbox, ticket, call form, dashboard.
func TestConsoleOperatorFlow(t *testing.T) {
	needChromium(t)
	ta := apptest.Start(t, apptest.Config(t))
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
	number := apptest.FileComplaint(t, ta, citizen, nik, "Sertifikat dosis *kedua* belum muncul")
	row := `#tickets tr[data-ticket="` + number + `"]`
	b.do("wait for the new row without reload", chromedp.WaitVisible(chromedp.CSS(row)))
	if got := b.text(row); !strings.Contains(got, "3174********0002") || !strings.Contains(got, "sisa 23 jam") || strings.Contains(got, nik) {
		t.Errorf("new row %q, want the masked NIK and the SLA countdown", got)
	}
	if got := b.text(row); !strings.Contains(got, "WIB") {
		t.Errorf("last activity in row %q is not in WIB", got)
	}
	b.screenshot("inbox")

	// Take it from the keyboard (j selects the first row, t takes it): it
	// leaves Unassigned and shows under Mine with the name.
	b.do("select the row", chromedp.KeyEvent("j"))
	if got := get(b, "current row", chromedp.Evaluate[string](`document.querySelector('#tickets tr.current').dataset.ticket`)); got != number {
		t.Errorf("j selected %q, want %s", got, number)
	}
	b.load("take", chromedp.KeyEvent("t"))
	if n := get(b, "rows of the number", chromedp.Evaluate[int](`document.querySelectorAll('`+row+`').length`)); n != 0 {
		t.Errorf("after taking, %s is still in Unassigned", number)
	}
	b.load("mine", chromedp.Click(chromedp.CSS(`#views a[data-view=mine]`)))
	if got := b.text(row + ` td.assignee`); got != "petugas.rina" {
		t.Errorf("Mine shows assignee %q, want petugas.rina", got)
	}

	// A supervisor keeps a canned reply with variables (through the API
	// here; the console's /canned page is the same store).
	var cr struct {
		Canned struct{ ID int64 } `json:"canned_reply"`
	}
	if code := ta.Call("POST", "/api/v1/canned-replies", map[string]string{"title": "Sertifikat terbit ulang",
		"text": "Yth. {{nama}}, sertifikat untuk laporan {{nomor}} sudah kami terbitkan ulang. Silakan periksa aplikasi SATUSEHAT Mobile."}, &cr); code != 201 {
		t.Fatalf("create canned reply: %d", code)
	}

	// The ticket page: citizen's words first with WhatsApp bold rendered,
	// the bot's side folded away.
	b.load("open the ticket", chromedp.Click(chromedp.CSS(row+` a`)))
	if n := get(b, "bold", chromedp.Evaluate[int](`document.querySelectorAll('#messages strong').length`)); n == 0 {
		t.Errorf("*kedua* is not rendered bold in %q", b.text("#messages"))
	}
	if open := get(b, "transcript folded", chromedp.Evaluate[bool](`document.getElementById('transcript').open`)); open {
		t.Error("the bot transcript is unfolded")
	}
	if got := b.text("#messages"); strings.Contains(got, "Selamat datang") {
		t.Errorf("the bot's greeting is in the main thread: %q", got)
	}

	// Answer with the canned reply: the variables are filled in, the reply
	// reaches the citizen and the page shows it sent.
	var before struct {
		NextCursor string `json:"next_cursor"`
	}
	ta.Call("GET", "/api/v1/simulator/messages?to="+apptest.URLQ(citizen), nil, &before)
	b.load("use canned reply", chromedp.Click(chromedp.CSS(`#canned button`)))
	if draft := get(b, "draft", chromedp.Value(chromedp.ID("reply"))); !strings.Contains(draft, "Yth. Budi") || !strings.Contains(draft, number) {
		t.Errorf("canned draft %q, want the name and %s filled in", draft, number)
	}
	b.load("send", chromedp.Click(chromedp.ID("send")))
	apptest.MustReply(t, ta.Replies(citizen, before.NextCursor), "sudah kami terbitkan ulang")
	// The outbox records "sent" right after the channel took it: reload
	// until the page shows it (the context bounds the wait).
	for get(b, "sent replies", chromedp.Evaluate[int](`document.querySelectorAll('#messages .delivery[data-state=sent]').length`)) == 0 {
		b.load("reload ticket", chromedp.Reload())
	}

	// An internal note is shown to operators and never reaches the citizen.
	ta.Call("GET", "/api/v1/simulator/messages?to="+apptest.URLQ(citizen), nil, &before)
	const note = "Sudah dicek di PCare: dosis 2 tercatat 12 Agustus."
	b.do("type note", chromedp.SendKeys(chromedp.ID("note"), note))
	b.load("save note", chromedp.Click(chromedp.ID("addnote")))
	if got := b.text(`#messages .note`); !strings.Contains(got, note) || !strings.Contains(got, "tidak dikirim ke warga") {
		t.Errorf("note on the page: %q", got)
	}
	var after struct {
		Messages []apptest.SimMsg `json:"messages"`
	}
	ta.Call("GET", "/api/v1/simulator/messages?to="+apptest.URLQ(citizen)+"&after="+before.NextCursor, nil, &after)
	for _, m := range after.Messages {
		if strings.Contains(m.Text, "PCare") {
			t.Errorf("the internal note reached the citizen: %q", m.Text)
		}
	}
	b.screenshot("ticket")

	// The 119 call centre: the same citizen calls; the agent logs the call
	// and it lands in the citizen's history next to the WhatsApp ticket.
	b.load("call form", chromedp.Click(chromedp.ID("nav-call")))
	b.do("fill the call form",
		chromedp.SendKeys(chromedp.ID("call-contact"), "0812 3450 0088"),
		chromedp.SendKeys(chromedp.ID("call-name"), "Budi Santoso"),
		chromedp.SetValue(chromedp.ID("call-category"), "certificate_missing"),
		chromedp.SendKeys(chromedp.ID("call-text"), "Menelepon: sertifikat sudah muncul, terima kasih."))
	b.screenshot("call-form")
	b.load("save the call", chromedp.Click(chromedp.ID("call-save")))
	if got := b.text("#summary"); !strings.Contains(got, "Telepon 119") {
		t.Errorf("the call's ticket page says %q, want channel Telepon 119", got)
	}
	if got := b.text("#others"); !strings.Contains(got, number) || !strings.Contains(got, "WhatsApp") && !strings.Contains(got, "Simulator") {
		t.Errorf("the caller's other tickets %q, want %s", got, number)
	}

	// Closing the ticket asks the citizen to rate; their 5 shows on the
	// dashboard.
	ta.Call("GET", "/api/v1/simulator/messages?to="+apptest.URLQ(citizen), nil, &before)
	b.load("back to the chat ticket", chromedp.Navigate(ta.Base+"/tickets/"+number))
	b.do("choose closed", chromedp.SetValue(chromedp.CSS(`select[name=status]`), "closed"))
	b.load("close", chromedp.Click(chromedp.CSS(`form[action$="/status"] button`)))
	apptest.MustReply(t, ta.Replies(citizen, before.NextCursor), "Seberapa puas")
	apptest.MustReply(t, ta.Say(citizen, "5"), "Terima kasih atas penilaian")
	b.load("dashboard", chromedp.Click(chromedp.ID("nav-dashboard")))
	if got := b.text("#csat-average"); !strings.HasPrefix(got, "5.0 dari 1 penilaian") {
		t.Errorf("dashboard CSAT %q, want 5.0 from 1 rating", got)
	}
	if n := get(b, "charts", chromedp.Evaluate[int](`document.querySelectorAll('.chart svg').length`)); n != 4 {
		t.Errorf("dashboard has %d SVG charts, want 4", n)
	}
	b.screenshot("dashboard")
	var dash struct {
		Dashboard struct {
			CSAT struct {
				Rated  int
				Scores [5]int
			} `json:"csat"`
		} `json:"dashboard"`
	}
	if code := ta.Call("GET", "/api/v1/dashboard", nil, &dash); code != 200 || dash.Dashboard.CSAT.Rated != 1 || dash.Dashboard.CSAT.Scores[4] != 1 {
		t.Errorf("GET /api/v1/dashboard: %d %+v", code, dash.Dashboard.CSAT)
	}

	// A page that does not exist: Indonesian, inside the layout.
	resp := b.load("unknown page", chromedp.Navigate(ta.Base+"/tidak-ada"))
	if resp.Status != 404 || !strings.Contains(b.text("#error"), "tidak ada") || !strings.Contains(b.text("header"), "petugas.rina") {
		t.Errorf("unknown page: status %d, %q, header %q", resp.Status, b.text("#error"), b.text("header"))
	}
	b.nothingRan()
}
