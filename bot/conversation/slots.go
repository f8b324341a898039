package conversation

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Slots are the facts a citizen wrote in free text that a complaint needs.
// A citizen who writes the whole story at once ("sertifikat dosis 2 sy blm
// muncul, nama Budi Santoso NIK 3174011203850001 lahir 12-03-1985") must
// not then be asked for the name, the NIK and the birth date one by one.
// Every value is checked as strictly as the answer to the question would
// be (ValidNIK, ParseDate, NormalizePhone, CleanName); what fails a check
// is left for the question.
type Slots struct {
	Name     string
	NIK      string
	DOB      string // 2006-01-02
	Phone    string // +62…
	Email    string
	Dose     string // "1" … "4"
	VaxDate  string // 2006-01-02
	VaxPlace string
	// spans are the byte ranges of NIK, phone and e-mail in the text, so
	// the description can leave out what has its own field.
	spans [][2]int
}

var (
	reNIK   = regexp.MustCompile(`(?:^|[^\d])(\d(?:[ .\-]?\d){15})(?:[^\d]|$)`)
	rePhone = regexp.MustCompile(`(?:^|[^\d+])((?:\+?62|0)[ \-.]?8\d(?:[ \-.]?\d){6,11})(?:[^\d]|$)`)
	reEmail = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// A date: 12-03-1985, 12/3/85, 12.03.1985, 12 Maret 1985, 12 mar 85.
	reDate = regexp.MustCompile(`(?i)\b(\d{1,2})(?:[\-/.](\d{1,2})[\-/.]|\s+([a-z]{3,9})\.?\s+)(\d{4}|\d{2})\b`)
	// The name follows its label; it ends at a digit, punctuation or the
	// next label (stopWords).
	reName  = regexp.MustCompile(`(?i)(?:\bnama(?:\s+lengkap)?(?:\s+(?:saya|sy|aku|gw))?|\bnamaku|\batas\s+nama|\bmy\s+(?:full\s+)?name\s+is|\bfull\s+name|\bname)(?:\s*[:=]\s*|\s+)([\p{L}][\p{L}.' ]{1,80})`)
	reDose  = regexp.MustCompile(`(?i)\b(?:dosis|dose|vaksin|vaksinasi|suntik(?:an)?)\s*(?:ke\s*-?\s*)?(\d|satu|dua|tiga|empat|pertama|kedua|ketiga|keempat)\b|\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:dose|jab|shot)\b|\b(booster)(?:\s*(?:ke\s*-?\s*)?(2|kedua|dua|second))?\b`)
	rePlace = regexp.MustCompile(`(?i)\b((?:puskesmas|rsud|rsup|rs|rumah\s+sakit|klinik|gerai|balai|gor|posyandu|hospital|clinic|kodim|polres|polsek|koramil)\b[^,.;:\n\d]{0,60})`)
)

// nameStop ends a name: the labels and words that follow a name in a
// message, never part of one.
var nameStop = map[string]bool{
	"nik": true, "ktp": true, "lahir": true, "tgl": true, "tanggal": true, "ttl": true, "no": true,
	"nomor": true, "nomer": true, "hp": true, "wa": true, "telp": true, "dan": true, "and": true,
	"dosis": true, "dose": true, "born": true, "phone": true, "email": true, "e": true, "umur": true,
	"alamat": true, "yang": true, "yg": true, "di": true, "sudah": true, "udah": true, "udh": true,
	"sdh": true, "belum": true, "blm": true, "tapi": true, "tp": true, "but": true, "vaksin": true,
	"sertifikat": true, "sertif": true, "date": true, "birth": true, "dob": true, "lhr": true, "mohon": true,
	"tolong": true, "min": true, "kak": true, "ya": true, "dong": true, "terima": true, "makasih": true,
	"booster": true, "with": true, "my": true, "is": true, "id": true, "the": true, "tempat": true, "pada": true,
}

