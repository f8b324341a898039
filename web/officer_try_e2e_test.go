package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/internal/app/apptest"
)

type caseList struct {
	Cases []struct {
		ID       int64
		Officer  string
		Consent  string
		Uploads  int
		Notified int
	} `json:"cases"`
}

func listCases(t *testing.T, c *apptest.Console, query string) (int, caseList) {
	t.Helper()
	code, b := c.API(t, "GET", "/api/v1/tracing/cases"+query, "")
	var l caseList
	if code == http.StatusOK {
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatalf("cases: %s", b)
		}
	}
	return code, l
}

// TestOfficerMarksPositive: a health officer marks a registered phone
// positive from the console (the phone read by the phone-number library in
// any spelling), the mark is audited, the citizen is asked for consent, and
// the case list — page and API — follows the consent with counts only.
// Wrong input is answered on the page, not by marking anything.
func TestOfficerMarksPositive(t *testing.T) {
	g := apptest.Start(t, apptest.Config(t))
	const phone = "+6281234500301"
	apptest.Register(t, g, phone)
	officer := apptest.SignIn(t, g, "nakes.dewi", accounts.HealthOfficer)
	other := apptest.SignIn(t, g, "nakes.budi", accounts.HealthOfficer)
	operator := apptest.SignIn(t, g, "petugas.rina", accounts.Operator)

	// The login form sends a health officer to their page, not to the
	// ticket desk that would refuse them.
	res, err := apptest.NoRedirects.PostForm(g.Base+"/login", url.Values{"name": {"nakes.dewi"}, "password": {officer.Password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); loc != "/officer" {
		t.Errorf("a health officer's login goes to %q, want /officer", loc)
	}

	for _, tc := range []struct {
		name       string
		form       url.Values
		wantStatus int
		wantText   string
	}{
		{"not a phone", url.Values{"phone": {"12345"}, "onset": {"2026-12-01"}}, 400, "Nomor HP tidak dikenali"},
		{"landline", url.Values{"phone": {"021 500 567"}, "onset": {"2026-12-01"}}, 400, "Nomor HP tidak dikenali"},
		{"not registered", url.Values{"phone": {"0812 3450 0999"}, "onset": {"2026-12-01"}}, 404, "tidak terdaftar di Sijejak"},
		{"no date", url.Values{"phone": {"0812 3450 0301"}}, 400, "Isi tanggal mulai gejala"},
		{"bad date", url.Values{"phone": {"0812 3450 0301"}, "onset": {"01/12/2026"}}, 400, "Tanggal tidak valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := officer.Post(t, "/officer/cases", tc.form)
			if code != tc.wantStatus || !strings.Contains(body, tc.wantText) {
				t.Errorf("status %d, want %d with %q:\n%s", code, tc.wantStatus, tc.wantText, apptest.Tail(body, 600))
			}
		})
	}
	if n := g.Count(t, `SELECT COUNT(*) FROM tracing_cases`); n != 0 {
		t.Fatalf("%d cases after refused input", n)
	}

	// Marked in the spelling a citizen says it: 0812 3450 0301.
	code, loc := officer.Post(t, "/officer/cases", url.Values{"phone": {"0812-3450-0301"}, "onset": {"2026-12-01"}})
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/officer?marked=") {
		t.Fatalf("mark: %d %q", code, loc)
	}
	if n := g.Count(t, `SELECT COUNT(*) FROM audit_log WHERE action = 'case_marked_positive' AND actor = 'officer:user:nakes.dewi'`); n != 1 {
		t.Errorf("%d audit rows for the mark, want 1", n)
	}
	_, page := officer.Get(t, loc)
	if !strings.Contains(page, `id="marked"`) || !strings.Contains(page, `data-consent="requested"`) {
		t.Errorf("the officer page after marking:\n%s", apptest.Tail(page, 1500))
	}
	if strings.Contains(page, "0301") {
		t.Error("the case list shows the case's phone number")
	}

	// The citizen consents on their own WhatsApp (here the simulator is the
	// tracing channel); the list follows.
	apptest.MustReply(t, g.Say(phone, "SETUJU"), "persetujuan")
	for _, tc := range []struct {
		who   *apptest.Console
		query string
		want  int
	}{
		{officer, "", 1},
		{other, "", 0},          // their own cases only by default
		{other, "?all=true", 1}, // every officer's on request
	} {
		code, l := listCases(t, tc.who, tc.query)
		if code != http.StatusOK || len(l.Cases) != tc.want {
			t.Errorf("%s %s: %d, %d cases, want %d", tc.who.Name, tc.query, code, len(l.Cases), tc.want)
			continue
		}
		if tc.want == 1 && (l.Cases[0].Consent != "given" || l.Cases[0].Officer != "user:nakes.dewi" || l.Cases[0].Uploads != 0 || l.Cases[0].Notified != 0) {
			t.Errorf("case %+v, want consent given, no uploads, nobody notified", l.Cases[0])
		}
	}
	// Operators are not health officers.
	if code, _ := listCases(t, operator, ""); code != http.StatusForbidden {
		t.Errorf("an operator reads the case list: %d", code)
	}
	if code, _ := operator.Get(t, "/officer"); code != http.StatusForbidden {
		t.Errorf("an operator opens /officer: %d", code)
	}
	// Nothing in the answer names a phone.
	if _, b := officer.API(t, "GET", "/api/v1/tracing/cases", ""); strings.Contains(string(b), "0301") || strings.Contains(string(b), "phone") {
		t.Errorf("the case list names a phone: %s", b)
	}
}

