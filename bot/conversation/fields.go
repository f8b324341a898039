package conversation

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Field length caps: what is stored, not what is read.
const (
	MaxName        = 100
	MaxDescription = 4000
	maxOther       = 200
)

// provinceCodes are the two-digit province codes that begin a NIK
// (Kemendagri). 93–96 are the Papua provinces formed in 2022.
var provinceCodes = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true, "16": true, "17": true, "18": true, "19": true,
	"21": true, "31": true, "32": true, "33": true, "34": true, "35": true, "36": true,
	"51": true, "52": true, "53": true, "61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "72": true, "73": true, "74": true, "75": true, "76": true, "81": true, "82": true,
	"91": true, "92": true, "93": true, "94": true, "95": true, "96": true,
}

// CleanNIK strips the spaces, dots and dashes people type inside a NIK.
func CleanNIK(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-', '\u00a0', '\t':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// ValidNIK checks a NIK's structure: 16 digits "PP KK CC DDMMYY SSSS" with
// a real province code, non-zero regency and district, a calendar birth day
// (women add 40 to the day) and a serial of at least 0001. There is no check
// digit, so a valid NIK proves nothing about who typed it.
func ValidNIK(nik string) bool {
	if len(nik) != 16 {
		return false
	}
	for i := 0; i < 16; i++ {
		if nik[i] < '0' || nik[i] > '9' {
			return false
		}
	}
	if !provinceCodes[nik[0:2]] || nik[2:4] == "00" || nik[4:6] == "00" || nik[12:16] == "0000" {
		return false
	}
	day, _ := strconv.Atoi(nik[6:8])
	month, _ := strconv.Atoi(nik[8:10])
	if day > 40 {
		day -= 40
	}
	if month < 1 || month > 12 || day < 1 {
		return false
	}
	// Any year: 29 February needs a leap year, which a two-digit year allows.
	return day <= daysIn(month, 2000)
}

func daysIn(month, year int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// nikMatchesDOB reports whether the birth date inside a NIK agrees with dob.
func nikMatchesDOB(nik string, dob time.Time) bool {
	if !ValidNIK(nik) {
		return true // nothing to compare
	}
	day, _ := strconv.Atoi(nik[6:8])
	if day > 40 {
		day -= 40
	}
	month, _ := strconv.Atoi(nik[8:10])
	yy, _ := strconv.Atoi(nik[10:12])
	return day == dob.Day() && month == int(dob.Month()) && yy == dob.Year()%100
}

var monthNames = map[string]int{
	"januari": 1, "jan": 1, "january": 1, "februari": 2, "feb": 2, "pebruari": 2, "february": 2,
	"maret": 3, "mar": 3, "march": 3, "april": 4, "apr": 4, "mei": 5, "may": 5, "juni": 6, "jun": 6, "june": 6,
	"juli": 7, "jul": 7, "july": 7, "agustus": 8, "agu": 8, "agt": 8, "agus": 8, "aug": 8, "august": 8,
	"september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10, "oct": 10, "october": 10,
	"november": 11, "nov": 11, "nopember": 11, "desember": 12, "des": 12, "dec": 12, "december": 12,
}

// ParseDate reads a date of birth as people write it: 17-08-1985,
// 17/8/1985, 17.08.1985, 17081985, "17 Agustus 1985", "17 aug 1985". The
// date must exist and lie between 1900 and now.
func ParseDate(s string, now time.Time) (time.Time, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) > 40 {
		return time.Time{}, false
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '/' || r == '.' || r == ' ' || r == ',' })
	var d, m, y int
	var err error
	switch {
	case len(parts) == 1 && len(parts[0]) == 8 && allDigits(parts[0]):
		d, _ = strconv.Atoi(parts[0][0:2])
		m, _ = strconv.Atoi(parts[0][2:4])
		y, _ = strconv.Atoi(parts[0][4:8])
	case len(parts) == 3:
		if d, err = strconv.Atoi(parts[0]); err != nil {
			return time.Time{}, false
		}
		if m, err = strconv.Atoi(parts[1]); err != nil {
			var ok bool
			if m, ok = monthNames[parts[1]]; !ok {
				return time.Time{}, false
			}
		}
		if y, err = strconv.Atoi(parts[2]); err != nil || len(parts[2]) != 4 {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	if y < 1900 || m < 1 || m > 12 || d < 1 || d > daysIn(m, y) {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if !now.IsZero() && t.After(now) {
		return time.Time{}, false
	}
	return t, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// sameNumber recognises "the number I am writing from" in informal
// Indonesian or English: sama, nomor ini, no ini, pakai nomor ini, yg ini,
// same, this number.
func sameNumber(s string) bool {
	w := " " + strings.Join(strings.Fields(strings.ToLower(strings.Trim(s, " .!*"))), " ") + " "
	for _, p := range []string{" sama ", " nomor ini ", " no ini ", " nmr ini ", " yg ini ", " yang ini ", " ini aja ", " ini saja ", " nomor wa ini ", " same ", " this number ", " this one "} {
		if strings.Contains(w, p) {
			return true
		}
	}
	return false
}

// NormalizePhone turns an Indonesian mobile number in any common spelling
// (0812-3456-7890, +62 812 3456 7890, 6281234567890) into +62… form.
// Mobile numbers are 8[1-35-9] followed by 7 to 10 digits.
func NormalizePhone(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && b.Len() == 0, r == ' ', r == '-', r == '.', r == '(', r == ')', r == '\u00a0':
		default:
			return "", false
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(d, "62"):
		d = d[2:]
	case strings.HasPrefix(d, "0"):
		d = d[1:]
	}
	if len(d) < 9 || len(d) > 12 || d[0] != '8' || d[1] == '0' || d[1] == '4' {
		return "", false
	}
	return "+62" + d, true
}

// CleanName trims, collapses spaces and caps a name; ok is false when it is
// not plausibly a person's name (no letters, digits, or symbols).
func CleanName(s string) (string, bool) {
	s = strings.Join(strings.Fields(s), " ")
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case r == ' ', r == '.', r == '\'', r == '-', r == ',', r == '\u2019':
		default:
			return "", false
		}
	}
	if letters < 2 {
		return "", false
	}
	return truncate(s, MaxName), true
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// cleanText keeps newlines but removes NUL and other control characters
// from free text before it is stored.
func cleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	return truncate(strings.TrimSpace(s), n)
}
