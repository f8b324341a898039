package catalog

import (
	"regexp"
	"sort"
	"strings"
	"testing"
)

var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

func TestEveryKeyInEveryLanguage(t *testing.T) {
	for _, a := range Languages {
		for _, b := range Languages {
			for _, k := range Keys(a) {
				if !Has(b, k) {
					t.Errorf("key %q is in %s.json but missing in %s.json", k, a, b)
				}
			}
		}
	}
}

func TestPlaceholdersMatchAcrossLanguages(t *testing.T) {
	for _, k := range Keys(Default) {
		want := placeholders(T(Default, k, nil))
		for _, lang := range Languages[1:] {
			if got := placeholders(T(lang, k, nil)); got != want {
				t.Errorf("%s: %s has placeholders %s, %s has %s", k, lang, got, Default, want)
			}
		}
	}
}

func placeholders(s string) string {
	p := placeholder.FindAllString(s, -1)
	sort.Strings(p)
	return strings.Join(p, ",")
}

func TestNoEmptyTexts(t *testing.T) {
	for _, lang := range Languages {
		for _, k := range Keys(lang) {
			if strings.TrimSpace(T(lang, k, nil)) == "" {
				t.Errorf("%s/%s is empty", lang, k)
			}
		}
	}
}

func TestFallbacks(t *testing.T) {
	if got, want := T("fr", "menu", nil), T("id", "menu", nil); got != want {
		t.Errorf("unknown language: got %q", got)
	}
	if got := T("en", "no_such_key", nil); got != "no_such_key" {
		t.Errorf("missing key: got %q", got)
	}
	if got := T("", "", nil); got != "" {
		t.Errorf("empty key: got %q", got)
	}
}

func TestArgsAreNotReexpanded(t *testing.T) {
	got := T("en", "sijejak_registered", map[string]string{"code": "{code}{ticket}"})
	if !strings.Contains(got, "*{code}{ticket}*") {
		t.Errorf("argument was re-expanded or lost: %q", got)
	}
	got = T("en", "ticket_created", map[string]string{"eta": "2 days"})
	if !strings.Contains(got, "{ticket}") || !strings.Contains(got, "2 days") {
		t.Errorf("unfilled placeholder must survive for the caller: %q", got)
	}
	if got := T("en", "eta_hours", map[string]string{"hours": "24"}); got != "24 hours" {
		t.Errorf("got %q", got)
	}
	// Unbalanced braces in a text must not lose characters.
	texts["en"]["_test"] = "a {b"
	defer delete(texts["en"], "_test")
	if got := T("en", "_test", map[string]string{"b": "x"}); got != "a {b" {
		t.Errorf("got %q", got)
	}
}

func TestEscape(t *testing.T) {
	for in, bad := range map[string]string{
		"*bold* _it_ ~s~ `m`":   "*_~`",
		"{ticket}":              "{}",
		"<script>":              "<>",
		"a\nb\r\nc\x00d\u202ee": "\n\r\x00\u202e",
	} {
		out := Escape(in)
		if strings.ContainsAny(out, bad) {
			t.Errorf("Escape(%q) = %q still contains one of %q", in, out, bad)
		}
	}
	if got := Escape("Budi Santoso"); got != "Budi Santoso" {
		t.Errorf("plain text changed: %q", got)
	}
}
