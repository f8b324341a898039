package intent

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxInput is how many bytes of a message the matcher reads. Intent is
// decided by the first words; a 10 kB message costs no more than this.
const MaxInput = 1024

// abbreviations maps informal spellings to the standard word. Values may be
// several words. Kept to forms that are unambiguous in a helpdesk chat.
var abbreviations = map[string]string{
	// the ones citizens use most
	"gmn": "bagaimana", "gimana": "bagaimana", "gmna": "bagaimana", "bgmn": "bagaimana", "gmana": "bagaimana",
	"tdk": "tidak", "tak": "tidak", "ga": "tidak", "gak": "tidak", "gk": "tidak", "g": "tidak", "nggak": "tidak",
	"ngga": "tidak", "ngak": "tidak", "enggak": "tidak", "engga": "tidak", "kagak": "tidak", "gx": "tidak",
	"gbs": "tidak bisa", "gabisa": "tidak bisa", "gakbisa": "tidak bisa", "tdkbisa": "tidak bisa",
	"sy": "saya", "aku": "saya", "gw": "saya", "gue": "saya", "ane": "saya", "sya": "saya", "q": "saya",
	"blm": "belum", "blum": "belum", "belom": "belum", "lum": "belum",
	"udh": "sudah", "udah": "sudah", "sdh": "sudah", "dah": "sudah", "uda": "sudah", "sudh": "sudah",
	"tp": "tapi", "tpi": "tapi", "utk": "untuk", "buat": "untuk", "dgn": "dengan", "dg": "dengan", "sama": "dengan", "ama": "dengan",
	"krn": "karena", "krna": "karena", "karna": "karena", "soalnya": "karena",
	"nmr": "nomor", "nomer": "nomor", "nmor": "nomor", "no.": "nomor",
	"hp": "hp", "handphone": "hp", "ponsel": "hp",
	// other frequent ones
	"yg": "yang", "dr": "dari", "dri": "dari", "bs": "bisa", "bsa": "bisa", "bisa2": "bisa",
	"org": "orang", "orng": "orang", "jd": "jadi", "jdi": "jadi", "sm": "dengan", "lg": "lagi", "lgi": "lagi",
	"tgl": "tanggal", "tggl": "tanggal", "lhr": "lahir", "thn": "tahun", "knp": "kenapa", "napa": "kenapa", "ngapa": "kenapa",
	"dpt": "dapat", "dapet": "dapat", "dtg": "datang", "kluar": "keluar", "klwr": "keluar", "kmn": "kemana", "dmn": "dimana", "dmna": "dimana", "nongol": "muncul", "met": "selamat",
	"mksh": "terima kasih", "makasih": "terima kasih", "makasi": "terima kasih", "mkasih": "terima kasih", "maksih": "terima kasih",
	"trims": "terima kasih", "trimakasih": "terima kasih", "terimakasih": "terima kasih", "tks": "terima kasih", "thx": "thanks",
	"tq": "thanks", "ty": "thanks", "tengkyu": "thanks", "thanx": "thanks", "thnks": "thanks",
	"min": "admin", "mimin": "admin", "dok": "", "kak": "", "ka": "", "kk": "", "gan": "", "sis": "", "bu": "", "pak": "",
	"bpk": "", "ibu": "", "bapak": "",
	"ass": "assalamualaikum", "askum": "assalamualaikum", "assalamualaikum": "assalamualaikum", "asalamualaikum": "assalamualaikum",
	"assalammualaikum": "assalamualaikum", "assalamu": "assalamualaikum", "alaikum": "", "wr": "", "wb": "",
	// common typos of the words that decide an intent
	"sertifkat": "sertifikat", "setifikat": "sertifikat", "sertipikat": "sertifikat", "sertificat": "sertifikat",
	"sertifikad": "sertifikat", "sertifikt": "sertifikat", "vaksim": "vaksin", "faksin": "vaksin", "vaksn": "vaksin",
	"vacin": "vaksin", "vaksinasi": "vaksinasi", "donlot": "download", "dowload": "download", "downlod": "download",
	"donwload": "download", "dwnload": "download", "aplikasih": "aplikasi", "aplkasi": "aplikasi", "apk": "aplikasi",
	"pasword": "password", "paswod": "password", "verivikasi": "verifikasi", "ferifikasi": "verifikasi",
	"kadaluarsa": "kedaluwarsa", "kadaluwarsa": "kedaluwarsa", "kedaluarsa": "kedaluwarsa", "sertif": "sertifikat",
	"serti": "sertifikat", "serfit": "sertifikat",
}

