package tracing

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTextsComplete(t *testing.T) {
	ph := regexp.MustCompile(`\{[a-z]+\}`)
	base := texts[Languages[0]]
	if len(base) == 0 {
		t.Fatal("no Indonesian texts")
	}
	for _, lang := range Languages {
		l, ok := texts[lang]
		if !ok {
			t.Fatalf("language %s missing", lang)
		}
		for key, s := range base {
			other, ok := l[key]
			if !ok || strings.TrimSpace(other) == "" {
				t.Errorf("%s: key %s missing", lang, key)
				continue
			}
			// Same placeholders in every language.
			a, b := ph.FindAllString(s, -1), ph.FindAllString(other, -1)
			if strings.Join(sorted(a), ",") != strings.Join(sorted(b), ",") {
				t.Errorf("%s/%s placeholders %v, id has %v", lang, key, b, a)
			}
		}
		for key := range l {
			if _, ok := base[key]; !ok {
				t.Errorf("%s: key %s not in id", lang, key)
			}
		}
	}
	if got := Text("fr", "otp", map[string]string{"code": "123456", "minutes": "5"}); !strings.Contains(got, "123456") || !strings.Contains(got, "Kode") {
		t.Errorf("fallback: %q", got)
	}
	d := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	if formatDate("id", d) != "2 Desember 2026" || formatDate("en", d) != "2 December 2026" {
		t.Error(formatDate("id", d), formatDate("en", d))
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestCitizenTextFilled(t *testing.T) {
	s := &Service{cfg: Config{}.withDefaults()}
	for _, lang := range append(Languages, "id-ID", "EN", "jv") {
		for key := range texts["id"] {
			got := s.CitizenText(lang, key)
			got = strings.NewReplacer("{code}", "", "{until}", "").Replace(got)
			if strings.ContainsAny(got, "{}") {
				t.Errorf("%s/%s: unfilled placeholder in %q", lang, key, got)
			}
		}
	}
	if !strings.Contains(s.CitizenText("en", "consent_request"), "14 days") || !strings.Contains(s.CitizenText("id", "consent_request"), "24 jam") {
		t.Error("numbers not filled")
	}
}

func TestNormalisePhone(t *testing.T) {
	for in, want := range map[string]string{
		"0811 10 500 567":   "+6281110500567",
		"+62 811-1050-0567": "+6281110500567",
		"6281110500567":     "+6281110500567",
		"+6281234567890":    "+6281234567890",
		"(0857) 1234.5678":  "+6285712345678",
	} {
		if got, err := NormalisePhone(in); err != nil || got != want {
			t.Errorf("NormalisePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0211234567", "+1 555 0100", "08123", "0812345678901234", "0812-abc-4567", "081234567890+"} {
		if got, err := NormalisePhone(in); err == nil {
			t.Errorf("NormalisePhone(%q) = %q, want an error", in, got)
		}
	}
}
