package intent

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile inputs every entry point must survive.
var hostile = []string{
	"",
	strings.Repeat("a", 10<<10),
	strings.Repeat("sertifikat ", 1000),
	strings.Repeat("😂", 3000),
	"🙏🙏🙏",
	"مرحبا، شهادتي لم تظهر",   // Arabic, RTL
	"\u202eblm keluar sertif", // right-to-left override
	"sertif\x00blm\x00keluar",
	"\xff\xfe\xfd invalid utf8 \xc3",
	strings.Repeat("2", 5000),
	strings.Repeat("data2", 2000),
	"tolong" + strings.Repeat("g", 5000),
	"SIJEJAK " + strings.Repeat("A", 5000),
	"sijejak \x00\x00\x00",
	"ｓｅｒｔｉｆｉｋａｔ",
	strings.Repeat("\u0301", 2000), // combining marks only
}

func FuzzMatch(f *testing.F) {
	for _, s := range hostile {
		// Long seeds add no coverage past MaxInput and make the fuzzer's
		// minimisation crawl; TestHostileInputs covers them at full size.
		if len(s) > 2048 {
			s = s[:2048]
		}
		f.Add(s)
	}
	if fh, err := os.Open("testdata/utterances.jsonl"); err == nil {
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var ex Example
			if json.Unmarshal(sc.Bytes(), &ex) == nil {
				f.Add(ex.Text)
			}
		}
		fh.Close()
	}
	m := NewMatcher()
	valid := map[string]bool{}
	for _, n := range Names {
		valid[n] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := m.Match(s)
		if !valid[r.Intent] {
			t.Fatalf("Match(%q) returned unknown intent name %q", s, r.Intent)
		}
		if n := Normalize(s); !utf8.ValidString(n) || len(n) > 4*MaxInput {
			t.Fatalf("Normalize(%q) = %q", s, n)
		}
		Yes(s)
		No(s)
		Cancel(s)
		Skip(s)
		Consent(s, true)
		LooksEnglish(s)
		if code, _, ok := SijejakCode(s); ok && (len(code) < 6 || len(code) > 8) {
			t.Fatalf("SijejakCode(%q) accepted %q", s, code)
		}
	})
}

func TestHostileInputs(t *testing.T) {
	m := NewMatcher()
	for _, s := range hostile {
		r := m.Match(s)
		if r.Intent == "" {
			t.Errorf("empty intent for %.40q", s)
		}
	}
	if r := m.Match("🙏🙏🙏"); r.Intent != Unknown {
		t.Errorf("only emoji: got %s", r.Intent)
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"tolonggg":             "tolong",
		"data2":                "data-data",
		"muncul2":              "muncul-muncul",
		"vaksin ke2":           "vaksin ke 2",
		"Gmn cara ubah data??": "bagaimana cara ubah data",
		"sy blm dpt sertif":    "saya belum dapat sertifikat",
		"udh tp ga keluar":     "sudah tapi tidak keluar",
		"utk dgn krn":          "untuk dengan karena",
		"no hp":                "nomor hp",
		"nmr hp sy":            "nomor hp saya",
		"maaaaf":               "maaf",
		"NGGAAAK bisa":         "tidak bisa",
		"assalamu'alaikum":     "assalamualaikum",
		"Halo 👋 min!!!":        "halo admin",
		"sertifkat\x00vaksim":  "sertifikat vaksin",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSijejakCode(t *testing.T) {
	for in, want := range map[string][3]string{
		"SIJEJAK AB12CD":       {"AB12CD", "cmd", "ok"},
		"sijejak ab12cd":       {"AB12CD", "cmd", "ok"},
		"SIJEJAK QWERTY":       {"QWERTY", "cmd", "ok"},
		"SIJEJAK 12":           {"", "cmd", ""},
		"SIJEJAK 123456789":    {"", "cmd", ""},
		"sijejak itu apa":      {"", "", ""},
		"sijejak kenapa":       {"", "", ""},
		"kenapa dapat sijejak": {"", "", ""},
	} {
		code, cmd, ok := SijejakCode(in)
		got := [3]string{code, map[bool]string{true: "cmd"}[cmd], map[bool]string{true: "ok"}[ok]}
		if got != want {
			t.Errorf("SijejakCode(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestClosedAnswers(t *testing.T) {
	for _, s := range []string{"ya", "YA", "Yes", "iya", "ok", "ya benar", "Ya."} {
		if !Yes(s) {
			t.Errorf("Yes(%q) = false", s)
		}
	}
	for _, s := range []string{"ya saya mau tanya soal sertifikat yang belum muncul", "yang", "tidak"} {
		if Yes(s) {
			t.Errorf("Yes(%q) = true", s)
		}
	}
	if agree, ok := Consent("SETUJU", true); !ok || !agree {
		t.Error("SETUJU is strict consent")
	}
	if _, ok := Consent("ya", true); ok {
		t.Error("ya is not strict consent")
	}
	if agree, ok := Consent("no", false); !ok || agree {
		t.Error("no is a refusal")
	}
	for _, s := range []string{"batal", "Cancel", "ga jadi"} {
		if !Cancel(s) {
			t.Errorf("Cancel(%q) = false", s)
		}
	}
}

func TestEvaluateRejectsBadInput(t *testing.T) {
	if _, err := Evaluate(strings.NewReader(`{"text":"halo","intent":"hello"}`), NewMatcher()); err == nil {
		t.Error("unknown intent name accepted")
	}
	if _, err := Evaluate(strings.NewReader("not json\n"), NewMatcher()); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("malformed line: %v", err)
	}
	rep, err := Evaluate(strings.NewReader("# comment\n\n{\"text\":\"1\",\"intent\":\"certificate_missing\"}\n"), NewMatcher())
	if err != nil || rep.Total != 1 || rep.Accuracy != 1 {
		t.Errorf("got %+v, %v", rep, err)
	}
}

func BenchmarkMatch(b *testing.B) {
	var texts []string
	fh, err := os.Open("testdata/utterances.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var ex Example
		if json.Unmarshal(sc.Bytes(), &ex) == nil {
			texts = append(texts, ex.Text)
		}
	}
	fh.Close()
	m := NewMatcher()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		m.Match(texts[i%len(texts)])
		i++
	}
	// Single goroutine, so this is per core.
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "utterances/s/core")
}
