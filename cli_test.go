package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lindungi/internal/app/proctest"
)

// The command line answers --help and refuses what it does not know
// instead of starting a gateway (`serve --help` and `serve --bogus=1` both
// used to start one), and `--version` is the same as `version`.
func TestCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	bin := proctest.Binary(t)
	_, version := proctest.Run(t, bin, nil, "version")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--help"}, 0, "Usage: lindungi serve"},
		{[]string{"serve", "-h"}, 0, "Usage: lindungi serve"},
		{[]string{"help", "serve"}, 0, "Usage: lindungi serve"},
		{[]string{"serve", "--bogus=1"}, 1, "flag provided but not defined: -bogus"},
		{[]string{"serve", "now"}, 1, "serve takes no arguments"},
		{[]string{"migrate", "--force"}, 1, "flag provided but not defined: -force"},
		{[]string{"healthcheck", "--help"}, 0, "Usage: lindungi healthcheck"},
		{[]string{"--version"}, 0, version},
		{[]string{"-version"}, 0, version},
		{[]string{"--bogus"}, 1, "unknown flag --bogus"},
		{[]string{"frobnicate"}, 1, `unknown command "frobnicate"`},
		{[]string{"--help"}, 0, "Commands:"},
		{[]string{"chat", "--help"}, 0, "-from"},
		{[]string{"whatsapp", "pair", "--help"}, 0, "-phone"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			code, out := proctest.Run(t, bin, []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + proctest.FreePort(t), "LINDUNGI_TOKEN=lgw_secret-from-env"}, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d:\n%s", code, c.code, out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("output does not contain %q:\n%s", c.want, out)
			}
			if strings.Contains(out, "lgw_secret-from-env") {
				t.Errorf("the token from LINDUNGI_TOKEN was printed:\n%s", out)
			}
			if _, err := os.Stat(data); err == nil {
				t.Errorf("the data directory was created: a gateway started")
			}
		})
	}
	if !strings.HasPrefix(version, "lindungi ") {
		t.Errorf("version prints %q", version)
	}
}

// Commands pointed at the wrong place say so, and leave no database, data
// key or token behind (they used to create a second, empty gateway and
// then fail with a bare 401).
func TestCommandsFindTheRunningGatewayOrSaySo(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	bin := proctest.Binary(t)
	data := t.TempDir()
	addr := proctest.FreePort(t)
	base := []string{"LINDUNGI_SIMULATOR=true", "LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false"}
	proctest.Start(t, bin, append([]string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr}, base...), "serve")
	proctest.WaitHealthy(t, addr)

	// Another gateway's data, complete with its own database.
	other := t.TempDir()
	if code, out := proctest.Run(t, bin, nil, "migrate", "--data", other); code != 0 {
		t.Fatalf("migrate: %s", out)
	}
	missing := filepath.Join(t.TempDir(), "mistyped")
	elsewhere := t.TempDir() // a folder without ./data

	cases := []struct {
		name string
		dir  string // working directory
		args []string
		want []string
		// created must not exist afterwards
		created string
	}{
		{"chat with a data dir that does not exist", "", []string{"chat", "--listen", addr, "--data", missing},
			[]string{"does not exist", missing, "same --config/--data"}, missing},
		{"chat with another gateway's data", "", []string{"chat", "--listen", addr, "--data", other},
			[]string{"does not know the chat token", other}, ""},
		{"chat where no gateway listens", "", []string{"chat", "--listen", proctest.FreePort(t), "--data", data},
			[]string{"no gateway answers at", "it would use data directory " + data}, filepath.Join(data, "chat.token")},
		{"jobs from another folder", elsewhere, []string{"jobs", "list"},
			[]string{"does not exist", filepath.Join(elsewhere, "data")}, filepath.Join(elsewhere, "data")},
		{"user add with a data dir that does not exist", "", []string{"user", "add", "--role", "admin", "budi", "--data", missing},
			[]string{"does not exist", missing}, missing},
		{"healthcheck where no gateway listens", "", []string{"healthcheck", "--listen", proctest.FreePort(t)},
			[]string{"healthcheck: http://127.0.0.1:"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, c.args...)
			cmd.Env = append(os.Environ(), base...)
			cmd.Dir = c.dir
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("exit 0, want a refusal:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not say %q:\n%s", w, out)
				}
			}
			if c.created != "" {
				if _, err := os.Stat(c.created); err == nil {
					t.Errorf("%s was created", c.created)
				}
			}
		})
	}
}
