package conversation

import (
	"reflect"
	"testing"
	"time"
)

func TestExtractSlots(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		text string
		want Slots
	}{
		{"sertifikat dosis 2 sy blm muncul, nama Budi Santoso NIK 3174011203850001 lahir 12-03-1985",
			Slots{Name: "Budi Santoso", NIK: "3174011203850001", DOB: "1985-03-12", Dose: "2"}},
		{"nama lengkap: Siti Aminah, tgl lahir 12/3/85, no hp 0812-3456-7890",
			Slots{Name: "Siti Aminah", DOB: "1985-03-12", Phone: "+6281234567890"}},
		{"lahir 12 Maret 1985, vaksin ke-3 tgl 5 januari 2022 di Puskesmas Tebet",
			Slots{DOB: "1985-03-12", Dose: "3", VaxDate: "2022-01-05", VaxPlace: "Puskesmas Tebet"}},
		{"booster saya belum muncul, email budi.s@example.co.id",
			Slots{Dose: "3", Email: "budi.s@example.co.id"}},
		{"My name is John Smith, born 17 aug 1990, second dose not showing, phone +62 813 1111 2222",
			Slots{Name: "John Smith", DOB: "1990-08-17", Dose: "2", Phone: "+6281311112222"}},
		{"NIK 3174 0112 0385 0001 dipakai orang lain", Slots{NIK: "3174011203850001"}},
		// Not a name, not a NIK (bad province), not a date.
		{"nama saya salah di sertifikat, nik 9974011203850001, 31-02-1985", Slots{}},
		// A date matching the NIK's is the birth date even without a label.
		{"3174015708900002 17-08-1990", Slots{NIK: "3174015708900002", DOB: "1990-08-17"}},
		{"vaksin booster kedua belum tercatat", Slots{Dose: "4"}},
		{"namanya salah di sertifikat", Slots{}},
		{"nama lengkap saya adalah Rudi Hartono, tgl lahir 1 Jan 1970", Slots{Name: "Rudi Hartono", DOB: "1970-01-01"}},
		{"Nama: Ni Luh Putu Ayu", Slots{Name: "Ni Luh Putu Ayu"}},
		{"namaku Andi", Slots{Name: "Andi"}},
	} {
		got := ExtractSlots(c.text, now)
		got.spans = nil
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ExtractSlots(%q)\n got %+v\nwant %+v", c.text, got, c.want)
		}
	}
}

func TestWithoutSpans(t *testing.T) {
	text := "nama Budi NIK 3174011203850001 hp 081234567890 ok"
	s := ExtractSlots(text, time.Time{})
	if got, want := s.withoutSpans(text), "nama Budi NIK … hp … ok"; got != want {
		t.Errorf("withoutSpans = %q, want %q", got, want)
	}
}

// TestAnswersStayAnswers: inside a flow an answer is taken as the answer;
// the classifier's reading of a name or a description (which it was not
// trained on) does not send the citizen to the menu or an operator.
func TestAnswersStayAnswers(t *testing.T) {
	e := New(Config{})
	for _, c := range []struct{ step, text string }{
		{"name", "Rahmat Hidayat"},
		{"name", "Orang Tua Sejati"},
		{"name", "Siti Aminah"},
		{"description", "vaksin di gerai polres tanggal 3, sertifikat tidak ada, mohon dibantu petugas"},
		{"description", "sudah dua kali datang ke puskesmas tapi disuruh menunggu saja"},
	} {
		st := State{Flow: "certificate_missing", Step: c.step, Fields: map[string]string{}}
		next, acts := e.Step(st, Input{Text: c.text, Now: ScriptStart, Channel: "whatsapp"})
		if next.Flow != "certificate_missing" || next.Step == c.step {
			t.Errorf("%s %q: flow %q step %q, want the next step of certificate_missing", c.step, c.text, next.Flow, next.Step)
		}
		for _, a := range acts {
			if a.Kind == KindHandoff {
				t.Errorf("%s %q handed off", c.step, c.text)
			}
		}
	}
}
