package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lindungi/accounts"
	"lindungi/channels/email"
	"lindungi/internal/app/apptest"
)

// htmlComplaint is an HTML complaint as webmail sends it: a table, a
// tracking pixel from a remote host, a script, a style attribute, a photo
// shown inline (cid:) and a part that calls itself a PNG but is markup.
func htmlComplaint(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 20, 10))
	for x := 0; x < 20; x++ {
		for y := 0; y < 10; y++ {
			img.Set(x, y, color.RGBA{0x0b, 0x6e, 0x4f, 0xff})
		}
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	wrap := func(b []byte) string {
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		return out.String() + s + "\r\n"
	}
	html := `<html><body><p style="background:url(https://evil.example/bg.png)">Yth. Admin, data vaksin saya:</p>
<table><tr><th>Dosis</th><th>Tanggal</th></tr><tr><td>Dosis 2</td><td>12-08-2021</td></tr></table>
<img src="https://evil.example/track.png" alt="pelacak"><img src="cid:ktp@warga.example.id" alt="foto KTP">
<img src="cid:palsu@warga.example.id" alt="palsu"><script>alert(1)</script><img src="cid:ktp%40warga.example.id" alt="foto KTP lagi">
<p><a href="https://pedulilindungi.id/">tautan</a> <a href="?sent=1">tautan relatif</a></p>
<p>lihat</p></div></div></div><h2>Status: Selesai</h2><p><a href="https://phish.example/login">Masuk ulang</body></html>`
	var b strings.Builder
	b.WriteString("From: Warga HTML <html.warga@example.id>\r\nTo: pedulilindungi@kemkes.go.id\r\n")
	b.WriteString("Subject: Sertifikat dosis 2 belum muncul\r\nMessage-ID: <html-1@example.id>\r\nDate: Tue, 03 Nov 2026 08:00:00 +0700\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/related; boundary=\"REL\"\r\n\r\n")
	b.WriteString("--REL\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n")
	b.WriteString("--REL\r\nContent-Type: image/png; name=\"ktp.png\"\r\nContent-ID: <ktp@warga.example.id>\r\nContent-Disposition: inline; filename=\"ktp.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(wrap(pngBuf.Bytes()))
	b.WriteString("--REL\r\nContent-Type: image/png; name=\"palsu.png\"\r\nContent-ID: <palsu@warga.example.id>\r\nContent-Disposition: inline; filename=\"palsu.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	b.WriteString(wrap([]byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(2)"></svg>`)))
	b.WriteString("--REL--\r\n")
	return []byte(b.String())
}

// TestConsoleMailHTML: an operator opens an HTML complaint in headless
// Chromium and unfolds its original view: the table is there, the inline
// photo shows (embedded from the stored attachment), while the remote
// tracker, the script, the style and the markup posing as an image are gone,
// the mail's broken markup cannot reach outside its box, nothing reaches
// another host and the CSP reports nothing. Reading the inline photo leaves
// one audit row; a photo that can no longer be read costs only itself.
func TestConsoleMailHTML(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	in := email.Parse(htmlComplaint(t), email.ParseOptions{ReceivedAt: time.Now()})
	in.To = "pedulilindungi@kemkes.go.id"
	if err := ta.Bot.Deliver(ctx, in); err != nil {
		t.Fatal(err)
	}
	var number string
	if err := ta.DB.QueryRow(ctx, `SELECT number FROM tickets WHERE channel = 'email'`).Scan(&number); err != nil {
		t.Fatal(err)
	}
	op, err := ta.Accounts.Add(ctx, "petugas.html", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, ctx)
	b.signIn(ta, "petugas.html", op.Password)
	resp := b.load("open the HTML mail", chromedp.Navigate(ta.Base+"/tickets/"+number))
	if resp.Status != http.StatusOK {
		t.Fatalf("ticket page: status %d", resp.Status)
	}
	checkCSP(t, "ticket page", resp)
	b.do("unfold the original", chromedp.Click(chromedp.CSS(`details.mailhtml summary`)))
	b.do("wait for the table", chromedp.WaitVisible(chromedp.CSS(`.mailhtml-body table`)))

	if got := b.text(`.mailhtml-body table`); !strings.Contains(got, "Dosis 2") || !strings.Contains(got, "12-08-2021") {
		t.Errorf("table in the original view: %q", got)
	}
	type shown struct {
		Src      string `json:"src"`
		Alt      string `json:"alt"`
		Width    int    `json:"w"`
		Complete bool   `json:"c"`
	}
	var imgs []shown
	for range 50 { // the photo decodes asynchronously; a failure guard, not a timing
		imgs = get(b, "images", chromedp.Evaluate[[]shown](`Array.from(document.querySelectorAll('.mailhtml-body img')).map(i => ({src: i.getAttribute('src') || '', alt: i.alt, w: i.naturalWidth, c: i.complete}))`))
		done := true
		for _, im := range imgs {
			done = done && im.Complete
		}
		if done {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	byAlt := map[string]shown{}
	for _, im := range imgs {
		byAlt[im.Alt] = im
	}
	for _, alt := range []string{"foto KTP", "foto KTP lagi"} { // the second cid is %-encoded (RFC 2392)
		if ktp := byAlt[alt]; !strings.HasPrefix(ktp.Src, "data:image/png;base64,") || ktp.Width != 20 {
			t.Errorf("inline photo %q: src %.40q, natural width %d; want the embedded 20-px PNG", alt, ktp.Src, ktp.Width)
		}
	}
	// The mail's markup stays in its box: its stray end tags do not close
	// the console's elements, its unclosed link does not swallow the page,
	// and its relative link does not point into the console.
	b.staysInBox("imported mail")
	if fake := byAlt["palsu"]; fake.Src != "" {
		t.Errorf("markup labelled image/png was embedded: %.60q", fake.Src)
	}
	if tr := byAlt["pelacak"]; tr.Src != "" {
		t.Errorf("remote tracker kept: %q", tr.Src)
	}
	page := b.html()
	for _, bad := range []string{"evil.example", "<script", "onload", "style=\"background"} {
		if strings.Contains(page, bad) {
			t.Errorf("the ticket page contains %q", bad)
		}
	}
	if n := get(b, "count scripts", chromedp.Evaluate[int](`document.querySelectorAll("script").length`)); n != 0 {
		t.Errorf("%d <script> elements on the page", n)
	}
	if rel := get(b, "link rel", chromedp.Evaluate[string](`document.querySelector('.mailhtml-body a').rel`)); !strings.Contains(rel, "noreferrer") {
		t.Errorf("link rel %q, want noreferrer", rel)
	}
	b.nothingRan()
	var details []string
	rows, err := ta.DB.Query(ctx, `SELECT detail FROM audit_log WHERE action = 'attachment.read' AND detail LIKE 'console inline %'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d string
		rows.Scan(&d)
		details = append(details, d)
	}
	rows.Close()
	if len(details) != 1 || strings.Contains(details[0], ",") {
		t.Errorf("audit rows for the inline photo %q, want one naming it once", details)
	}

	// A stored photo that can no longer be read costs the photo, not the
	// page: the operator can still read and answer the ticket.
	if _, err := ta.DB.Exec(ctx, `UPDATE attachments SET data_sealed = ? WHERE name = 'ktp.png'`, []byte("rusak")); err != nil {
		t.Fatal(err)
	}
	resp = b.load("reopen with a damaged photo", chromedp.Navigate(ta.Base+"/tickets/"+number))
	if resp.Status != http.StatusOK {
		t.Fatalf("ticket page with a damaged inline photo: status %d", resp.Status)
	}
	if src := get(b, "damaged photo", chromedp.Evaluate[string](`document.querySelector('.mailhtml-body img[alt="foto KTP"]').getAttribute('src') || ''`)); src != "" {
		t.Errorf("damaged photo src %.40q, want none", src)
	}

	// HTML stored before it was balanced at import, in a shape one
	// parse-and-render pass leaves able to close the elements around it.
	if _, err := ta.DB.Exec(ctx, `UPDATE messages SET html = ? WHERE html <> ''`,
		`<ul><li><table><div></td><li>Dosis 2</ul></div></div></div><h2>Status: Selesai</h2><p><a href="https://phish.example/login">Masuk ulang`); err != nil {
		t.Fatal(err)
	}
	b.load("reopen with unbalanced stored HTML", chromedp.Navigate(ta.Base+"/tickets/"+number))
	b.staysInBox("stored unbalanced HTML")
	b.nothingRan()
}

// staysInBox fails the test if anything of a mail's HTML view reached
// outside its box: a heading it brought, its links, the reply button
// swallowed by its link, or a relative link into the console.
func (b *browser) staysInBox(what string) {
	b.t.Helper()
	contained := get(b, "containment", chromedp.Evaluate[map[string]bool](`({
		heading: Array.from(document.querySelectorAll('h2')).filter(h => h.textContent.includes('Status: Selesai')).every(h => h.closest('.mailhtml-body')),
		links: Array.from(document.querySelectorAll('a[href*="phish.example"]')).every(a => a.closest('.mailhtml-body')),
		send: document.getElementById('send').closest('a') === null,
		relative: document.querySelector('.mailhtml-body a[href="?sent=1"]') === null,
	})`))
	for check, ok := range contained {
		if !ok {
			b.t.Errorf("%s: the mail's HTML escaped its box: %s", what, check)
		}
	}
}
