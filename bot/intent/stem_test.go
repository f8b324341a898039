package intent

import "testing"

func TestStem(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"sertifikatnya", "sertifikat"},
		{"sertifikat", "sertifikat"},
		{"diperbaiki", "baiki"},
		{"dikirimkan", "kirim"},
		{"mendownload", "download"},
		{"kesalahan", "salah"},
		{"bagaimanakah", "bagaimana"},
		{"data", "data"},     // too short to touch
		{"berapa", "berapa"}, // "ber" would leave three letters
		{"nik123", "nik123"},
	} {
		if got := Stem(c.in); got != c.want {
			t.Errorf("Stem(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestCollexNormalises checks that spellings only IndoCollex knows are
// rewritten, and that it never overrides a word the lexicon reads itself.
func TestCollexNormalises(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"sampe", "sampai"},
		{"karna", "karena"}, // the hand-written list decides
		{"log in", "log in"},
		{"min", "admin"},
	} {
		if got := Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if len(collex) < 2000 {
		t.Errorf("collex has %d entries, want the dictionary's ~2,400 word pairs", len(collex))
	}
}
