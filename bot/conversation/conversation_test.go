package conversation

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"lindungi/bot/catalog"
	"lindungi/bot/intent"
)

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/scripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	e := New(Config{})
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			r, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			s, err := ParseScript(filepath.Base(f), r)
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range e.RunScript(s) {
				t.Error(err)
			}
		})
	}
}

// Every flow in Flows must be reachable by at least one script.
func TestEveryFlowHasAScript(t *testing.T) {
	files, _ := filepath.Glob("testdata/scripts/*.txt")
	var all strings.Builder
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all.Write(b)
	}
	for cat := range Flows {
		if cat == "other" {
			continue // reached by hand-off without a flow
		}
		if !strings.Contains(all.String(), "create_ticket "+cat) {
			t.Errorf("no script creates a %s ticket", cat)
		}
	}
}

func TestCatalogueHasEveryKeyTheEngineUses(t *testing.T) {
	keys := []string{"greeting", "menu", "not_understood", "cancelled", "language_switched", "confirm",
		"confirm_invalid", "ticket_created", "eta_hours", "eta_days", "appended", "reopened", "handoff",
		"handoff_ended", "done_ask_rating", "done_no_ticket", "rating_thanks", "thanks_reply", "offer_ticket",
		"sijejak_registered", "sijejak_code_invalid", "sijejak_consent_request", "sijejak_consent_yes",
		"sijejak_consent_no", "export_confirm", "export_started", "delete_confirm", "delete_started",
		"dsr_confirm_invalid", "attachment_received", "value_attachment_yes", "value_attachment_no",
		"label_category", "label_data_field", "label_new_value", "label_attachment",
		"flood_notice", "email_ack", "email_retired_notice", "export_ready", "delete_done"}
	for cat, steps := range Flows {
		keys = append(keys, "flow_intro_"+cat, "category_"+cat)
		for _, s := range steps {
			if s == "new_value" {
				continue
			}
			keys = append(keys, "ask_"+s)
			if s != "attachment" {
				keys = append(keys, "ask_"+s+"_invalid")
				if s != "data_field" && s != "description" {
					keys = append(keys, "label_"+s)
				}
			}
		}
	}
	for _, df := range []string{"name", "dob", "phone"} {
		keys = append(keys, "ask_new_value_"+df, "data_field_"+df)
	}
	for _, it := range []string{intent.VaccinationStatus, intent.CertificateDownload, intent.LoginProblem, intent.Sijejak} {
		keys = append(keys, "help_"+it)
	}
	for _, lang := range catalog.Languages {
		for _, k := range keys {
			if !catalog.Has(lang, k) {
				t.Errorf("%s.json lacks %q", lang, k)
			}
		}
	}
}

func TestStepDoesNotModifyItsInput(t *testing.T) {
	e := New(Config{})
	fields := map[string]string{"name": "Budi"}
	st := State{Flow: "certificate_missing", Step: "nik", Fields: fields}
	e.Step(st, Input{Text: "3171011708850001", Now: time.Now()})
	if len(fields) != 1 {
		t.Errorf("caller's Fields map was modified: %v", fields)
	}
}

func TestStepIsDeterministic(t *testing.T) {
	e := New(Config{})
	in := Input{Text: "sertif blm keluar", Now: ScriptStart}
	st1, a1 := e.Step(State{}, in)
	st2, a2 := e.Step(State{}, in)
	if st1.Flow != st2.Flow || st1.Step != st2.Step || len(a1) != len(a2) || a1[0].Text != a2[0].Text {
		t.Error("the same input gave different outputs")
	}
}

func TestValidNIK(t *testing.T) {
	for nik, want := range map[string]bool{
		"3171011708850001":  true,  // Jakarta, man born 17-08-85
		"3171015708850001":  true,  // woman: day + 40
		"9471015708850001":  true,  // Papua Tengah (2022)
		"3171017108850001":  true,  // woman born 31st
		"3171017208850001":  false, // day 32 for a woman
		"3171013208850001":  false, // day 32
		"3171011713850001":  false, // month 13
		"3171011708850000":  false, // serial 0000
		"1071011708850001":  false, // province 10 does not exist
		"5471011708850001":  false, // 54 was East Timor
		"3100011708850001":  false, // regency 00
		"317101170885000":   false,
		"31710117088500011": false,
		"317101170885000a":  false,
		"3171013002850001":  false, // 30 February
		"3171012902840001":  true,  // 29 February
	} {
		if got := ValidNIK(nik); got != want {
			t.Errorf("ValidNIK(%s) = %v, want %v", nik, got, want)
		}
	}
}

