package accounts

import (
	"context"
	"errors"
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
