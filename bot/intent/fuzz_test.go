package intent

import (
	"bufio"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
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

// BenchmarkMatch reports utterances matched per second on one core and,
// measured in the same run on the same texts, the ceiling that no matcher
// can pass: normalising the text into words, which every path starts with
// (norm-ceiling/s). ratio is the first over the second; rules-only/s is the
// hand-written rules without the classifier, for comparison.
//
//	go test -run '^$' -bench BenchmarkMatch -benchtime 3s ./bot/intent/
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
	bare := newBareMatcher()
	rate := func(n int, f func(string)) float64 {
		start := time.Now()
		for i := range n {
			f(texts[i%len(texts)])
		}
		return float64(n) / time.Since(start).Seconds()
	}
	var stack [24]string
	// Each probe runs for a few hundred milliseconds, so a scheduler
	// hiccup on a shared machine does not decide the ratio.
	ceiling := rate(1_000_000, func(s string) { words(s, stack[:0]) })
	rules := rate(100_000, func(s string) { bare.Match(s) })
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		m.Match(texts[i%len(texts)])
		i++
	}
	// Single goroutine, so this is per core.
	got := float64(i) / b.Elapsed().Seconds()
	b.ReportMetric(got, "utterances/s/core")
	b.ReportMetric(ceiling, "norm-ceiling/s")
	b.ReportMetric(got/ceiling, "ratio")
	b.ReportMetric(rules, "rules-only/s")
	b.ReportMetric(got/rules, "rules-ratio")
}

// TestModelSize reports what the classifier costs: its bytes on disk (the
// embedded training set and dictionary it is built from at start-up), in
// memory (weights and feature index, and the heap it holds, measured), and
// the time to train it. It fails only if the model outgrows 16 MB.
func TestModelSize(t *testing.T) {
	disk := len(collexTSV)
	files, err := trainFS.ReadDir("train")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		info, err := f.Info()
		if err != nil {
			t.Fatal(err)
		}
		disk += int(info.Size())
	}
	ex, err := TrainingSet()
	if err != nil {
		t.Fatal(err)
	}
	aug := augment(ex)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	md := train(aug, newBareMatcher())
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("model: %d classes, %d features; on disk (training text + IndoCollex) %d KB; in memory %d KB by count, %d KB heap held; trained in %v",
		len(md.classes), len(md.rows), disk>>10, md.SizeBytes()>>10, held>>10, took.Round(time.Millisecond))
	runtime.KeepAlive(md)
	if md.SizeBytes() > 16<<20 {
		t.Errorf("model is %d MB", md.SizeBytes()>>20)
	}
}
