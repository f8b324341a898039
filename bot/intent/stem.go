package intent

import "strings"

// Stem strips Indonesian affixes from a normalised word so that the forms
// citizens write of one root share a feature: "sertifikatnya",
// "mendownload", "diperbaiki", "kesalahan", "dikirimkan". It is a light
// stemmer on purpose: it only removes letters (so the stem is a substring
// of w and costs no allocation) and never leaves fewer than four letters,
// so short roots and English words pass through. The nasal prefix is cut
// without restoring the root's first letter ("menulis" → "ulis"): the
// classifier needs a stable key, not a dictionary word.
func Stem(w string) string {
	if len(w) < 6 || !isLetters(w) {
		return w
	}
	const minStem = 4
	cut := func(s, affix string, suffix bool) (string, bool) {
		if len(s)-len(affix) < minStem {
			return s, false
		}
		if suffix && strings.HasSuffix(s, affix) {
			return s[:len(s)-len(affix)], true
		}
		if !suffix && strings.HasPrefix(s, affix) {
			return s[len(affix):], true
		}
		return s, false
	}
	// Particles, then possessives, then one derivational suffix.
	for _, suf := range [...]string{"lah", "kah", "tah", "pun"} {
		if s, ok := cut(w, suf, true); ok {
			w = s
			break
		}
	}
	for _, suf := range [...]string{"nya", "ku", "mu"} {
		if s, ok := cut(w, suf, true); ok {
			w = s
			break
		}
	}
	for _, suf := range [...]string{"kan", "an", "in"} {
		if s, ok := cut(w, suf, true); ok {
			w = s
			break
		}
	}
	// At most two prefixes ("diper-", "memper-", "keber-").
	for range 2 {
		stripped := false
		for _, pre := range [...]string{"meng", "meny", "mem", "men", "me", "peng", "peny", "pem", "pen", "per", "pe", "ber", "ter", "di", "ke"} {
			if s, ok := cut(w, pre, false); ok {
				w, stripped = s, true
				break
			}
		}
		if !stripped {
			break
		}
	}
	return w
}
