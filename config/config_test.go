package config

import (
	"bytes"
	"os"
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
