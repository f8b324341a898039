package accounts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/internal/app/apptest"
	"lindungi/store"
	"lindungi/tickets"
)

// consoleLogin logs in and returns the session cookie.
func consoleLogin(t testing.TB, base, name, password string) *http.Cookie {
	t.Helper()
	res, err := apptest.NoRedirects.PostForm(base+"/login", url.Values{"name": {name}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "lindungi_session" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("login as %s: no session (went to %s)", name, res.Header.Get("Location"))
	return nil
}

// consoleStatus is the answer to GET / with the session cookie.
func consoleStatus(t testing.TB, base string, c *http.Cookie) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.AddCookie(c)
	res, err := apptest.NoRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Location")
}

// Admins manage accounts over the API: disabling a user stops their token
// and console session at once; tokens are listed, added, revoked and expire
// (90 days by default); a password can be reset. Nothing of this existed.
func TestAdminManagesUsersAndTokens(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	ctx := context.Background()
	op, err := ta.Accounts.Add(ctx, "petugas.joko", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	session := consoleLogin(t, ta.Base, "petugas.joko", op.Password)
	if st, _ := consoleStatus(t, ta.Base, session); st != http.StatusOK {
		t.Fatalf("console before the disable: %d", st)
	}
	if st, b := apptest.APIDo(t, ta.Base, op.Token, "GET", "/api/v1/users", ""); st != http.StatusForbidden {
		t.Errorf("an operator lists users: %d %s", st, b)
	}
	st, b := apptest.APIDo(t, ta.Base, ta.Token, "GET", "/api/v1/users", "")
	if st != http.StatusOK || !bytes.Contains(b, []byte(`"name":"petugas.joko"`)) {
		t.Fatalf("users: %d %s", st, b)
	}

	st, b = apptest.APIDo(t, ta.Base, ta.Token, "PATCH", "/api/v1/users/petugas.joko", `{"disabled":true}`)
	if st != http.StatusOK || !bytes.Contains(b, []byte(`"disabled":true`)) {
		t.Fatalf("disable: %d %s", st, b)
	}
	if st, _ := apptest.APIDo(t, ta.Base, op.Token, "GET", "/api/v1/tickets", ""); st != http.StatusUnauthorized {
		t.Errorf("a disabled user's token: %d, want 401", st)
	}
	if st, loc := consoleStatus(t, ta.Base, session); st != http.StatusSeeOther || loc != "/login" {
		t.Errorf("a disabled user's console session: %d %s, want a redirect to /login", st, loc)
	}
	admin := ta.Accounts
	var self string
	for _, u := range mustUsers(t, admin) {
		if u.Role == accounts.Admin {
			self = u.Name
		}
	}
	if st, b := apptest.APIDo(t, ta.Base, ta.Token, "PATCH", "/api/v1/users/"+self, `{"disabled":true}`); st != http.StatusConflict {
		t.Errorf("an admin disables themselves: %d %s", st, b)
	}
	if st, _ := apptest.APIDo(t, ta.Base, ta.Token, "PATCH", "/api/v1/users/tidak.ada", `{"disabled":true}`); st != http.StatusNotFound {
		t.Errorf("disable an unknown user: %d", st)
	}
	if st, b := apptest.APIDo(t, ta.Base, ta.Token, "PATCH", "/api/v1/users/petugas.joko", `{"disabled":false}`); st != http.StatusOK {
		t.Fatalf("enable: %d %s", st, b)
	}

	// A second token; listed; revoked.
	st, b = apptest.APIDo(t, ta.Base, ta.Token, "POST", "/api/v1/users/petugas.joko/tokens", "")
	var made struct {
		Token  accounts.Token `json:"token"`
		Secret string         `json:"secret"`
	}
	if st != http.StatusCreated || json.Unmarshal(b, &made) != nil || made.Secret == "" || made.Token.ExpiresAt == nil {
		t.Fatalf("add token: %d %s", st, b)
	}
	if days := made.Token.ExpiresAt.Sub(made.Token.CreatedAt).Hours() / 24; days != 90 {
		t.Errorf("a new token expires after %.1f days, want the default 90", days)
	}
	if st, _ := apptest.APIDo(t, ta.Base, made.Secret, "GET", "/api/v1/tickets", ""); st != http.StatusOK {
		t.Errorf("the new token: %d", st)
	}
	st, b = apptest.APIDo(t, ta.Base, ta.Token, "GET", "/api/v1/tokens?user=petugas.joko", "")
	if st != http.StatusOK || bytes.Count(b, []byte(`"user":"petugas.joko"`)) != 2 {
		t.Errorf("tokens: %d %s, want two", st, b)
	}
	if st, b := apptest.APIDo(t, ta.Base, ta.Token, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", made.Token.ID), ""); st != http.StatusOK {
		t.Fatalf("revoke: %d %s", st, b)
	}
	if st, _ := apptest.APIDo(t, ta.Base, made.Secret, "GET", "/api/v1/tickets", ""); st != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", st)
	}
	// The first token, made 91 days ago, has expired.
	if _, err := ta.DB.Exec(ctx, `UPDATE api_tokens SET created_at = ? WHERE token_hash = ?`, store.Now().Add(-91*24*time.Hour), accounts.HashSecret(op.Token)); err != nil {
		t.Fatal(err)
	}
	if st, _ := apptest.APIDo(t, ta.Base, op.Token, "GET", "/api/v1/tickets", ""); st != http.StatusUnauthorized {
		t.Errorf("a 91-day-old token: %d, want 401", st)
	}
	// A new password, shown once; the old one stops.
	st, b = apptest.APIDo(t, ta.Base, ta.Token, "POST", "/api/v1/users/petugas.joko/password", "")
	var pw struct{ Password string }
	if st != http.StatusOK || json.Unmarshal(b, &pw) != nil || pw.Password == "" {
		t.Fatalf("reset password: %d %s", st, b)
	}
	consoleLogin(t, ta.Base, "petugas.joko", pw.Password)
	if strings.Contains(ta.Logs.String(), pw.Password) || strings.Contains(ta.Logs.String(), made.Secret) {
		t.Error("a password or token reached the logs")
	}
	if n := ta.Count(t, `SELECT COUNT(*) FROM audit_log WHERE action IN ('user.disabled', 'user.enabled', 'token.created', 'token.revoked', 'user.password_reset')`); n != 5 {
		t.Errorf("%d audit rows for five changes", n)
	}
}

func mustUsers(t testing.TB, s *accounts.Store) []accounts.Account {
	t.Helper()
	us, err := s.Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return us
}

// An operator's erasure used to run at once on one token. Now it waits for
// a supervisor (or admin) other than the requester; an export stays one
// step.
func TestErasureNeedsSecondPerson(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	ctx := context.Background()
	op, err := ta.Accounts.Add(ctx, "petugas.kiki", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	sup, err := ta.Accounts.Add(ctx, "penyelia.lia", accounts.Supervisor)
	if err != nil {
		t.Fatal(err)
	}
	sup2, err := ta.Accounts.Add(ctx, "penyelia.maya", accounts.Supervisor)
	if err != nil {
		t.Fatal(err)
	}
	citizen := func(addr string) {
		if err := ta.DB.InTx(ctx, func(tx *store.Tx) error {
			c, err := ta.Tickets.UpsertContact(ctx, tx, "simulator", addr, "Warga")
			if err != nil {
				return err
			}
			_, err = ta.Tickets.Create(ctx, tx, tickets.NewTicket{ContactID: c.ID, Channel: "simulator", Subject: "hapus data"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	const a, b = "+6281255550001", "+6281255550002"
	citizen(a)
	citizen(b)
	file := func(token, addr string) int64 {
		t.Helper()
		st, body := apptest.APIDo(t, ta.Base, token, "POST", "/api/v1/privacy/requests", `{"kind":"delete","channel":"simulator","address":"`+addr+`"}`)
		var out struct {
			Request struct {
				ID     int64
				Status string
			}
		}
		if st != http.StatusAccepted || json.Unmarshal(body, &out) != nil || out.Request.Status != "pending" {
			t.Fatalf("delete request: %d %s, want 202 pending", st, body)
		}
		return out.Request.ID
	}
	held := func(addr string) bool {
		return ta.Count(t, `SELECT COUNT(*) FROM contacts WHERE address = ?`, addr) == 1
	}
	id := file(op.Token, a)
	if !held(a) {
		t.Fatal("erased on the operator's request alone")
	}
	path := fmt.Sprintf("/api/v1/privacy/requests/%d/approve", id)
	if st, body := apptest.APIDo(t, ta.Base, op.Token, "POST", path, ""); st != http.StatusForbidden {
		t.Errorf("the operator approves: %d %s", st, body)
	}
	// A supervisor's own request needs someone else too.
	own := file(sup2.Token, b)
	if st, body := apptest.APIDo(t, ta.Base, sup2.Token, "POST", fmt.Sprintf("/api/v1/privacy/requests/%d/approve", own), ""); st != http.StatusForbidden || apptest.ErrorCode(t, body) != "same_person" {
		t.Errorf("a supervisor approves their own request: %d %s", st, body)
	}
	if st, body := apptest.APIDo(t, ta.Base, sup.Token, "POST", path, ""); st != http.StatusOK {
		t.Fatalf("the supervisor approves: %d %s", st, body)
	}
	if held(a) {
		t.Error("not erased after approval")
	}
	if st, body := apptest.APIDo(t, ta.Base, sup.Token, "POST", path, ""); st != http.StatusConflict {
		t.Errorf("approved twice: %d %s", st, body)
	}
	// Turned down: nothing erased, the register says so.
	if st, body := apptest.APIDo(t, ta.Base, sup.Token, "POST", fmt.Sprintf("/api/v1/privacy/requests/%d/reject", own), `{"reason":"identitas belum terverifikasi"}`); st != http.StatusOK {
		t.Fatalf("reject: %d %s", st, body)
	}
	if !held(b) {
		t.Error("erased although rejected")
	}
	st, body := apptest.APIDo(t, ta.Base, sup.Token, "GET", "/api/v1/privacy/requests", "")
	if st != http.StatusOK || !bytes.Contains(body, []byte(`"status":"rejected"`)) || !bytes.Contains(body, []byte(`"approvedBy":"user:penyelia.lia"`)) {
		t.Errorf("register: %d %s", st, body)
	}
	for _, action := range []string{"privacy.delete.requested", "privacy.delete.approved", "privacy.delete.completed", "privacy.delete.rejected"} {
		if ta.Count(t, `SELECT COUNT(*) FROM audit_log WHERE action = ?`, action) == 0 {
			t.Errorf("no %s audit row", action)
		}
	}
}

// POST /api/v1/users adds an account (secrets once, audited) and PATCH
// changes its role; an admin cannot demote or disable themselves.
func TestAdminAddsUserAndChangesRoleOverAPI(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	var added struct {
		User            accounts.User `json:"user"`
		Password, Token string
	}
	if code := ta.Call("POST", "/api/v1/users", map[string]string{"name": "petugas.lia", "role": accounts.Operator}, &added); code != http.StatusCreated ||
		added.User.Name != "petugas.lia" || added.Password == "" || !strings.HasPrefix(added.Token, "lgw_") {
		t.Fatalf("add: %d %+v", code, added)
	}
	if code, _ := apptest.APIDo(t, ta.Base, added.Token, "GET", "/api/v1/tickets", ""); code != 200 {
		t.Errorf("the new user's token: %d", code)
	}
	for body, want := range map[string]int{`{"name":"petugas.lia","role":"operator"}`: 409, `{"name":"x","role":"operator"}`: 400, `{"name":"petugas.ani","role":"raja"}`: 400} {
		if code, b := apptest.APIDo(t, ta.Base, ta.Token, "POST", "/api/v1/users", body); code != want {
			t.Errorf("add %s: %d %s, want %d", body, code, b, want)
		}
	}
	var patched struct {
		User accounts.Account `json:"user"`
	}
	if code := ta.Call("PATCH", "/api/v1/users/petugas.lia", map[string]string{"role": accounts.Supervisor}, &patched); code != 200 || patched.User.Role != accounts.Supervisor {
		t.Errorf("role change: %d %+v", code, patched.User)
	}
	if code, _ := apptest.APIDo(t, ta.Base, added.Token, "POST", "/api/v1/canned-replies", `{"title":"t","text":"x"}`); code != http.StatusCreated {
		t.Errorf("the supervisor's token on a supervisor route: %d", code)
	}
	var admins struct {
		Users []accounts.Account `json:"users"`
	}
	ta.Call("GET", "/api/v1/users", nil, &admins)
	self := ""
	for _, u := range admins.Users {
		if u.Role == accounts.Admin {
			self = u.Name
		}
	}
	for _, body := range []string{`{"role":"operator"}`, `{"disabled":true}`} {
		if code, b := apptest.APIDo(t, ta.Base, ta.Token, "PATCH", "/api/v1/users/"+self, body); code != http.StatusConflict {
			t.Errorf("admin %s on themselves: %d %s, want 409", body, code, b)
		}
	}
	var audited struct {
		Entries []struct{ Action string } `json:"entries"`
	}
	ta.Call("GET", "/api/v1/audit?object_type=user&object_id="+fmt.Sprint(added.User.ID), nil, &audited)
	var actions []string
	for _, e := range audited.Entries {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); !strings.Contains(got, "user.created") || !strings.Contains(got, "user.role_changed") {
		t.Errorf("audit rows of the new user: %s", got)
	}
}
