package web

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/coded"
)

// Every phrase the templates and handlers put through tr/trIn has its
// English, every label has an English column and every console error an
// English text: a user who chose English never meets a stray Indonesian
// sentence the table forgot.
func TestEnglishCoversTemplates(t *testing.T) {
	// A page's title goes through tr in the layout's head template.
	trCall := regexp.MustCompile(`\{\{(?:tr|template "head") ("(?:[^"\\]|\\.)*")`)
	files, _ := filepath.Glob("templates/*.html")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range trCall.FindAllStringSubmatch(string(b), -1) {
			phrase, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatalf("%s: %s: %v", f, m[1], err)
			}
			n++
			if _, ok := english[phrase]; !ok && phrase != "WhatsApp" && !bilingualPages[filepath.Base(f)] {
				t.Errorf("%s: no English for %q", f, phrase)
			}
		}
	}
	goCall := regexp.MustCompile(`trIn\(lang, ("(?:[^"\\]|\\.)*")\)|fail\([^,]+, ("(?:[^"\\]|\\.)*")\)|forbidden = ("(?:[^"\\]|\\.)*")`)
	srcs, _ := filepath.Glob("*.go")
	for _, f := range srcs {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, _ := os.ReadFile(f)
		for _, m := range goCall.FindAllStringSubmatch(string(b), -1) {
			lit := m[1] + m[2] + m[3]
			phrase, _ := strconv.Unquote(lit)
			n++
			if _, ok := english[phrase]; !ok {
				t.Errorf("%s: no English for %q", f, phrase)
			}
		}
	}
	for _, l := range viewLabels {
		if _, ok := english[l]; !ok {
			t.Errorf("inbox tab %q has no English", l)
		}
	}
	for _, l := range fieldLabels {
		if _, ok := english[l.Label]; !ok && l.Label != "NIK" {
			t.Errorf("ticket field %q has no English", l.Label)
		}
	}
	for k, v := range fieldValues {
		if _, ok := english[v]; !ok && v != "WhatsApp" && v != "NIK" {
			t.Errorf("ticket field value %s (%q) has no English", k, v)
		}
	}
	for _, l := range sortLabels {
		if _, ok := english[l]; !ok {
			t.Errorf("inbox order %q has no English", l)
		}
	}
	if n < 150 {
		t.Fatalf("found only %d phrases: the scan has gone blind", n)
	}
}

func TestEnglishLabels(t *testing.T) {
	for k, l := range labels {
		if l.id == "" || l.en == "" {
			t.Errorf("label %q: %+v, want both languages", k, l)
		}
	}
	for k, n := range userNotices {
		if n.id == "" || n.en == "" {
			t.Errorf("users page notice %q: %+v, want both languages", k, n)
		}
	}
	for k, m := range consoleErrors {
		if m.en == "" || (m.id == "" && k != "page_not_found") {
			t.Errorf("console error %q: %+v, want both languages", k, m)
		}
	}
}

func TestConsoleLanguageFormats(t *testing.T) {
	at := time.Date(2026, 12, 4, 7, 5, 0, 0, time.UTC) // 14.05 WIB
	for _, tc := range []struct {
		lang, when, span, label, err string
	}{
		{"id", "4 Desember 2026 14.05 WIB", "1 hari 2 jam", "Terbuka", "Tiket tidak ditemukan. Periksa nomornya (contoh: PL-2026-000123)."},
		{"en", "4 December 2026 14.05 WIB", "1 day 2 h", "Open", "Ticket not found. Check its number (e.g. PL-2026-000123)."},
		{"fr", "4 Desember 2026 14.05 WIB", "1 hari 2 jam", "Terbuka", "Tiket tidak ditemukan. Periksa nomornya (contoh: PL-2026-000123)."},
	} {
		lang := langOf(accounts.User{Lang: tc.lang})
		if got := whenIn(lang, at); got != tc.when {
			t.Errorf("%s: when %q, want %q", tc.lang, got, tc.when)
		}
		if got := spanIn(lang, 26*time.Hour); got != tc.span {
			t.Errorf("%s: span %q, want %q", tc.lang, got, tc.span)
		}
		if got := labelIn(lang, "open"); got != tc.label {
			t.Errorf("%s: label %q, want %q", tc.lang, got, tc.label)
		}
		if got := consoleMessageIn(lang, coded.New(coded.NotFound, "ticket_not_found", "no such ticket")); got != tc.err {
			t.Errorf("%s: error %q, want %q", tc.lang, got, tc.err)
		}
	}
	// An unknown key shows as it is, in both languages (never hidden).
	if labelIn(langEN, "new_key") != "new_key" || labelIn("id", "new_key") != "new_key" {
		t.Error("an unlabelled key is not shown as it is")
	}
}

