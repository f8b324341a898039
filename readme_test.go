package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"lindungi/config"
)

// readmeSection returns the README's text under heading (## level) up to
// the next ## heading.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
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
