package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lindungi/accounts"
	"lindungi/channels/whatsapp"
	"lindungi/channels/whatsapp/wafake"
	"lindungi/internal/app"
	"lindungi/internal/app/apptest"
)

// auditCount is how many audit rows of action by actor the API lists.
func auditCount(t *testing.T, ta *apptest.Gateway, action, actor string) int {
	t.Helper()
	var got struct {
		Entries []struct {
			Actor string `json:"actor"`
		} `json:"entries"`
	}
	if code := ta.Call("GET", "/api/v1/audit?action="+action+"&actor="+url.QueryEscape(actor), nil, &got); code != 200 {
		t.Fatalf("audit: %d", code)
	}
	return len(got.Entries)
}

// consoleLogin logs name in over plain HTTP and returns its cookies by
// name (session and device cookie), or nil when the login failed.
func consoleLogin(t *testing.T, base, name, password string) map[string]*http.Cookie {
	t.Helper()
	res, err := apptest.NoRedirects.PostForm(base+"/login", url.Values{"name": {name}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Location") != "/" {
		return nil
	}
	out := map[string]*http.Cookie{}
	for _, c := range res.Cookies() {
		out[c.Name] = c
	}
	return out
}

// TestAdminUsersInBrowser: an admin, from the top bar only admins see,
// adds a user (the password and token shown once, the addition audited),
// revokes its token (refused at once), disables and re-enables it (the
// session and device cookie from before stay dead), changes its role and
// resets its password.
func TestAdminUsersInBrowser(t *testing.T) {
	needChromium(t)
	ta := apptest.Start(t, apptest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := newBrowser(t, ctx)
	b.login(ta, "admin.dewi", accounts.Admin)
	resp := b.load("users page", chromedp.Click(chromedp.ID("nav-users")))
	checkCSP(t, "users page", resp)
	for _, id := range []string{"nav-whatsapp", "nav-jobs"} {
		if !get(b, "link "+id, chromedp.Evaluate[bool](`document.getElementById('`+id+`') !== null`)) {
			t.Errorf("the admin's top bar has no #%s", id)
		}
	}
	// The admin's own row cannot be disabled from here.
	if n := get(b, "own disable", chromedp.Evaluate[int](`document.querySelectorAll('#users tr[data-user="admin.dewi"] button.disable').length`)); n != 0 {
		t.Error("the admin may disable their own account")
	}

	b.do("fill the new user", chromedp.SendKeys(chromedp.ID("user-name"), "petugas.baru"), chromedp.SetValue(chromedp.ID("user-role"), accounts.Operator))
	resp = b.load("add the user", chromedp.Click(chromedp.ID("user-add")))
	if cc := header(resp, "Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("the page with the new secrets has Cache-Control %q", cc)
	}
	password, token := b.text("#created-password"), b.text("#created-token")
	if len(password) < 12 || !strings.HasPrefix(token, "lgw_") {
		t.Fatalf("new user's password %q token %q", password, token)
	}
	if row := b.text(`#users tr[data-user="petugas.baru"]`); !strings.Contains(row, "aktif") {
		t.Errorf("new user's row %q", row)
	}
	if n := auditCount(t, ta, "user.created", "user:admin.dewi"); n != 1 {
		t.Errorf("%d user.created audit rows by admin.dewi, want 1", n)
	}
	b.screenshot("admin-users")

	// The token works until the admin revokes it.
	if code, _ := apptest.APIDo(t, ta.Base, token, "GET", "/api/v1/tickets", ""); code != 200 {
		t.Fatalf("the new token: %d", code)
	}
	if h := b.html(); strings.Count(h, token) != 1 {
		t.Errorf("the token's secret is on the page %d times, want once (in the notice, never in the list)", strings.Count(h, token))
	}
	tid := get(b, "token row", chromedp.Evaluate[string](`Array.from(document.querySelectorAll('#tokens tr[data-token]')).filter(r => r.cells[1].textContent === 'petugas.baru').map(r => r.dataset.token).join(',')`))
	if tid == "" || strings.Contains(tid, ",") {
		t.Fatalf("token rows of petugas.baru: %q, want one", tid)
	}
	b.load("revoke", chromedp.Click(chromedp.CSS(`#tokens tr[data-token="`+tid+`"] button.revoke`)))
	if got := b.text("#notice"); !strings.Contains(got, "dicabut") {
		t.Errorf("after revoking: %q", got)
	}
	if n := get(b, "revoked row", chromedp.Evaluate[int](`document.querySelectorAll('#tokens tr[data-token="`+tid+`"]').length`)); n != 0 {
		t.Error("the revoked token is still listed")
	}
	if code, _ := apptest.APIDo(t, ta.Base, token, "GET", "/api/v1/tickets", ""); code != 401 {
		t.Errorf("the revoked token: %d, want 401", code)
	}
	if n := auditCount(t, ta, "token.revoked", "user:admin.dewi"); n != 1 {
		t.Errorf("%d token.revoked audit rows, want 1", n)
	}

	// Disable, then enable: the session and the device cookie from before
	// do not come back, though the password is the same.
	before := consoleLogin(t, ta.Base, "petugas.baru", password)
	if before == nil || before["lindungi_session"] == nil || before["lindungi_device"] == nil {
		t.Fatalf("petugas.baru's login: %v", before)
	}
	b.load("disable", chromedp.Click(chromedp.CSS(`#users tr[data-user="petugas.baru"] button.disable`)))
	if got := b.text(`#users tr[data-user="petugas.baru"] td.status`); !strings.Contains(got, "nonaktif") {
		t.Errorf("status after disabling %q", got)
	}
	if consoleLogin(t, ta.Base, "petugas.baru", password) != nil {
		t.Error("a disabled account logged in")
	}
	b.load("enable", chromedp.Click(chromedp.CSS(`#users tr[data-user="petugas.baru"] button.enable`)))
	req, _ := http.NewRequest("GET", ta.Base+"/", nil)
	req.AddCookie(before["lindungi_session"])
	res, err := apptest.NoRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("the session from before the disable: %d, want a redirect to the login", res.StatusCode)
	}
	if mark, err := ta.Web.DeviceMark(ctx, "petugas.baru"); err != nil || mark == "" || mark == before["lindungi_device"].Value {
		t.Errorf("device mark after re-enabling %q (%v): the device cookie from before the disable would count again", mark, err)
	}
	if consoleLogin(t, ta.Base, "petugas.baru", password) == nil {
		t.Error("the re-enabled account cannot log in with its password")
	}

	// A new role.
	b.do("choose supervisor", chromedp.SetValue(chromedp.CSS(`#users tr[data-user="petugas.baru"] select[name=role]`), accounts.Supervisor))
	b.load("change role", chromedp.Click(chromedp.CSS(`#users tr[data-user="petugas.baru"] button.role`)))
	if a, err := ta.Accounts.User(ctx, "petugas.baru"); err != nil || a.Role != accounts.Supervisor {
		t.Errorf("role after the change: %+v %v", a, err)
	}
	if n := auditCount(t, ta, "user.role_changed", "user:admin.dewi"); n != 1 {
		t.Errorf("%d user.role_changed audit rows, want 1", n)
	}

	// A new password, shown once; the old one stops working.
	b.load("reset password", chromedp.Click(chromedp.CSS(`#users tr[data-user="petugas.baru"] button.reset`)))
	fresh := b.text("#secret-value")
	if fresh == "" || fresh == password {
		t.Fatalf("new password %q", fresh)
	}
	if consoleLogin(t, ta.Base, "petugas.baru", password) != nil {
		t.Error("the old password still works")
	}
	if consoleLogin(t, ta.Base, "petugas.baru", fresh) == nil {
		t.Error("the new password does not work")
	}

	// In English, the admin pages too (issue 18d): the switch brings the
	// admin back to the users page, and a form's notice follows.
	b.load("users page again", chromedp.Navigate(ta.Base+"/admin/users"))
	b.load("switch to English", chromedp.Click(chromedp.ID("lang-switch")))
	if got := b.text("h1"); got != "Users and API tokens" {
		t.Errorf("users page heading in English: %q", got)
	}
	if got := b.text(`#users tr[data-user="petugas.baru"] td.status`); got != "active" {
		t.Errorf("status in English: %q", got)
	}
	b.load("disable in English", chromedp.Click(chromedp.CSS(`#users tr[data-user="petugas.baru"] button.disable`)))
	if got := b.text("#notice"); got != "The account has been disabled; its session has ended." {
		t.Errorf("notice in English: %q", got)
	}
	b.load("jobs page in English", chromedp.Click(chromedp.ID("nav-jobs")))
	if got := b.text("h1"); got != "Scheduled jobs" {
		t.Errorf("jobs page heading in English: %q", got)
	}
	b.load("WhatsApp page in English", chromedp.Click(chromedp.ID("nav-whatsapp")))
	if got := b.text("#wa-state"); !strings.Contains(got, "not enabled") {
		t.Errorf("WhatsApp page in English: %q", got)
	}
	b.nothingRan()
}

// TestAdminJobsInBrowser: the jobs page lists the scheduled jobs; "run
// now" starts one (audited) and its run shows with outcome, duration and
// rows; a job recorded running is not started again (page and API).
func TestAdminJobsInBrowser(t *testing.T) {
	needChromium(t)
	ta := apptest.Start(t, apptest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := newBrowser(t, ctx)
	b.login(ta, "admin.joko", accounts.Admin)
	resp := b.load("jobs page", chromedp.Click(chromedp.ID("nav-jobs")))
	checkCSP(t, "jobs page", resp)
	if n := get(b, "job rows", chromedp.Evaluate[int](`document.querySelectorAll('#jobs tr[data-job]').length`)); n < 5 {
		t.Fatalf("the jobs page lists %d jobs", n)
	}
	const job = "housekeeping"
	b.load("run now", chromedp.Click(chromedp.CSS(`#jobs tr[data-job="`+job+`"] button.run`)))
	if got := b.text("#notice"); !strings.Contains(got, job) {
		t.Errorf("after run now: %q", got)
	}
	run := `#runs tr[data-job="` + job + `"] td.outcome`
	for { // the context bounds the wait
		outcome := get(b, "outcome", chromedp.Evaluate[string](`(document.querySelector('`+run+`') || {dataset: {}}).dataset.outcome || ''`))
		if outcome == "ok" {
			break
		}
		if outcome == "failed" {
			t.Fatalf("the run failed: %s", b.text(`#runs tr[data-job="`+job+`"]`))
		}
		time.Sleep(100 * time.Millisecond)
		b.load("reload", chromedp.Navigate(ta.Base+"/admin/jobs"))
	}
	if row := b.text(`#runs tr[data-job="` + job + `"]`); !strings.Contains(row, "manual") || !strings.Contains(row, "berhasil") || !strings.Contains(row, "WIB") {
		t.Errorf("the run's row %q", row)
	}
	if row := b.text(`#jobs tr[data-job="` + job + `"]`); !strings.Contains(row, "berhasil") {
		t.Errorf("the job's row %q, want its last run", row)
	}
	if n := auditCount(t, ta, "job.run", "user:admin.joko"); n != 1 {
		t.Errorf("%d job.run audit rows, want 1", n)
	}
	b.screenshot("admin-jobs")

	var list struct {
		Jobs []struct {
			Name string `json:"name"`
			Last *struct {
				Outcome string `json:"outcome"`
				Source  string `json:"source"`
			} `json:"last"`
		} `json:"jobs"`
	}
	if code := ta.Call("GET", "/api/v1/jobs", nil, &list); code != 200 {
		t.Fatalf("GET /api/v1/jobs: %d", code)
	}
	found := false
	for _, j := range list.Jobs {
		if j.Name == job {
			found = j.Last != nil && j.Last.Outcome == "ok" && j.Last.Source == "manual"
		}
	}
	if !found {
		t.Errorf("GET /api/v1/jobs does not show %s's manual run: %+v", job, list.Jobs)
	}

	// Running (here as if on another replica): not started twice.
	if _, err := ta.DB.Exec(ctx, `INSERT INTO job_runs (job, source, node, started_at, outcome) VALUES (?, 'schedule', 'other', ?, 'running')`, job, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	code, body := apptest.APIDo(t, ta.Base, ta.Token, "POST", "/api/v1/jobs/"+job+"/run", "")
	if code != http.StatusConflict || apptest.ErrorCode(t, body) != "job_running" {
		t.Errorf("run while running: %d %s", code, body)
	}
	b.load("reload", chromedp.Navigate(ta.Base+"/admin/jobs"))
	if n := get(b, "run button", chromedp.Evaluate[int](`document.querySelectorAll('#jobs tr[data-job="`+job+`"] button.run').length`)); n != 0 {
		t.Error("the page offers to run a job that is running")
	}
	if code, body := apptest.APIDo(t, ta.Base, ta.Token, "POST", "/api/v1/jobs/no-such-job/run", ""); code != 404 {
		t.Errorf("unknown job: %d %s", code, body)
	}
	var started struct {
		Run struct {
			ID      int64  `json:"id"`
			Outcome string `json:"outcome"`
		} `json:"run"`
	}
	if code := ta.Call("POST", "/api/v1/jobs/job-history-cleanup/run", nil, &started); code != http.StatusAccepted || started.Run.ID == 0 {
		t.Errorf("POST /api/v1/jobs/job-history-cleanup/run: %d %+v", code, started.Run)
	}
	b.nothingRan()
}

// TestAdminWhatsAppPairingInBrowser: with the linked-device provider
// unpaired (the fake WhatsApp server), the page shows the live QR and
// keeps it current by polling, without a reload; the phone-code form
// shows the code, and once the phone enters it the page itself notices
// the new state.
func TestAdminWhatsAppPairingInBrowser(t *testing.T) {
	needChromium(t)
	fake, err := wafake.New("127.0.0.1:0", wafake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	opts := app.Options{WhatsAppTestServer: &whatsapp.TestServer{Addr: fake.Addr(), RootKey: fake.RootKey()}}
	ta := apptest.Start(t, apptest.Config(t, "LINDUNGI_WHATSAPP_ENABLED=true"), opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var status struct{ State, JID, QR string }
	for ta.Call("GET", "/api/v1/whatsapp/status", nil, &status); status.QR == ""; ta.Call("GET", "/api/v1/whatsapp/status", nil, &status) {
		if ctx.Err() != nil {
			t.Fatalf("no QR from the gateway: %+v\n%s", status, apptest.Tail(ta.Logs.String(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}

	b := newBrowser(t, ctx)
	b.login(ta, "admin.wati", accounts.Admin)
	resp := b.load("WhatsApp page", chromedp.Click(chromedp.ID("nav-whatsapp")))
	checkCSP(t, "WhatsApp page", resp)
	if got := b.text("#wa-state"); got != "menunggu penautan" {
		t.Errorf("state %q, want menunggu penautan (pairing)", got)
	}
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	// The page's own polling loads the current QR into the image.
	for get(b, "QR version", chromedp.Evaluate[string](`document.getElementById('wa-qr').dataset.version || ''`)) == "" {
		time.Sleep(100 * time.Millisecond) // the context bounds the wait
	}
	type img struct {
		W int  `json:"w"`
		C bool `json:"c"`
	}
	for q := (img{}); q.W == 0; q = get(b, "QR image", chromedp.Evaluate[img](`({w: document.getElementById('wa-qr').naturalWidth, c: document.getElementById('wa-qr').complete})`)) {
		time.Sleep(50 * time.Millisecond)
	}
	if !get(b, "not reloaded", chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the page reloaded to show the QR")
	}
	b.screenshot("admin-whatsapp")

	// Pairing by phone number: the code to type on the phone.
	b.do("type the number", chromedp.SendKeys(chromedp.ID("pair-phone"), "0811 10 500 567"))
	resp = b.load("ask for a code", chromedp.Click(chromedp.ID("pair-submit")))
	code := b.text("#pair-code")
	if len(strings.ReplaceAll(code, "-", "")) != 8 {
		t.Fatalf("pairing code %q (page: %s)", code, b.text("main"))
	}
	if cc := header(resp, "Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("the page with the pairing code has Cache-Control %q", cc)
	}
	if n := auditCount(t, ta, "whatsapp.pair_phone", "user:admin.wati"); n != 1 {
		t.Errorf("%d whatsapp.pair_phone audit rows, want 1", n)
	}
	b.screenshot("admin-whatsapp-code")
	if err := fake.EnterCode(code); err != nil {
		t.Fatal(err)
	}
	// The page notices the pairing by itself and shows the linked device.
	// It loads itself anew on every change of state (the connection may
	// go round once more after pairing), so the test reads the state and
	// the device together, from whichever page is showing, until they say
	// paired.
	var st, label, jid string
	for {
		got, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`(function () {
			var s = document.getElementById('wa-state'), j = document.getElementById('wa-jid');
			return [s ? (s.dataset.state || '') : '', s ? s.textContent : '', j ? j.textContent : ''];
		})()`))
		if len(got) == 3 {
			st, label, jid = got[0], got[1], got[2]
		}
		if st == "connected" && jid != "" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the page never showed the paired state (last %q %q %q)", st, label, jid)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if label != "tersambung" {
		t.Errorf("state after pairing %q", label)
	}
	b.screenshot("admin-whatsapp-paired")
	b.nothingRan()
}

// Operators and supervisors meet the forbidden page on every admin
// console page and form, and 403 on the admin API; nothing changes.
func TestAdminRoutesForbiddenToStaff(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	ctx := context.Background()
	target, err := ta.Accounts.Add(ctx, "sasaran", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{accounts.Operator, accounts.Supervisor} {
		acc, err := ta.Accounts.Add(ctx, "staf."+role, role)
		if err != nil {
			t.Fatal(err)
		}
		sid, csrf, _, err := ta.Accounts.Login(ctx, "staf."+role, acc.Password, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"GET /admin/users", "POST /admin/users", "POST /admin/users/sasaran/disable", "POST /admin/users/sasaran/enable",
			"POST /admin/users/sasaran/role", "POST /admin/users/sasaran/password", "POST /admin/users/sasaran/tokens", "POST /admin/tokens/1/revoke",
			"GET /admin/whatsapp", "POST /admin/whatsapp/pair-phone", "GET /admin/jobs", "POST /admin/jobs/housekeeping/run"} {
			method, path, _ := strings.Cut(p, " ")
			form := url.Values{"csrf": {csrf}, "name": {"penyusup"}, "role": {accounts.Admin}, "phone": {"081110500567"}}
			req, _ := http.NewRequest(method, ta.Base+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: "lindungi_session", Value: sid})
			res, err := apptest.NoRedirects.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "hanya untuk admin") || !strings.Contains(string(body), "staf."+role) {
				t.Errorf("%s as %s: %d, want the forbidden page in the layout\n%.300s", p, role, res.StatusCode, body)
			}
			if strings.Contains(string(body), `id="nav-users"`) {
				t.Errorf("%s as %s: the top bar shows the admin links", p, role)
			}
		}
		for _, p := range []string{"GET /api/v1/jobs", "POST /api/v1/jobs/housekeeping/run", "POST /api/v1/users", "PATCH /api/v1/users/sasaran"} {
			method, path, _ := strings.Cut(p, " ")
			code, body := apptest.APIDo(t, ta.Base, acc.Token, method, path, `{"name":"penyusup","role":"admin"}`)
			if code != http.StatusForbidden {
				t.Errorf("%s as %s: %d %s, want 403", p, role, code, body)
			}
		}
	}
	us, err := ta.Accounts.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.Name == "penyusup" || (u.Name == "sasaran" && (u.Role != accounts.Operator || u.Disabled)) {
			t.Errorf("staff changed accounts: %+v", u)
		}
	}
	if n := ta.Count(t, `SELECT COUNT(*) FROM job_runs`); n != 0 {
		t.Errorf("staff started %d job runs", n)
	}
	if a, _ := ta.Accounts.User(ctx, "sasaran"); a.ID != target.User.ID {
		t.Errorf("sasaran changed: %+v", a)
	}
}