func TestOfficerPhone(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0811 10 500 567", "+6281110500567"},
		{"+62 811-1050-0567", "+6281110500567"},
		{"6281110500567", "+6281110500567"},
		{"0812 3456 7890", "+6281234567890"},
		{"021 500 567", ""},     // a Jakarta landline: no WhatsApp, no Sijejak
		{"12345", ""},           // too short
		{"+1 415 555 0100", ""}, // not Indonesian
		{"08x2 3456 7890", ""},
		{"", ""},
	} {
		got, err := officerPhone(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: accepted as %s", tc.in, got)
			} else if ce, ok := coded.As(err); !ok || ce.Code != "bad_phone" {
				t.Errorf("%q: %v, want bad_phone", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q %v, want %s", tc.in, got, err, tc.want)
		}
	}
}

// indonesianWords are common Indonesian words that hardly occur in the
// console's English: one of them in a template's text outside a tr call
// is a phrase an English user would read in Indonesian.
var indonesianWords = map[string]bool{
	"yang": true, "dan": true, "tidak": true, "untuk": true, "belum": true,
	"sudah": true, "akan": true, "dengan": true, "ini": true, "itu": true,
	"dari": true, "atau": true, "ada": true, "di": true, "ke": true,
	"pada": true, "bila": true, "baru": true, "sedang": true, "hanya": true,
	"kembali": true, "sekarang": true, "kode": true, "nomor": true,
	"halaman": true, "pengguna": true, "tugas": true, "kata": true,
	"sandi": true, "peran": true, "dibuat": true, "tautkan": true,
	"pernah": true, "ditampilkan": true, "berjalan": true, "jadwal": true,
}

// untranslatedAllowed are texts that stay as they are in both languages:
// the language switch names the other language in that language.
var untranslatedAllowed = map[string]bool{
	"Bahasa Indonesia": true,
	"Bahasa":           true,
}

// bilingualPages print both languages side by side and take no tr: the
// public certificate check has no signed-in user to choose one.
var bilingualPages = map[string]bool{
	"verify.html": true,
}

// TestTemplatesHaveNoBareIndonesian fails when a template shows Indonesian
// text (a text node, or an alt, title, placeholder or aria-label) outside
// {{tr "…"}}: TestEnglishCoversTemplates only sees what tr already wraps.
func TestTemplatesHaveNoBareIndonesian(t *testing.T) {
	var (
		style   = regexp.MustCompile(`(?s)<style>.*?</style>`)
		action  = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
		visible = regexp.MustCompile(`\b(?:alt|title|placeholder|aria-label)="([^"]*)"`)
		tag     = regexp.MustCompile(`(?s)<[^>]*>`)
		word    = regexp.MustCompile(`[\p{L}]+`)
	)
	files, _ := filepath.Glob("templates/*.html")
	if len(files) < 10 {
		t.Fatalf("found only %d templates", len(files))
	}
	for _, f := range files {
		if bilingualPages[filepath.Base(f)] {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := action.ReplaceAllString(style.ReplaceAllString(string(b), ""), "\x00")
		var texts []string
		for _, m := range visible.FindAllStringSubmatch(src, -1) {
			texts = append(texts, m[1])
		}
		texts = append(texts, strings.Split(tag.ReplaceAllString(src, "\x00"), "\x00")...)
		for _, text := range texts {
			text = strings.TrimSpace(text)
			if text == "" || untranslatedAllowed[text] {
				continue
			}
			for _, w := range word.FindAllString(text, -1) {
				if indonesianWords[strings.ToLower(w)] {
					t.Errorf("%s: Indonesian outside tr: %q", f, text)
					break
				}
			}
		}
	}
}