// TestTryPage: an operator talks to the bot as a test citizen on the
// simulator channel and reads its answers. The page cannot speak for a
// real phone: a SIJEJAK code or a consent typed there counts for nobody,
// even here where the simulator is the tracing channel. Without the
// simulator the page does not exist.
func TestTryPage(t *testing.T) {
	g := apptest.Start(t, apptest.Config(t))
	op := apptest.SignIn(t, g, "petugas.rina", accounts.Operator)
	if code, body := op.Get(t, "/try"); code != http.StatusOK || !strings.Contains(body, `id="try-empty"`) || !strings.Contains(body, "coba:petugas.rina") {
		t.Fatalf("GET /try: %d\n%s", code, apptest.Tail(body, 800))
	}
	if _, body := op.Get(t, "/"); !strings.Contains(body, `id="nav-try"`) {
		t.Error("the top bar does not offer the try page")
	}
	say := func(text, want string) string {
		t.Helper()
		if code, loc := op.Post(t, "/try", url.Values{"text": {text}}); code != http.StatusSeeOther || loc != "/try" {
			t.Fatalf("POST /try %q: %d %q", text, code, loc)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, body := op.Get(t, "/try")
			if strings.Contains(body, want) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q on /try after %q:\n%s", want, text, apptest.Tail(body, 1500))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	body := say("halo", "Selamat datang")
	if !strings.Contains(body, `data-kind="me"`) || !strings.Contains(body, `data-kind="bot"`) {
		t.Errorf("the conversation does not show both sides:\n%s", apptest.Tail(body, 1500))
	}

	// A real citizen registers and is marked positive; the operator types
	// their code and a consent on the try page.
	const phone = "+6281234500302"
	d := &apptest.Device{G: g, Phone: phone}
	var reg struct{ Code string }
	if code := d.Do(t, "POST", "/api/tracing/v1/register", "", map[string]string{"phone": phone}, &reg); code != 201 {
		t.Fatalf("register: %d", code)
	}
	say("SIJEJAK "+reg.Code, "Kode Sijejak belum sesuai")
	if code := d.Do(t, "POST", "/api/tracing/v1/register/verify", "", map[string]string{"phone": phone, "code": reg.Code}, nil); code != http.StatusConflict {
		t.Errorf("a code typed on the try page registered the phone: verify %d, want 409", code)
	}
	apptest.Register(t, g, "+6281234500303")
	officer := apptest.SignIn(t, g, "nakes.dewi", accounts.HealthOfficer)
	if code, _ := officer.Post(t, "/officer/cases", url.Values{"phone": {"+6281234500303"}, "specimen": {"2026-12-02"}}); code != http.StatusSeeOther {
		t.Fatalf("mark: %d", code)
	}
	say("SETUJU", "SETUJU") // the operator's own line; no consent follows
	time.Sleep(300 * time.Millisecond)
	if n := g.Count(t, `SELECT COUNT(*) FROM tracing_consents WHERE answered_at IS NOT NULL`); n != 0 {
		t.Errorf("a consent typed on the try page was recorded (%d)", n)
	}

	// Health officers have no try page; and without the simulator nobody has.
	if code, _ := officer.Get(t, "/try"); code != http.StatusForbidden {
		t.Errorf("a health officer opens /try: %d", code)
	}
	off := apptest.Start(t, apptest.Config(t, "LINDUNGI_SIMULATOR=false", "LINDUNGI_TRACING_ENABLED=false"))
	op2 := apptest.SignIn(t, off, "petugas.rina", accounts.Operator)
	if code, body := op2.Get(t, "/try"); code != http.StatusNotFound {
		t.Errorf("/try without the simulator: %d", code)
	} else if strings.Contains(body, "coba:") {
		t.Error("the 404 page shows the try page")
	}
	if code, _ := op2.Post(t, "/try", url.Values{"text": {"halo"}}); code != http.StatusNotFound {
		t.Errorf("POST /try without the simulator: %d", code)
	}
	if _, body := op2.Get(t, "/"); strings.Contains(body, `id="nav-try"`) {
		t.Error("the top bar offers the try page without the simulator")
	}
}

// TestEnglishPerUser: a user switches the console to English and back; the
// setting is theirs (another user still reads Indonesian), and labels,
// dates, the dashboard and error pages follow it.
func TestEnglishPerUser(t *testing.T) { englishPerUser(t) }

// TestEnglishPerUserPostgres is the same on PostgreSQL.
func TestEnglishPerUserPostgres(t *testing.T) { englishPerUser(t, apptest.Postgres(t)) }

func englishPerUser(t *testing.T, env ...string) {
	g := apptest.Start(t, apptest.Config(t, env...))
	rina := apptest.SignIn(t, g, "petugas.rina", accounts.Operator)
	ani := apptest.SignIn(t, g, "petugas.ani", accounts.Operator)
	apptest.MustReply(t, g.Say("+6281234500304", "halo"), "Selamat datang")
	apptest.MustReply(t, g.Say("+6281234500304", "4"), "petugas")

	if code, loc := rina.Post(t, "/settings/lang", url.Values{"lang": {"en"}}); code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("switch to English: %d %q", code, loc)
	}
	month := time.Now().In(time.FixedZone("WIB", 7*3600)).Month()
	enMonth, idMonth := month.String(), map[time.Month]string{1: "Januari", 2: "Februari", 3: "Maret", 4: "April", 5: "Mei", 6: "Juni", 7: "Juli",
		8: "Agustus", 9: "September", 10: "Oktober", 11: "November", 12: "Desember"}[month]
	for _, tc := range []struct {
		who       *apptest.Console
		path      string
		status    int
		want, not []string
	}{
		{rina, "/", 200, []string{`<html lang="en">`, "Inbox", "Unassigned", "Log out", "Waiting for the citizen"}, []string{"Kotak masuk", "Belum ditangani"}},
		{rina, "/?view=all", 200, []string{"Open", " WIB"}, []string{">Terbuka<"}},
		{rina, "/dashboard", 200, []string{"Service dashboard", "Backlog by category", "Latest citizens&#39; comments", "Sijejak (last 14 days)", enMonth}, []string{"Dasbor layanan"}},
		{rina, "/no-such-page", 404, []string{"does not exist", "Could not be processed"}, []string{"tidak ada"}},
		{rina, "/tickets/PL-2000-999999", 404, []string{"Ticket not found"}, []string{"Tiket tidak ditemukan"}},
		{ani, "/", 200, []string{`<html lang="id">`, "Kotak masuk", "Belum ditangani"}, []string{"Unassigned"}},
		{ani, "/dashboard", 200, []string{"Dasbor layanan", idMonth}, []string{"Service dashboard"}},
	} {
		code, body := tc.who.Get(t, tc.path)
		if code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.who.Name, tc.path, code, tc.status)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s %s: no %q", tc.who.Name, tc.path, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, n) {
				t.Errorf("%s %s: still %q", tc.who.Name, tc.path, n)
			}
		}
	}
	var list apptest.TicketList
	g.Call("GET", "/api/v1/tickets?view=all", nil, &list)
	if len(list.Tickets) != 1 {
		t.Fatalf("%d tickets, want the hand-off", len(list.Tickets))
	}
	if _, body := rina.Get(t, "/tickets/"+list.Tickets[0].ID); !strings.Contains(body, "Reply to the citizen") || !strings.Contains(body, "Internal note") ||
		!strings.Contains(body, "Status and category") || strings.Contains(body, "Balas warga") {
		t.Errorf("the ticket page in English:\n%s", apptest.Tail(body, 2000))
	}
	// The setting is kept with the account: a new session reads English.
	res, err := apptest.NoRedirects.PostForm(g.Base+"/login", url.Values{"name": {"petugas.rina"}, "password": {rina.Password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.Name == "lindungi_session" {
			again := &apptest.Console{G: g, Name: "petugas.rina", Session: ck.Value}
			if _, body := again.Get(t, "/"); !strings.Contains(body, "Unassigned") {
				t.Error("a new session of the English user is Indonesian")
			}
		}
	}
	if code, _ := rina.Post(t, "/settings/lang", url.Values{"lang": {"fr"}}); code != http.StatusBadRequest {
		t.Errorf("an unknown language: %d", code)
	}
	if code, _ := rina.Post(t, "/settings/lang", url.Values{"lang": {"en"}, "csrf": {"wrong"}}); code != http.StatusForbidden {
		t.Errorf("a language switch without the CSRF token: %d", code)
	}
	rina.Post(t, "/settings/lang", url.Values{"lang": {"id"}})
	if _, body := rina.Get(t, "/"); !strings.Contains(body, "Kotak masuk") {
		t.Error("switching back to Indonesian did not take")
	}
}

// TestOfficerCaseCountsAfterUpload: after the consented upload matched a
// close contact, the case shows one upload and one contact notified — how
// many, never who — on the officer's page and API and on the dashboard.
func TestOfficerCaseCountsAfterUpload(t *testing.T) { officerCaseCounts(t) }

// TestOfficerCaseCountsAfterUploadPostgres is the same on PostgreSQL.
func TestOfficerCaseCountsAfterUploadPostgres(t *testing.T) {
	officerCaseCounts(t, apptest.Postgres(t))
}

func officerCaseCounts(t *testing.T, env ...string) {
	g := apptest.Start(t, apptest.Config(t, append(env, "LINDUNGI_TRACING_MIN_MINUTES=0.5")...))
	a := apptest.Register(t, g, "+6281234500311")
	b := apptest.Register(t, g, "+6281234500312")
	var ids apptest.TempIDs
	if code := b.Do(t, "GET", "/api/tracing/v1/tempids", b.Token, nil, &ids); code != 200 || len(ids.TempIDs) == 0 {
		t.Fatalf("tempids: %d", code)
	}
	first := ids.TempIDs[0]
	var recs []map[string]any
	for ts := first.StartTime + 1; ts < time.Now().Unix() && ts < first.ExpiryTime; ts += 10 {
		recs = append(recs, map[string]any{"v": 2, "msg": first.TempID, "org": "ID_MOH", "modelP": "SM-G973F", "modelC": "SM-G981B/DS", "rssi": -45, "txPower": 12, "timestamp": ts})
	}
	officer := apptest.SignIn(t, g, "nakes.dewi", accounts.HealthOfficer)
	if code, _ := officer.Post(t, "/officer/cases", url.Values{"phone": {"0812 3450 0311"}, "onset": {time.Now().Format("2006-01-02")}}); code != http.StatusSeeOther {
		t.Fatalf("mark: %d", code)
	}
	apptest.MustReply(t, g.Say(a.Phone, "SETUJU"), "")
	var res struct{ Accepted int }
	if code := a.Do(t, "POST", "/api/tracing/v1/uploads", a.Token, map[string]any{"records": recs}, &res); code != 200 || res.Accepted != len(recs) {
		t.Fatalf("upload: %d %+v (%d records)", code, res, len(recs))
	}
	_, l := listCases(t, officer, "")
	if len(l.Cases) != 1 || l.Cases[0].Uploads != 1 || l.Cases[0].Notified != 1 || l.Cases[0].Consent != "given" {
		t.Fatalf("cases %+v, want one upload and one contact notified", l.Cases)
	}
	_, page := officer.Get(t, "/officer")
	if !strings.Contains(page, `<td class="uploads">1</td><td class="notified">1</td>`) || strings.Contains(page, "0312") || strings.Contains(page, "0311") {
		t.Errorf("the officer page:\n%s", apptest.Tail(page, 1200))
	}
	op := apptest.SignIn(t, g, "petugas.rina", accounts.Operator)
	if s := getDashboard(t, op).Dashboard.Sijejak; s == nil || *s != (struct{ Cases, Consents, Uploads, Notifications int }{1, 1, 1, 1}) {
		t.Errorf("dashboard Sijejak %+v, want 1 case, 1 consent, 1 upload, 1 notification", s)
	}
}
