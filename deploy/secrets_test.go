package deploy

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lindungi/config"
	"lindungi/internal/app/proctest"
	"lindungi/store"
)

// `lindungi secrets init` writes what the compose files read, in a form the
// gateway and PostgreSQL accept, and never replaces an existing secret (a
// new data key would make the sealed data unreadable).
func TestSecretsInit(t *testing.T) {
	bin := proctest.Binary(t)
	dir := filepath.Join(t.TempDir(), "secrets")
	initSecrets := func() string {
		t.Helper()
		code, out := proctest.Run(t, bin, nil, "secrets", "init", "--dir", dir)
		if code != 0 {
			t.Fatalf("secrets init: exit %d\n%s", code, out)
		}
		return out
	}
	initSecrets()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	cfg, err := config.Load("", []string{
		"LINDUNGI_DATA_KEY_FILE=" + filepath.Join(dir, "data_key"),
		"LINDUNGI_DATABASE_URL_FILE=" + filepath.Join(dir, "database_url"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.LoadOrCreateKey(cfg.DataKey, t.TempDir(), false); err != nil {
		t.Errorf("the data key is not one the store accepts: %v", err)
	}
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := u.User.Password(); u.Scheme != "postgres" || u.Host != "postgres:5432" || pw != read("pg_password") || pw == "" {
		t.Errorf("database_url %s does not match pg_password and the compose service", u.Redacted())
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("secrets directory mode %v, want 0700", fi.Mode().Perm())
	}

	key := read("data_key")
	os.Remove(filepath.Join(dir, "database_url"))
	out := initSecrets()
	if read("data_key") != key {
		t.Error("a second init replaced the data key")
	}
	if !strings.Contains(out, "kept") || !strings.Contains(read("database_url"), read("pg_password")) {
		t.Errorf("second init:\n%s", out)
	}
	if strings.Contains(out, key) || strings.Contains(out, read("pg_password")) {
		t.Error("secrets init printed a secret")
	}
}