// reduplicationExceptions are words followed by "2" that are not a plural:
// "ke2" means "the second".
var reduplicationExceptions = map[string]bool{"ke": true, "dosis": true, "tahap": true, "vaksin": true}

// Normalize rewrites informal Indonesian (and English) to a plain,
// lower-case, space-separated form: stretched letters are shortened
// ("tolonggg" → "tolong"), reduplication is spelt out ("data2" →
// "data-data"), common abbreviations and typos are expanded ("gmn" →
// "bagaimana", "blm" → "belum"), and punctuation, emoji and control
// characters become spaces.
func Normalize(s string) string {
	return strings.Join(words(s, nil), " ")
}

// words is Normalize as a token list, appended to dst.
func words(s string, dst []string) []string {
	if len(s) > MaxInput {
		s = s[:MaxInput]
		for len(s) > 0 && !utf8.ValidString(s[len(s)-1:]) && !utf8.RuneStart(s[len(s)-1]) {
			s = s[:len(s)-1]
		}
	}
	var buf [64]byte
	cur := buf[:0]
	raw := make([]string, 0, 16)
	wave := false
	flush := func() {
		if len(cur) > 0 {
			raw = append(raw, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9'):
			cur = append(cur, byte(r))
		case r >= 'A' && r <= 'Z':
			cur = append(cur, byte(r+'a'-'A'))
		case r == '👋':
			// A wave alone is a greeting (below); beside words it is noise.
			wave = true
			flush()
		case r == '\'' || r == '\u2019' || r == '`':
			// "assalamu'alaikum", "can't": join the parts
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			cur = utf8.AppendRune(cur, unicode.ToLower(r))
		default:
			flush()
		}
		if len(cur) > 48 { // no real word is this long; cut it
			flush()
		}
	}
	flush()
	if len(raw) == 0 && wave {
		raw = append(raw, "halo")
	}
	for i, w := range raw {
		// "no hp", "no wa", "no telp": here "no" is "nomor", not "no".
		if w == "no" && i+1 < len(raw) {
			switch raw[i+1] {
			case "hp", "wa", "telp", "tlp", "telepon", "telpon", "handphone", "ponsel", "ktp", "nik", "tiket", "laporan":
				dst = append(dst, "nomor")
				continue
			}
		}
		dst = appendWord(dst, w)
	}
	return dst
}

func appendWord(dst []string, w string) []string {
	// data2 → data-data (but ke2 stays "ke 2")
	if n := len(w); n >= 3 && w[n-1] == '2' && isLetters(w[:n-1]) {
		base := fixWord(w[:n-1])
		if base != "" && !strings.Contains(base, " ") && !reduplicationExceptions[base] {
			return append(dst, base+"-"+base)
		}
		if base != "" {
			return append(dst, base, "2")
		}
	}
	if f := fixWord(w); f != "" {
		dst = append(dst, f)
	}
	return dst
}

// fixWord shortens stretched letters and expands abbreviations.
func fixWord(w string) string {
	if v, ok := abbreviations[w]; ok {
		return v
	}
	if !hasRun3(w) {
		if _, ok := lexicon[w]; !ok {
			if v, ok := collex[w]; ok {
				return v
			}
		}
		return w
	}
	one, two := collapse(w, 1), collapse(w, 2)
	for _, c := range []string{one, two} {
		if v, ok := abbreviations[c]; ok {
			return v
		}
	}
	if known(two) && !known(one) {
		return two
	}
	for _, c := range []string{one, two} {
		if v, ok := collex[c]; ok {
			return v
		}
	}
	return one
}

func hasRun3(w string) bool {
	for i := 2; i < len(w); i++ {
		if w[i] == w[i-1] && w[i] == w[i-2] && w[i] >= 'a' && w[i] <= 'z' {
			return true
		}
	}
	return false
}

// collapse shortens every run of three or more equal letters to keep letters.
func collapse(w string, keep int) string {
	b := make([]byte, 0, len(w))
	for i := 0; i < len(w); {
		j := i
		for j < len(w) && w[j] == w[i] {
			j++
		}
		n := j - i
		if n >= 3 && w[i] >= 'a' && w[i] <= 'z' {
			n = keep
		}
		for k := 0; k < n; k++ {
			b = append(b, w[i])
		}
		i = j
	}
	return string(b)
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return len(s) > 0
}
