package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"lindungi/config"
	"lindungi/internal/app/proctest"
	"lindungi/store/storetest"
	"lindungi/testlog"
)

// readmeSection returns the README's text under heading (## level) up to
// the next ## heading.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## "+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	s = s[i+len(heading)+5:]
	if j := strings.Index(s, "\n## "); j >= 0 {
		s = s[:j]
	}
	return s
}

// The defaults README's configuration table promises are the ones `config
// dump` shows (it showed uploads_per_device_hour: 0 beside a README that
// said 6).
func TestREADMEConfigDefaultsMatchDump(t *testing.T) {
	var dump bytes.Buffer
	if err := config.Default().Dump(&dump); err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := yaml.Unmarshal(dump.Bytes(), &tree); err != nil {
		t.Fatal(err)
	}
	lookup := func(key string) (string, bool) {
		var v any = tree
		for _, part := range strings.Split(key, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return "", false
			}
			if v, ok = m[part]; !ok {
				return "", false
			}
		}
		switch v.(type) {
		case map[string]any, []any:
			return "", false
		case nil:
			return "", true
		}
		return strings.Trim(strings.TrimSpace(yamlScalar(v)), `"`), true
	}
	code := regexp.MustCompile("`([^`]*)`")
	checked := 0
	for _, line := range strings.Split(readmeSection(t, "Configuration"), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.Contains(cells[1], "`") {
			continue
		}
		var keys []string
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			keys = append(keys, m[1])
		}
		defaults := strings.Split(cells[3], ",")
		for i, key := range keys {
			if i >= len(defaults) || strings.Contains(key, "<") {
				continue
			}
			d := strings.TrimSpace(defaults[i])
			m := code.FindStringSubmatch(d)
			if m == nil || !strings.HasPrefix(d, "`") {
				continue // prose ("generated …", "empty = SQLite")
			}
			got, ok := lookup(key)
			if !ok {
				t.Errorf("README lists %s, config dump has no such key", key)
				continue
			}
			checked++
			if !sameValue(got, m[1]) {
				t.Errorf("%s: README says %q, config dump shows %q", key, m[1], got)
			}
		}
	}
	if checked < 15 {
		t.Errorf("only %d defaults found in README's configuration table: has its layout changed?", checked)
	}
}

func yamlScalar(v any) string {
	b, _ := yaml.Marshal(v)
	return string(b)
}

// sameValue compares a dumped value with README's, which writes durations
// short (24h for 24h0m0s).
func sameValue(dumped, readme string) bool {
	if dumped == readme {
		return true
	}
	if a, err := time.ParseDuration(dumped); err == nil {
		b, err := time.ParseDuration(readme)
		return err == nil && a == b
	}
	a, err1 := strconv.ParseFloat(dumped, 64)
	b, err2 := strconv.ParseFloat(readme, 64)
	return err1 == nil && err2 == nil && a == b
}

// shBlocks returns the ```sh blocks of a README section.
func shBlocks(section string) []string {
	var out []string
	for _, part := range strings.Split(section, "```sh\n")[1:] {
		if i := strings.Index(part, "```"); i >= 0 {
			out = append(out, part[:i])
		}
	}
	return out
}

// commands are a block's lines that are not comments or blank.
func commands(block string) []string {
	var out []string
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// README opens with exactly two commands, one that runs the gateway on
// its embedded default and one that runs the tests, and CI runs that very
// test command.
func TestREADMETwoCommands(t *testing.T) {
	blocks := shBlocks(readmeSection(t, "The two commands"))
	if len(blocks) != 1 {
		t.Fatalf("%d command blocks, want one", len(blocks))
	}
	cmds := commands(blocks[0])
	if len(cmds) != 2 || cmds[0] != "go run . serve" || !strings.HasPrefix(cmds[1], "go test ") {
		t.Fatalf("the two commands are %q", cmds)
	}
	ci, err := os.ReadFile(filepath.Join(moduleRoot, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(cmds[1]) + `$`).Match(ci) {
		t.Errorf(".ci/run does not run README's test command %q", cmds[1])
	}
}

// "Try it" works when pasted: its block runs in bash, from a fresh folder,
// to a ticket listed by the API. Two substitutions only: the binary built
// once by the tests instead of `go build` here, and a free port instead of
// 8080 (given as LINDUNGI_LISTEN, which every command reads).
func TestREADMETryItWorksWhenPasted(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		storetest.SkipOrFail(t, "curl is not installed")
	}
	blocks := shBlocks(readmeSection(t, "Try it"))
	if len(blocks) != 1 {
		t.Fatalf("%d command blocks in Try it, want one", len(blocks))
	}
	block := blocks[0]
	if !strings.HasPrefix(block, "go build -o lindungi .") {
		t.Fatalf("Try it does not start by building the binary:\n%s", block)
	}
	bin := proctest.Binary(t)
	addr := proctest.FreePort(t)
	dir := t.TempDir()
	script := `cp "$LINDUNGI_TEST_BIN" lindungi` + block[strings.Index(block, "\n"):]
	script = strings.ReplaceAll(script, "127.0.0.1:8080", addr)
	script = "set -e\n" + script + "\nkill %1\nwait\n"
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LINDUNGI_TEST_BIN="+bin, "LINDUNGI_LISTEN="+addr)
	var out testlog.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Try it failed: %v\n%s", err, out.String())
		}
	case <-time.After(2 * time.Minute): // a guard against a hang, not a measurement
		cmd.Process.Kill()
		t.Fatalf("Try it did not finish:\n%s", out.String())
	}
	if !regexp.MustCompile(`"tickets":\[\{[^]]*"id":"PL-\d{4}-\d{6}"`).MatchString(out.String()) {
		t.Errorf("Try it listed no ticket:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "lindungi.db")); err != nil {
		t.Errorf("Try it did not run on ./data: %v", err)
	}
	if strings.Contains(out.String(), "level=ERROR") {
		t.Errorf("errors logged along the way:\n%s", out.String())
	}
}
