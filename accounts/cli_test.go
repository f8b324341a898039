package accounts_test

import (
	"context"
	"strings"
	"testing"

	"lindungi/accounts"
	"lindungi/internal/app"
	"lindungi/internal/app/apptest"
	"lindungi/internal/app/proctest"
)

// The account commands (`user`, `token`), run as the operator runs them:
// the binary on a data directory, no gateway running.

// field returns the value after "name: " in command output.
func field(t testing.TB, out, name string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, name+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s: in %q", name, out)
	return ""
}

// `lindungi user list|disable|enable|reset-password` and `lindungi token
// list|add|revoke` work on the data directory like `user add`.
func TestUserAndTokenCommands(t *testing.T) {
	bin := proctest.Binary(t)
	dir := t.TempDir()
	run := func(args ...string) (int, string) {
		t.Helper()
		return proctest.Run(t, bin, nil, append([]string{"--data", dir}, args...)...)
	}
	cli := func(args ...string) string {
		t.Helper()
		code, out := run(args...)
		if code != 0 {
			t.Fatalf("lindungi %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	added := cli("user", "add", "--role", "operator", "petugas.nina")
	token := field(t, added, "token")
	check := func(secret string) error {
		db, _, err := app.OpenStore(context.Background(), apptest.Config(t, "LINDUNGI_DATA_DIR="+dir), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		_, err = accounts.New(db).ByToken(context.Background(), secret)
		return err
	}
	if err := check(token); err != nil {
		t.Fatalf("new token: %v", err)
	}
	// `user add` is audited like the other account commands.
	if db, _, err := app.OpenStore(context.Background(), apptest.Config(t, "LINDUNGI_DATA_DIR="+dir), nil); err != nil {
		t.Fatal(err)
	} else {
		var n int
		err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE action = 'user.created' AND actor = ?`, "system:cli").Scan(&n)
		db.Close()
		if err != nil || n != 1 {
			t.Errorf("user add: %d audit rows by system:cli (%v), want 1", n, err)
		}
	}
	if out := cli("user", "list"); !strings.Contains(out, "petugas.nina") || !strings.Contains(out, "active") {
		t.Errorf("user list: %q", out)
	}
	cli("user", "disable", "petugas.nina")
	if out := cli("user", "list"); !strings.Contains(out, "disabled") {
		t.Errorf("user list after disable: %q", out)
	}
	if err := check(token); err == nil {
		t.Error("a disabled user's token still works")
	}
	cli("user", "enable", "petugas.nina")
	if err := check(token); err != nil {
		t.Errorf("token after enable: %v", err)
	}
	if pw := field(t, cli("user", "reset-password", "petugas.nina"), "password"); len(pw) < 12 {
		t.Errorf("new password %q", pw)
	}
	second := cli("token", "add", "petugas.nina")
	secret, id := field(t, second, "token"), field(t, second, "token id")
	if err := check(secret); err != nil {
		t.Fatalf("added token: %v", err)
	}
	if out := cli("token", "list", "--user", "petugas.nina"); strings.Count(out, "petugas.nina") != 2 {
		t.Errorf("token list: %q", out)
	}
	cli("token", "revoke", id)
	if err := check(secret); err == nil {
		t.Error("a revoked token still works")
	}
	for _, bad := range [][]string{{"user", "disable"}, {"user", "frobnicate", "x"}, {"token", "revoke", "abc"}, {"token", "revoke", "99999"}, {"user", "disable", "tidak.ada"}} {
		if code, out := run(bad...); code == 0 {
			t.Errorf("lindungi %s: exit 0\n%s", strings.Join(bad, " "), out)
		}
	}
}
