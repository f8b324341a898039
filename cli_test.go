package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The command line answers --help and refuses what it does not know
// instead of starting a gateway (`serve --help` and `serve --bogus=1` both
// used to start one), and `--version` is the same as `version`.
func TestCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	bin := buildBinary(t)
	_, version := runToExit(t, bin, nil, "version")
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
			code, out := runToExit(t, bin, []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + freePort(t), "LINDUNGI_TOKEN=lgw_secret-from-env"}, c.args...)
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
