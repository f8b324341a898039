package web

import (
	"strings"
	"testing"
	"time"
)

func TestWAFormat(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"*Penting*: sertifikat _sudah_ terbit", "<strong>Penting</strong>: sertifikat <em>sudah</em> terbit"},
		{"baris satu\nbaris dua", "baris satu<br>baris dua"},
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"*<img src=x onerror=alert(1)>*", "<strong>&lt;img src=x onerror=alert(1)&gt;</strong>"},
		{"2*3*4 dan snake_case_name", "2*3*4 dan snake_case_name"},
		{"~batal~ jadi", "<s>batal</s> jadi"},
		{"*tidak\nditutup*", "*tidak<br>ditutup*"},
	} {
		if got := string(waFormat(tc.in)); got != tc.want {
			t.Errorf("waFormat(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaskPersonal(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"NIK saya 3174014501900001 ya", "NIK saya 3174********0001 ya"},
		{"HP 081234567890", "HP 0812****7890"},
		{"nomor +6281234500077.", "nomor +62812****0077."},
		{"tiket PL-2026-000123 dosis 2", "tiket PL-2026-000123 dosis 2"},
	} {
		if got := maskPersonal(tc.in); got != tc.want {
			t.Errorf("maskPersonal(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTicketFields(t *testing.T) {
	f := map[string]string{"nik": "3174014501900001", "dob": "1990-01-05", "lang": "id", "name": "Budi", "phone": "+6281234567890", "zz_new": "x"}
	for _, tc := range []struct {
		reveal bool
		want   string
	}{
		{false, "Nama lengkap=Budi|NIK=3174********0001|Tanggal lahir=5 Januari 1990|Nomor HP=+62812****7890|Bahasa=Bahasa Indonesia|zz_new=x"},
		{true, "Nama lengkap=Budi|NIK=3174014501900001|Tanggal lahir=5 Januari 1990|Nomor HP=+6281234567890|Bahasa=Bahasa Indonesia|zz_new=x"},
	} {
		var parts []string
		for _, r := range ticketFields(f, tc.reveal) {
			parts = append(parts, r.Label+"="+r.Value)
		}
		if got := strings.Join(parts, "|"); got != tc.want {
			t.Errorf("reveal=%v: %s\nwant %s", tc.reveal, got, tc.want)
		}
	}
}

func TestWhenIDAndSpan(t *testing.T) {
	at := time.Date(2026, 12, 3, 18, 14, 0, 0, time.UTC) // 01.14 the next day in Jakarta
	if got, want := whenID(at), "4 Desember 2026 01.14 WIB"; got != want {
		t.Errorf("whenID = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{5 * time.Minute, "5 menit"}, {200 * time.Minute, "3 jam 20 menit"}, {-50 * time.Hour, "2 hari 2 jam"}} {
		if got := span(tc.d); got != tc.want {
			t.Errorf("span(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// "take" goes back only to a page of this site.
func TestLocalBack(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/?view=mine", "/?view=mine"},
		{"", "/fallback"},
		{"//evil.example/x", "/fallback"},
		{`/\evil.example`, "/fallback"},
		{"https://evil.example/", "/fallback"},
		{"javascript:alert(1)", "/fallback"},
	} {
		if got := localBack(tc.in, "/fallback"); got != tc.want {
			t.Errorf("localBack(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
