package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/store"
)

// The account commands (`user`, `token`) and the chat client's token,
// run through the CLI: these stay with the CLI in the root package.

// runCLI runs the lindungi command line in-process and returns its output.
func runCLI(t testing.TB, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := realMain(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), err
}

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
	dir := t.TempDir()
	cli := func(args ...string) string {
		t.Helper()
		out, err := runCLI(t, append([]string{"--data", dir}, args...)...)
		if err != nil {
			t.Fatalf("lindungi %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	added := cli("user", "add", "--role", "operator", "petugas.nina")
	token := field(t, added, "token")
	check := func(secret string) error {
		db, _, err := openStore(context.Background(), testConfig(t, "LINDUNGI_DATA_DIR="+dir), nil)
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
	if db, _, err := openStore(context.Background(), testConfig(t, "LINDUNGI_DATA_DIR="+dir), nil); err != nil {
		t.Fatal(err)
	} else {
		var n int
		err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE action = 'user.created' AND actor = ?`, cliActor).Scan(&n)
		db.Close()
		if err != nil || n != 1 {
			t.Errorf("user add: %d audit rows by %s (%v), want 1", n, cliActor, err)
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
		if _, err := runCLI(t, append([]string{"--data", dir}, bad...)...); err == nil {
			t.Errorf("lindungi %s: no error", strings.Join(bad, " "))
		}
	}
}

// `lindungi chat` keeps its operator token in the data directory; once it
// expires, chat makes a new one instead of failing with 401 forever.
func TestChatTokenRenewedAfterExpiry(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	// chat finds the database a gateway made; migrate makes one here.
	if err := cmdMigrate(ctx, cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	first, err := localChatToken(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := localChatToken(ctx, cfg); err != nil || again != first {
		t.Fatalf("second call: %v, token changed %v", err, again != first)
	}
	db, _, err := openStore(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(ctx, `UPDATE api_tokens SET created_at = ? WHERE token_hash = ?`, store.Now().Add(-cfg.Accounts.TokenTTL.D()-time.Hour), accounts.HashSecret(first))
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := localChatToken(ctx, cfg)
	if err != nil || renewed == first {
		t.Fatalf("expired chat token not renewed: %v", err)
	}
}