// notAName are first words after "nama" that say something about the name
// rather than give it: "nama saya salah", "nama di sertifikat".
var notAName = map[string]bool{
	"salah": true, "di": true, "tidak": true, "tdk": true, "ga": true, "gak": true, "sudah": true, "udah": true,
	"belum": true, "blm": true, "kurang": true, "typo": true, "keliru": true, "beda": true, "berbeda": true,
	"tertukar": true, "ketuker": true, "yang": true, "yg": true, "is": true, "on": true, "in": true, "wrong": true,
	"sesuai": true, "ibu": true, "ayah": true, "anak": true, "suami": true, "istri": true, "orang": true,
	"lain": true, "lengkap": true, "saya": true, "sy": true, "aku": true, "the": true, "not": true, "of": true,
	"pada": true, "dan": true, "ada": true, "harus": true, "harusnya": true, "seharusnya": true,
}

// nameFiller are words between a name's label and the name.
var nameFiller = map[string]bool{"adalah": true, "ialah": true, "yaitu": true, "is": true}

// birthCue and vaxCue tell a birth date from a vaccination date by the
// words just before it.
var (
	birthCue = []string{"lahir", "lhr", "ttl", "born", "birth", "dob", "tgl lahir"}
	vaxCue   = []string{"vaksin", "divaksin", "disuntik", "suntik", "vaccinated", "vaccine", "dosis", "dose", "booster"}
)

var numberWords = map[string]string{
	"satu": "1", "pertama": "1", "first": "1", "1st": "1", "dua": "2", "kedua": "2", "second": "2", "2nd": "2",
	"tiga": "3", "ketiga": "3", "third": "3", "3rd": "3", "empat": "4", "keempat": "4", "fourth": "4", "4th": "4",
}

// ExtractSlots reads the facts in text; now (the message's time; zero for
// none) bounds dates (no birth in the future) and decides the century of a
// two-digit year.
func ExtractSlots(text string, now time.Time) Slots {
	var s Slots
	if len(text) > MaxDescription {
		text = text[:MaxDescription]
	}
	for _, m := range reNIK.FindAllStringSubmatchIndex(text, -1) {
		if nik := CleanNIK(text[m[2]:m[3]]); ValidNIK(nik) {
			s.NIK = nik
			s.spans = append(s.spans, [2]int{m[2], m[3]})
			break
		}
	}
	for _, m := range rePhone.FindAllStringSubmatchIndex(text, -1) {
		if overlaps(s.spans, m[2], m[3]) {
			continue
		}
		if p, ok := NormalizePhone(text[m[2]:m[3]]); ok {
			s.Phone = p
			s.spans = append(s.spans, [2]int{m[2], m[3]})
			break
		}
	}
	if m := reEmail.FindStringIndex(text); m != nil {
		s.Email = strings.ToLower(text[m[0]:m[1]])
		s.spans = append(s.spans, [2]int{m[0], m[1]})
	}
	lower := strings.ToLower(text)
	for _, m := range reDate.FindAllStringSubmatchIndex(text, -1) {
		if overlaps(s.spans, m[0], m[1]) {
			continue
		}
		d, ok := looseDate(text, m, now)
		if !ok {
			continue
		}
		before := lower[max(0, m[0]-24):m[0]]
		switch {
		case hasCue(before, birthCue):
			s.DOB = d.Format("2006-01-02")
		case hasCue(before, vaxCue):
			s.VaxDate = d.Format("2006-01-02")
		case s.NIK != "" && nikMatchesDOB(s.NIK, d):
			s.DOB = d.Format("2006-01-02")
		case d.Year() <= 2020:
			// COVID-19 vaccination began in 2021: an earlier date with no
			// word before it is a birth date.
			s.DOB = d.Format("2006-01-02")
		default:
			s.VaxDate = d.Format("2006-01-02")
		}
	}
	if m := reName.FindStringSubmatch(text); m != nil {
		s.Name = cutName(m[1])
	}
	if m := reDose.FindStringSubmatch(lower); m != nil {
		switch {
		case m[3] == "booster" && m[4] != "":
			s.Dose = "4"
		case m[3] == "booster":
			s.Dose = "3"
		case m[1] != "":
			s.Dose = doseNumber(m[1])
		default:
			s.Dose = doseNumber(m[2])
		}
	}
	if m := rePlace.FindStringSubmatch(text); m != nil {
		s.VaxPlace = cutPlace(m[1])
	}
	return s
}

