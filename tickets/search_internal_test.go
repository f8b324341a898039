package tickets

import (
	"errors"
	"strings"
	"testing"
)

// A failed search must not carry the search text in its error message (it
// is logged); the cause stays reachable for errors.Is.
func TestSearchErrorWithholdsText(t *testing.T) {
	cause := errors.New(`malformed MATCH expression: ["Siti" "3174055505900001"]`)
	err := error(searchError{cause})
	if strings.Contains(err.Error(), "Siti") || strings.Contains(err.Error(), "3174") {
		t.Errorf("search text in %q", err)
	}
	if !errors.Is(err, cause) {
		t.Error("cause not reachable")
	}
}

func TestCheckQuery(t *testing.T) {
	for _, tc := range []struct {
		q  string
		ok bool
	}{
		{"sertifikat belum muncul", true},
		{"PL-2026-000123", true},
		{"nama\tlengkap", true},
		{"Siti\x00Rahayu", false},
		{"\x1b[31m", false},
		{"\xff", false},
		{strings.Repeat("a", MaxQueryBytes), true},
		{strings.Repeat("a", MaxQueryBytes+1), false},
	} {
		if err := checkQuery(tc.q); (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok=%v", tc.q, err, tc.ok)
		}
	}
}
