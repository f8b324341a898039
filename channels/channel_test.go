package channels

import (
	"strings"
	"testing"
)

func TestSafeFileName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ktp.jpg", "ktp.jpg"},
		{"../../etc/passwd", ".._.._etc_passwd"},
		{`C:\Users\budi\sertifikat.pdf`, "C:_Users_budi_sertifikat.pdf"},
		{"a\x00b\nc", "a_b_c"},
		{strings.Repeat("é", 150), strings.Repeat("é", 100)}, // 300 bytes cut to 200, whole runes
	} {
		if got := SafeFileName(tc.in); got != tc.want {
			t.Errorf("SafeFileName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