func doseNumber(w string) string {
	if n, ok := numberWords[w]; ok {
		return n
	}
	if n, err := strconv.Atoi(w); err == nil && n >= 1 && n <= 6 {
		return w
	}
	return ""
}

func overlaps(spans [][2]int, a, b int) bool {
	for _, s := range spans {
		if a < s[1] && s[0] < b {
			return true
		}
	}
	return false
}

func hasCue(before string, cues []string) bool {
	ws := strings.FieldsFunc(before, func(r rune) bool { return r == ' ' || r == ',' || r == ':' || r == '\n' })
	// Only the last three words count: "lahir di Bandung 12-03-1985" is a
	// birth date, a "vaksin" a sentence earlier is not.
	if len(ws) > 3 {
		ws = ws[len(ws)-3:]
	}
	for _, w := range ws {
		for _, c := range cues {
			if w == c || strings.HasPrefix(w, c) {
				return true
			}
		}
	}
	return false
}

// looseDate turns a reDate match into a date: a month name or number, and
// a two-digit year in the century that puts it in the past.
func looseDate(text string, m []int, now time.Time) (time.Time, bool) {
	day := text[m[2]:m[3]]
	var month string
	if m[4] >= 0 {
		month = text[m[4]:m[5]]
	} else {
		name := strings.ToLower(text[m[6]:m[7]])
		n, ok := monthNames[name]
		if !ok {
			return time.Time{}, false
		}
		month = strconv.Itoa(n)
	}
	year := text[m[8]:m[9]]
	if len(year) == 2 {
		// Without a clock (the engine has none of its own) a two-digit
		// year is a birth year of the last century.
		yy, _ := strconv.Atoi(year)
		if now.IsZero() || 2000+yy > now.Year() {
			year = strconv.Itoa(1900 + yy)
		} else {
			year = strconv.Itoa(2000 + yy)
		}
	}
	return ParseDate(day+"-"+month+"-"+year, now)
}

// cutName keeps the words of a name up to the first word that cannot be
// part of one; two to five words of letters, or one long one.
func cutName(s string) string {
	var out []string
	ws := strings.Fields(s)
	// "nama saya adalah Budi", "my name is: Budi"
	for len(ws) > 0 && nameFiller[strings.ToLower(ws[0])] {
		ws = ws[1:]
	}
	for i, w := range ws {
		lw := strings.ToLower(strings.Trim(w, ".'"))
		if i == 0 && notAName[lw] || nameStop[lw] || lw == "" {
			break
		}
		out = append(out, w)
		if len(out) == 5 {
			break
		}
	}
	if len(out) == 0 || len(out) == 1 && len(out[0]) < 3 {
		return ""
	}
	name, ok := CleanName(strings.Join(out, " "))
	if !ok {
		return ""
	}
	return name
}

// cutPlace keeps a facility's name up to a word that starts the next
// fact ("tgl", "pada", "tapi").
func cutPlace(s string) string {
	var out []string
	for _, w := range strings.Fields(s) {
		lw := strings.ToLower(w)
		if nameStop[lw] && lw != "di" || lw == "tgl" || lw == "pada" || lw == "on" || lw == "bulan" || lw == "kok" || lw == "sertifikatnya" {
			break
		}
		out = append(out, w)
		if len(out) == 6 {
			break
		}
	}
	return truncate(strings.Join(out, " "), maxOther)
}

// withoutSpans returns text with the NIK, phone and e-mail replaced by a
// marker: they are stored in their own fields, and the description
// becomes the ticket's subject, seen in lists where a NIK has no business.
func (s Slots) withoutSpans(text string) string {
	if len(s.spans) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for _, sp := range sortedSpans(s.spans) {
		if sp[0] < last || sp[1] > len(text) {
			continue
		}
		b.WriteString(text[last:sp[0]])
		b.WriteString("…")
		last = sp[1]
	}
	b.WriteString(text[last:])
	return b.String()
}

func sortedSpans(sp [][2]int) [][2]int {
	out := append([][2]int(nil), sp...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j][0] < out[j-1][0]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
