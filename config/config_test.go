package config

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsValidate(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.DataDir != "data" || c.Simulator.Enabled || !c.WhatsApp.Enabled {
		t.Errorf("defaults: %+v", c)
	}
}

func TestEnvAndSecretsFiles(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "db")
	os.WriteFile(secret, []byte("postgres://u:hunter2@db/lindungi\n"), 0o600)
	c, err := Load("", []string{
		"LINDUNGI_SIMULATOR=false", "LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_LISTEN=0.0.0.0:9000",
		"LINDUNGI_DATABASE_URL_FILE=" + secret, "LINDUNGI_BOT_STATE_TTL=45m", "LINDUNGI_TRACING_MIN_MINUTES=10",
		"LINDUNGI_TRACING_CHANNEL=simulator", "OTHER=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Simulator.Enabled || c.WhatsApp.Enabled || c.Listen != "0.0.0.0:9000" || c.DatabaseURL != "postgres://u:hunter2@db/lindungi" ||
		c.Bot.StateTTL.D() != 45*time.Minute || c.Tracing.MinMinutes != 10 || c.Tracing.Channel != "simulator" {
		t.Errorf("env not applied: %+v", c)
	}
	var out bytes.Buffer
	if err := c.Dump(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "********") {
		t.Errorf("dump leaks or does not mask the secret:\n%s", out.String())
	}
}

func TestBadInputNamesTheKey(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	for _, tc := range []struct {
		name, file string
		env        []string
		want       string
	}{
		{"unknown key", "listn: x\n", nil, "listn"},
		{"bad duration", "bot:\n  state_ttl: soon\n", nil, "duration"},
		{"bad bool env", "", []string{"LINDUNGI_SIMULATOR=maybe"}, "LINDUNGI_SIMULATOR"},
		{"bad number env", "", []string{"LINDUNGI_OUTBOX_MAX_ATTEMPTS=many"}, "LINDUNGI_OUTBOX_MAX_ATTEMPTS"},
		{"bad channel", "", []string{"LINDUNGI_TRACING_CHANNEL=sms"}, "tracing.channel"},
		{"tracing on the simulator while it is off", "", []string{"LINDUNGI_TRACING_CHANNEL=simulator"}, "LINDUNGI_SIMULATOR=true"},
		{"bad db url", "", []string{"LINDUNGI_DATABASE_URL=mysql://x"}, "database_url"},
		{"bad after_import", "email:\n  mailboxes:\n    - address: a@b.c\n      imap_url: imaps://x\n      after_import: delete\n", nil, "after_import"},
		{"bad smtp_auth", "email:\n  mailboxes:\n    - address: a@b.c\n      imap_url: imaps://x\n      smtp_auth: login\n", nil, "smtp_auth"},
		{"bad poll_interval", "email:\n  mailboxes:\n    - address: a@b.c\n      imap_url: imaps://x\n      poll_interval: soon\n", nil, "duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = write(tc.file)
			}
			c, err := Load(path, tc.env)
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want mention of %q", err, tc.want)
			}
		})
	}
}

// A variable with a documented short name also answers to the name its
// key's path gives; when both are set the documented one wins.
func TestEnvPathNameAlias(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want bool
	}{
		{[]string{"LINDUNGI_SIMULATOR_ENABLED=true"}, true},
		{[]string{"LINDUNGI_SIMULATOR=true"}, true},
		{[]string{"LINDUNGI_SIMULATOR=false", "LINDUNGI_SIMULATOR_ENABLED=true"}, false},
		{nil, false}, // off unless configured
	} {
		cfg, err := Load("", c.env)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Simulator.Enabled != c.want {
			t.Errorf("%v: simulator enabled = %v, want %v", c.env, cfg.Simulator.Enabled, c.want)
		}
	}
}

// TestMailboxKeys: the per-mailbox poll interval, IDLE switch and SMTP
// login mechanism are read from the file; unset, idle stays nil (true).
func TestMailboxKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("email:\n  mailboxes:\n    - address: a@b.c\n      imap_url: imaps://x\n      poll_interval: 5s\n      idle: false\n      smtp_auth: none\n"+
		"    - address: d@b.c\n      imap_url: imaps://y\n"), 0o600)
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a, d := c.Email.Mailboxes[0], c.Email.Mailboxes[1]
	if a.PollInterval.D() != 5*time.Second || a.Idle == nil || *a.Idle || a.SMTPAuth != "none" {
		t.Errorf("first mailbox: poll %v idle %v smtp_auth %q", a.PollInterval.D(), a.Idle, a.SMTPAuth)
	}
	if d.PollInterval != 0 || d.Idle != nil || d.SMTPAuth != "" {
		t.Errorf("second mailbox should keep the defaults: %+v", d)
	}
}

// Asia/Jakarta loads on a host without a time zone database (the runtime
// image, minimal servers): the database is embedded. The test re-runs
// itself in a mount namespace where the system's zoneinfo directories are
// hidden by empty tmpfs mounts and GOROOT points nowhere (Go's last
// fallback is GOROOT's zoneinfo.zip); without root it skips.
func TestJakartaWithoutSystemZoneinfo(t *testing.T) {
	if os.Getenv("LINDUNGI_TEST_NO_ZONEINFO") == "1" {
		if _, err := os.Stat("/usr/share/zoneinfo/Asia/Jakarta"); err == nil {
			t.Fatal("the system zoneinfo is still visible")
		}
		if _, err := time.LoadLocation("Asia/Jakarta"); err != nil {
			t.Fatal(err)
		}
		if err := Default().Validate(); err != nil {
			t.Fatal(err)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("hiding /usr/share/zoneinfo needs root (a mount namespace)")
	}
	hide := `for d in /usr/share/zoneinfo /usr/share/lib/zoneinfo /usr/lib/locale/TZ /etc/zoneinfo; do
  if [ -d "$d" ]; then mount -t tmpfs none "$d" || exit 3; fi
done
exec "$0" -test.run '^TestJakartaWithoutSystemZoneinfo$' -test.v`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", hide, os.Args[0])
	cmd.Env = append(os.Environ(), "LINDUNGI_TEST_NO_ZONEINFO=1", "GOROOT=/nonexistent", "ZONEINFO=")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 || strings.Contains(string(out), "unshare failed") {
		t.Skipf("no mount namespace here: %s", out)
	}
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("without the system zoneinfo: %v\n%s", err, out)
	}
}
