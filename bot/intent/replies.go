package intent

import "strings"

// The helpers below recognise short, closed-form answers: yes/no to a
// confirmation, consent to a Sijejak upload, cancel, skip, and the message
// the app asks a citizen to send ("SIJEJAK <code>"). They look at the whole
// message, not at keywords, so a long sentence that merely contains "ya" is
// not a "yes".

func only(text string, set map[string]bool) bool {
	if len(text) > 100 {
		return false
	}
	var stack [8]string
	ws := words(text, stack[:0])
	if len(ws) == 0 || len(ws) > 4 {
		return false
	}
	return set[strings.Join(ws, " ")]
}

var yes = map[string]bool{
	"ya": true, "yes": true, "y": true, "iya": true, "iy": true, "ok": true, "oke": true, "okay": true, "okey": true,
	"setuju": true, "benar": true, "betul": true, "lanjut": true, "lanjutkan": true, "yup": true, "yep": true,
	"sure": true, "siap": true, "boleh": true, "ya benar": true, "ya betul": true, "iya benar": true, "yes please": true,
	"ya setuju": true, "ok setuju": true, "ya lanjut": true, "kirim": true, "send": true, "ya kirim": true, "confirm": true,
	"correct": true, "yes correct": true, "sudah benar": true,
}

var no = map[string]bool{
	"tidak": true, "no": true, "n": true, "nope": true, "jangan": true, "tidak jadi": true, "tidak mau": true,
	"no thanks": true, "tolak": true, "menolak": true, "tidak setuju": true, "salah": true,
}

var cancel = map[string]bool{
	"batal": true, "batalkan": true, "cancel": true, "tidak jadi": true, "stop": true, "berhenti": true, "quit": true,
	"exit": true, "keluar": true, "batal saja": true, "cancel please": true,
}

var skip = map[string]bool{
	"lewati": true, "lewat": true, "skip": true, "tidak ada": true, "no": true, "tidak": true, "none": true,
	"nggak ada": true, "belum ada": true, "tidak punya": true, "no photo": true, "tanpa foto": true, "-": true, "n": true,
}

var consentYes = map[string]bool{
	"setuju": true, "saya setuju": true, "ya setuju": true, "ok setuju": true, "yes": true, "ya": true, "iya": true,
	"agree": true, "i agree": true, "y": true, "yes i agree": true, "consent": true,
}

var consentNo = map[string]bool{
	"tolak": true, "menolak": true, "saya menolak": true, "tidak setuju": true, "no": true, "tidak": true,
	"decline": true, "refuse": true, "i refuse": true, "i decline": true, "n": true, "disagree": true,
}

// Yes reports whether text is a confirmation ("ya", "YES", "iya benar").
func Yes(text string) bool { return only(text, yes) }

// No reports whether text is a refusal ("tidak", "no", "ga jadi").
func No(text string) bool { return only(text, no) }

// Cancel reports whether text asks to leave the current flow.
func Cancel(text string) bool { return only(text, cancel) }

// Skip reports whether text declines an optional step (a photo).
func Skip(text string) bool { return only(text, skip) }

// Consent reads an answer to a Sijejak consent request. strict limits it to
// the unambiguous words SETUJU/TOLAK/AGREE/DECLINE (used while another
// question is open, where "ya" would answer that one instead).
func Consent(text string, strict bool) (agree, ok bool) {
	if only(text, consentYes) {
		return true, !strict || strictConsent(text)
	}
	if only(text, consentNo) {
		return false, !strict || strictConsent(text)
	}
	return false, false
}

func strictConsent(text string) bool {
	n := Normalize(text)
	return strings.Contains(n, "setuju") || strings.Contains(n, "tolak") || strings.Contains(n, "agree") ||
		strings.Contains(n, "decline") || strings.Contains(n, "refuse")
}

// SijejakCode reads "SIJEJAK <code>", the message the app asks a citizen to
// send to prove the phone number is theirs. isCommand is true when text
// starts with SIJEJAK followed by something code-like; ok only when the code
// is 6 to 8 letters or digits. The code is returned upper-cased. A question
// such as "sijejak itu apa" is not a command.
func SijejakCode(text string) (code string, isCommand, ok bool) {
	f := strings.Fields(text)
	if len(f) != 2 || !strings.EqualFold(strings.Trim(f[0], "*_~`:.,"), "sijejak") {
		return "", false, false
	}
	c := strings.Trim(f[1], "*_~`:.,")
	digits, alnum := 0, true
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case b >= '0' && b <= '9':
			digits++
		case b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z':
		default:
			alnum = false
		}
	}
	lower := strings.ToLower(c)
	_, word := lexicon[lower]
	if !alnum || c == "" || (digits == 0 && (word || known(lower) || c == lower)) {
		// "sijejak apa", "sijejak kenapa": a question, not a code. Codes
		// with no digit are accepted only as written by the app (capitals).
		return "", false, false
	}
	if len(c) < 6 || len(c) > 8 {
		return "", true, false
	}
	return strings.ToUpper(c), true, true
}

var englishWords = map[string]bool{
	"the": true, "my": true, "i": true, "is": true, "not": true, "how": true, "to": true, "can": true, "please": true,
	"what": true, "do": true, "you": true, "with": true, "certificate": true, "vaccine": true, "hello": true,
	"thanks": true, "thank": true, "want": true, "have": true, "get": true, "of": true, "it": true, "in": true,
	"on": true, "for": true, "a": true, "delete": true, "change": true, "name": true, "number": true, "phone": true,
	"yes": true, "english": true, "help": true, "why": true, "someone": true, "else": true, "me": true, "am": true,
	"was": true, "and": true, "does": true, "where": true, "wrong": true, "date": true, "birth": true, "your": true,
	"dear": true, "sir": true, "madam": true, "regards": true, "received": true, "cant": true, "dont": true, "this": true,
}

var indonesianWords = map[string]bool{
	"saya": true, "tidak": true, "belum": true, "sudah": true, "yang": true, "di": true, "ke": true, "mau": true,
	"bisa": true, "bagaimana": true, "tolong": true, "nama": true, "sertifikat": true, "vaksin": true, "dengan": true,
	"untuk": true, "ada": true, "apa": true, "kenapa": true, "terima": true, "kasih": true, "halo": true, "selamat": true,
	"nomor": true, "hapus": true, "ubah": true, "ganti": true, "mohon": true, "dan": true, "ini": true, "itu": true,
	"kok": true, "ya": true, "aja": true, "dong": true, "nya": true, "tanggal": true, "lahir": true, "data": true,
	"pagi": true, "siang": true, "malam": true, "admin": true, "tapi": true, "karena": true, "dari": true, "pak": true,
}

// LooksEnglish reports whether text is more likely English than Indonesian.
// It needs at least two English words, so a lone "ok" or "hello" decides
// nothing.
func LooksEnglish(text string) bool {
	var stack [24]string
	en, id := 0, 0
	for _, w := range words(text, stack[:0]) {
		if englishWords[w] {
			en++
		}
		if indonesianWords[w] {
			id++
		}
	}
	return en >= 2 && en > id
}

// LooksIndonesian is the converse of LooksEnglish.
func LooksIndonesian(text string) bool {
	var stack [24]string
	en, id := 0, 0
	for _, w := range words(text, stack[:0]) {
		if englishWords[w] {
			en++
		}
		if indonesianWords[w] {
			id++
		}
	}
	return id >= 2 && id > en
}