func TestParseDate(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"17-08-1985":      "1985-08-17",
		"17/8/1985":       "1985-08-17",
		"17.08.1985":      "1985-08-17",
		"17081985":        "1985-08-17",
		"17 Agustus 1985": "1985-08-17",
		"17 aug 1985":     "1985-08-17",
		"29-02-2000":      "2000-02-29",
		"29-02-2001":      "",
		"01-01-1899":      "",
		"01-01-2030":      "",
		"17-08-85":        "",
		"kemarin":         "",
		"":                "",
	} {
		d, ok := ParseDate(in, now)
		got := ""
		if ok {
			got = d.Format("2006-01-02")
		}
		if got != want {
			t.Errorf("ParseDate(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"0811 10 500 567":   "+6281110500567",
		"+62 811-1050-0567": "+6281110500567",
		"6281110500567":     "+6281110500567",
		"(0812) 3456-7890":  "+6281234567890",
		"0804 1234 5678":    "",
		"021 123 4567":      "",
		"0812345":           "",
		"08123456789012345": "",
		"0812abc4567":       "",
	} {
		got, ok := NormalizePhone(in)
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("NormalizePhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFieldCaps(t *testing.T) {
	e := New(Config{})
	long := strings.Repeat("a", 150)
	st, _ := e.Step(State{Flow: "certificate_missing", Step: "name", Fields: map[string]string{}}, Input{Text: long, Now: ScriptStart})
	if n := len([]rune(st.Fields["name"])); n != MaxName {
		t.Errorf("name stored with %d runes, want %d", n, MaxName)
	}
	desc := strings.Repeat("sertifikat belum muncul ", 400)
	st, _ = e.Step(State{Flow: "sijejak", Step: "description", Fields: map[string]string{}}, Input{Text: desc, Now: ScriptStart})
	if n := len([]rune(st.Fields["description"])); n > MaxDescription {
		t.Errorf("description stored with %d runes", n)
	}
}

func TestCategorise(t *testing.T) {
	for text, want := range map[string]string{
		"Sertifikat vaksin saya belum muncul\nNama: Budi":    "certificate_missing",
		"Permohonan perubahan tanggal lahir":                 "change_data",
		"NIK saya digunakan orang lain":                      "nik_misuse",
		"Lowongan kerja":                                     "other",
		"Halo\nSertifikat saya belum muncul: tolong dibantu": "certificate_missing",
		"Pengaduan\nNama lengkap: Budi\nNIK: 3171011708850001\nTempat/tanggal lahir: Jakarta, 17-08-1985\nNo. HP terdaftar: 0812\nKeluhan: sertifikat dosis 2 belum muncul": "certificate_missing",
		"Re: Sertifikat vaksin\nNama: Ani\nNomor HP yang terdaftar: 0813\nKeluhan: nama di sertifikat salah":                                                                "change_data",
	} {
		if got := Categorise(text); got != want {
			t.Errorf("Categorise(%q) = %s, want %s", text, got, want)
		}
	}
	for _, c := range Categories {
		if c != "other" {
			if _, ok := Flows[c]; !ok {
				t.Errorf("category %s has no flow", c)
			}
		}
	}
}

// A long body is read as far as the matcher needs, not split whole: an
// 8 MB mail costs no more memory to categorise than its first lines.
func TestCategoriseLongBody(t *testing.T) {
	body := "Sertifikat vaksin saya belum muncul\n" + strings.Repeat("Terima kasih atas bantuannya.\n", 8<<20/30)
	if got := Categorise(body); got != "certificate_missing" {
		t.Fatalf("Categorise = %s, want certificate_missing", got)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	Categorise(body)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
		t.Errorf("categorising an %d MB body allocated %d KB", len(body)>>20, n>>10)
	}
}

func TestMenuTextMatchesMenuChoices(t *testing.T) {
	want := map[string]string{ // a word each menu line must contain, per language
		"1": "1. ", "2": "2. ", "3": "3. ", "4": "4. ", "5": "5. ", "6": "6. ", "7": "7. ", "8": "8. ", "9": "9. ",
	}
	words := map[string][2]string{
		intent.CertificateMissing:  {"Sertifikat vaksin belum muncul", "certificate not showing"},
		intent.ChangeData:          {"Ubah data", "Change data"},
		intent.NIKMisuse:           {"NIK dipakai orang lain", "NIK is used by someone else"},
		intent.TalkToOperator:      {"petugas", "operator"},
		intent.VaccinationStatus:   {"Status vaksinasi", "Vaccination status"},
		intent.CertificateDownload: {"Unduh sertifikat", "Download the vaccine certificate"},
		intent.LoginProblem:        {"OTP", "OTP"},
		intent.Sijejak:             {"Sijejak", "Sijejak"},
		intent.MyData:              {"Data pribadi saya", "My personal data"},
	}
	for i, lang := range []string{"id", "en"} {
		menu := catalog.T(lang, "menu", nil)
		for n, prefix := range want {
			it := intent.MenuChoices[n]
			line := ""
			for _, l := range strings.Split(menu, "\n") {
				if strings.HasPrefix(l, prefix) {
					line = l
				}
			}
			if !strings.Contains(line, words[it][i]) {
				t.Errorf("%s menu line %s is %q; intent.MenuChoices says %s", lang, n, line, it)
			}
		}
	}
}

func BenchmarkStep(b *testing.B) {
	e := New(Config{})
	msgs := []string{"halo", "1", "Budi Santoso", "3171011708850001", "17-08-1985", "0812 3456 7890",
		"sertifikat dosis 2 belum muncul", "lewati", "ya"}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		st := State{}
		for _, m := range msgs {
			st, _ = e.Step(st, Input{Text: m, Now: ScriptStart})
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "turns/s/core")
}

// "Same as this number" answers the phone question with the sender's own
// WhatsApp number; where the sender is not a phone (e-mail) it is asked
// again, and a real number always wins.
func TestPhoneSameAsSender(t *testing.T) {
	e := New(Config{})
	for _, c := range []struct {
		text, from, want string
	}{
		{"sama", "+6281299990002", "+6281299990002"},
		{"Sama kak", "+6281299990002", "+6281299990002"},
		{"pakai nomor ini aja", "6281299990002", "+6281299990002"},
		{"yg ini", "+6281299990002", "+6281299990002"},
		{"same", "+6281299990002", "+6281299990002"},
		{"0813 1111 2222", "+6281299990002", "+6281311112222"},
		{"sama", "warga@example.id", ""},
		{"samarinda", "+6281299990002", ""},
	} {
		st := State{Flow: "certificate_missing", Step: "phone", Fields: map[string]string{"name": "Budi"}}
		next, _ := e.Step(st, Input{Text: c.text, From: c.from, Now: ScriptStart, Channel: "whatsapp"})
		if got := next.Fields["phone"]; got != c.want {
			t.Errorf("%q from %s: phone %q, want %q", c.text, c.from, got, c.want)
		}
	}
}
