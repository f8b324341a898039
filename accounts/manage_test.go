package accounts

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"lindungi/store"
	"lindungi/store/storetest"
)

func countRows(t *testing.T, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// API tokens used to work forever and nothing could revoke one.
func TestTokenExpiryAndRevocation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := New(db)
		s.TokenTTL = 90 * 24 * time.Hour
		c, err := s.Add(ctx, "petugas.hana", Operator)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ByToken(ctx, c.Token); err != nil {
			t.Fatalf("new token refused: %v", err)
		}
		// Made 91 days ago: expired.
		if _, err := db.Exec(ctx, `UPDATE api_tokens SET created_at = ? WHERE user_id = ?`, store.Now().Add(-91*24*time.Hour), c.User.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ByToken(ctx, c.Token); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("a 91-day-old token with a 90-day TTL: %v, want refused", err)
		}
		toks, err := s.Tokens(ctx, "petugas.hana")
		if err != nil || len(toks) != 1 || !toks[0].Expired || toks[0].ExpiresAt == nil {
			t.Fatalf("token list %+v, %v: want one expired token with its expiry", toks, err)
		}
		// A new token for the user works; revoked, it stops at once.
		tok, secret, err := s.AddToken(ctx, "user:admin", "petugas.hana")
		if err != nil {
			t.Fatal(err)
		}
		if u, err := s.ByToken(ctx, secret); err != nil || u.Name != "petugas.hana" {
			t.Fatalf("new token: %+v %v", u, err)
		}
		if err := s.RevokeToken(ctx, "user:admin", tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ByToken(ctx, secret); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("revoked token: %v, want refused", err)
		}
		if err := s.RevokeToken(ctx, "user:admin", tok.ID); !errors.Is(err, ErrTokenNotFound) {
			t.Fatalf("revoking twice: %v", err)
		}
		if _, _, err := s.AddToken(ctx, "user:admin", "tidak.ada"); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("token for an unknown user: %v", err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM audit_log WHERE actor = 'user:admin' AND action IN ('token.created', 'token.revoked')`); n != 2 {
			t.Errorf("%d audit rows for a token made and revoked, want 2", n)
		}
		// TTL 0: tokens never expire.
		s.TokenTTL = 0
		if _, err := s.ByToken(ctx, c.Token); err != nil {
			t.Errorf("with no TTL the old token is refused: %v", err)
		}
	})
}

// A disabled user's sessions and tokens stop at once; a password reset ends
// the sessions too.
func TestDisableAndResetPassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := New(db)
		c, err := s.Add(ctx, "petugas.indra", Supervisor)
		if err != nil {
			t.Fatal(err)
		}
		sid, _, _, err := s.Login(ctx, "petugas.indra", c.Password, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetDisabled(ctx, "system:cli", "petugas.indra", true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.BySession(ctx, sid); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("session of a disabled user: %v", err)
		}
		if _, err := s.ByToken(ctx, c.Token); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("token of a disabled user: %v", err)
		}
		if _, _, _, err := s.Login(ctx, "petugas.indra", c.Password, time.Hour); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("login of a disabled user: %v", err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM sessions WHERE user_id = ?`, c.User.ID); n != 0 {
			t.Errorf("%d sessions left for a disabled user", n)
		}
		us, err := s.Users(ctx)
		if err != nil || len(us) != 1 || !us[0].Disabled {
			t.Fatalf("users %+v %v", us, err)
		}
		// Enabled again: the token works, the old session stays ended.
		if _, err := s.SetDisabled(ctx, "system:cli", "petugas.indra", false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ByToken(ctx, c.Token); err != nil {
			t.Errorf("token after enabling: %v", err)
		}
		if _, _, err := s.BySession(ctx, sid); err == nil {
			t.Error("the session from before the disable came back")
		}
		// Password reset: the old password and sessions stop, the new works.
		sid, _, _, err = s.Login(ctx, "petugas.indra", c.Password, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pw, err := s.ResetPassword(ctx, "system:cli", "petugas.indra")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.BySession(ctx, sid); err == nil {
			t.Error("session survived a password reset")
		}
		if _, _, _, err := s.Login(ctx, "petugas.indra", c.Password, time.Hour); err == nil {
			t.Error("old password still works")
		}
		if _, _, _, err := s.Login(ctx, "petugas.indra", pw, time.Hour); err != nil {
			t.Errorf("new password: %v", err)
		}
		if _, err := s.SetDisabled(ctx, "system:cli", "tidak.ada", true); !errors.Is(err, ErrUserNotFound) {
			t.Errorf("disable an unknown user: %v", err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM audit_log WHERE actor = 'system:cli' AND action IN ('user.disabled', 'user.enabled', 'user.password_reset')`); n != 3 {
			t.Errorf("%d audit rows, want 3", n)
		}
	})
}

// A console device cookie (bound to DeviceSecret) and a session survived a
// disable followed by an enable with the same password; the account's
// epoch ends both for good. Adding, disabling and changing a role are
// audited with the admin as actor.
func TestEpochOutlivesReEnable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := New(db)
		c, err := s.AddBy(ctx, "user:admin.dewi", "petugas.eko", Operator)
		if err != nil {
			t.Fatal(err)
		}
		secret, err := s.DeviceSecret(ctx, "petugas.eko")
		if err != nil || secret == "" {
			t.Fatalf("device secret: %q %v", secret, err)
		}
		sid, _, _, err := s.Login(ctx, "petugas.eko", c.Password, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		// A session opened under the old epoch that the disable's DELETE
		// missed (a login racing it), put back by hand.
		var row struct {
			hash, csrf string
			exp        time.Time
		}
		if err := db.QueryRow(ctx, `SELECT token_hash, csrf, expires_at FROM sessions WHERE user_id = ?`, c.User.ID).Scan(&row.hash, &row.csrf, &row.exp); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetDisabled(ctx, "user:admin.dewi", "petugas.eko", true); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.DeviceSecret(ctx, "petugas.eko"); got != "" {
			t.Errorf("a disabled account has device secret %q", got)
		}
		if _, err := db.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, csrf, expires_at, epoch) VALUES (?, ?, ?, ?, 0)`, row.hash, c.User.ID, row.csrf, row.exp); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetDisabled(ctx, "user:admin.dewi", "petugas.eko", false); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.DeviceSecret(ctx, "petugas.eko"); got == "" || got == secret {
			t.Errorf("after disable and enable the device secret is %q (was %q): old device cookies would work again", got, secret)
		}
		if _, _, err := s.BySession(ctx, sid); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("a session from before the disable works again: %v", err)
		}
		// The same password still logs in, with a session that works.
		sid2, _, _, err := s.Login(ctx, "petugas.eko", c.Password, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.BySession(ctx, sid2); err != nil {
			t.Errorf("a new session after enabling: %v", err)
		}
		if _, err := s.SetRole(ctx, "user:admin.dewi", "petugas.eko", Supervisor); err != nil {
			t.Fatal(err)
		}
		if u, _, _ := s.BySession(ctx, sid2); u.Role != Supervisor {
			t.Errorf("role after the change: %q", u.Role)
		}
		if _, err := s.SetRole(ctx, "user:admin.dewi", "petugas.eko", "raja"); err == nil {
			t.Error("an unknown role was accepted")
		}
		for _, action := range []string{"user.created", "user.disabled", "user.enabled", "user.role_changed"} {
			if n := countRows(t, db, `SELECT COUNT(*) FROM audit_log WHERE action = ? AND actor = 'user:admin.dewi' AND object_id = ?`, action, strconv.FormatInt(c.User.ID, 10)); n != 1 {
				t.Errorf("%d audit rows %s, want 1", n, action)
			}
		}
		if _, err := s.Add(ctx, "chat-cli-1", Simulator); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM audit_log WHERE action = 'user.created'`); n != 1 {
			t.Errorf("Add (no actor) wrote an audit row: %d user.created rows", n)
		}
	})
}
