// Package intent understands what a citizen writes to the PeduliLindungi
// service desk: informal Indonesian first ("sertif blm keluar", "NIK sy
// dipakai org lain"), English too. It is small and explainable on purpose:
//
//  1. Normalize lower-cases, drops emoji and punctuation, shortens stretched
//     letters, spells out reduplication ("data2") and expands abbreviations.
//  2. An exact menu choice ("1"…"9", "0") decides at once.
//  3. Every word is mapped to a concept (sertifikat/sertif/certificate →
//     CERT); two-word phrases first ("orang lain", "date of birth"); then
//     Indonesian affixes are stripped ("sertifikatnya", "diprint"); unknown
//     words of 5–20 letters are corrected to the nearest known word within
//     edit distance 1 (2 from 8 letters; no letter substitutions under 6
//     letters, where "hujan" is not "human"), looked up through a deletion
//     index so it stays cheap.
//  4. Hand-written rules (all concepts of a rule present → its weight) pick
//     the intent; the heaviest rule wins. No rule → unknown.
//
// A Result says which rule decided, so every answer can be explained. The
// package does no I/O and keeps no state between calls; a Matcher is safe
// for concurrent use.
package intent

import (
	"strings"
	"sync"
)

// Intent names. These exact strings are part of the public contract (the
// utterance table, `lindungi bot eval`, metrics).
const (
	Greeting            = "greeting"
	Menu                = "menu"
	CertificateMissing  = "certificate_missing"
	CertificateDownload = "certificate_download"
	VaccinationStatus   = "vaccination_status"
	ChangeData          = "change_data"
	NIKMisuse           = "nik_misuse"
	LoginProblem        = "login_problem"
	Sijejak             = "sijejak"
	TalkToOperator      = "talk_to_operator"
	Thanks              = "thanks"
	Done                = "done"
	SwitchLanguage      = "switch_language"
	MyData              = "my_data"
	DeleteMyData        = "delete_my_data"
	Unknown             = "unknown"
)

// Names lists every intent.
var Names = []string{
	Greeting, Menu, CertificateMissing, CertificateDownload, VaccinationStatus, ChangeData, NIKMisuse,
	LoginProblem, Sijejak, TalkToOperator, Thanks, Done, SwitchLanguage, MyData, DeleteMyData, Unknown,
}

// MenuChoices maps the numbers of the main menu to intents. The conversation
// package prints the menu in this order (catalogue key "menu").
var MenuChoices = map[string]string{
	"0": Menu,
	"1": CertificateMissing,
	"2": ChangeData,
	"3": NIKMisuse,
	"4": TalkToOperator,
	"5": VaccinationStatus,
	"6": CertificateDownload,
	"7": LoginProblem,
	"8": Sijejak,
	"9": MyData,
}

// Result is the matcher's verdict.
type Result struct {
	Intent string
	// Via is how it was decided: "menu" (an exact menu number), "keyword",
	// "fuzzy" (a corrected typo was needed) or "none".
	Via string
	// Rule lists the concepts of the deciding rule, e.g. "CERT+NEG+APPEAR".
	Rule   string
	Weight int
}

// Matcher matches utterances to intents.
type Matcher struct {
	fuzzy *fuzzyIndex
	// corrections remembers correct's answers. Citizens' words repeat
	// (places, names, the same misspellings), and an unknown word costs up
	// to a hundred map probes in the fuzzy index; with it the matcher
	// spent a fifth of its time on a mailbox import there. The answer
	// depends on the word alone, so a cached one is the same answer. The
	// map is emptied when it reaches maxCorrections words.
	mu          sync.RWMutex
	corrections map[string]correction
}

type correction struct {
	concept int
	ok      bool
}

const maxCorrections = 1 << 16

// NewMatcher builds a matcher over the built-in lexicon and rules.
func NewMatcher() *Matcher {
	words := make([]string, 0, len(lexicon))
	for w, c := range lexicon {
		if c != stop && len(w) >= 4 && isLetters(w) {
			words = append(words, w)
		}
	}
	return &Matcher{fuzzy: newFuzzyIndex(words), corrections: map[string]correction{}}
}

type conceptSet [2]uint64

func (s *conceptSet) add(c int)     { s[c>>6] |= 1 << (c & 63) }
func (s conceptSet) has(c int) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s conceptSet) covers(o conceptSet) bool {
	return s[0]&o[0] == o[0] && s[1]&o[1] == o[1]
}

var compiled = func() []conceptSet {
	out := make([]conceptSet, len(rules))
	for i, r := range rules {
		for _, c := range r.concepts {
			out[i].add(c)
		}
	}
	return out
}()

// phraseWords are the words that only mean something inside a phrase; they
// must not be "corrected" to a different known word.
var phraseWords = func() map[string]bool {
	m := map[string]bool{}
	for k := range phrases {
		m[k[0]], m[k[1]] = true, true
	}
	return m
}()

// Match returns the intent of text.
func (m *Matcher) Match(text string) Result {
	var stack [24]string
	ws := words(text, stack[:0])
	if len(ws) == 0 {
		return Result{Intent: Unknown, Via: "none"}
	}
	if len(ws) == 1 {
		if it, ok := MenuChoices[ws[0]]; ok {
			return Result{Intent: it, Via: "menu", Rule: ws[0]}
		}
	}
	// Split reduplications and drop stop words.
	var stack2 [32]string
	toks := stack2[:0]
	for _, w := range ws {
		for w != "" {
			part := w
			if i := strings.IndexAny(w, "- "); i >= 0 {
				part, w = w[:i], w[i+1:]
			} else {
				w = ""
			}
			if part == "" {
				continue
			}
			if c, ok := lexicon[part]; ok && c == stop {
				continue
			}
			toks = append(toks, part)
		}
	}
	var set, fuzzed conceptSet
	for i := 0; i < len(toks); i++ {
		if i+1 < len(toks) {
			if c, ok := phrases[[2]string{toks[i], toks[i+1]}]; ok {
				set.add(c)
				i++
				continue
			}
		}
		w := toks[i]
		if c, ok := lexicon[w]; ok {
			set.add(c)
			continue
		}
		if phraseWords[w] {
			continue
		}
		if c, ok := stripAffix(w); ok {
			set.add(c)
			continue
		}
		if c, ok := m.correct(w); ok {
			set.add(c)
			fuzzed.add(c)
		}
	}
	best := -1
	for i := range rules {
		if set.covers(compiled[i]) && (best < 0 || rules[i].weight > rules[best].weight) {
			best = i
		}
	}
	if best < 0 {
		return Result{Intent: Unknown, Via: "none"}
	}
	r := rules[best]
	via := "keyword"
	for _, c := range r.concepts {
		if fuzzed.has(c) {
			via = "fuzzy"
		}
	}
	names := make([]string, len(r.concepts))
	for i, c := range r.concepts {
		names[i] = conceptNames[c]
	}
	return Result{Intent: r.intent, Via: via, Rule: strings.Join(names, "+"), Weight: r.weight}
}

var prefixes = []string{"di", "ter", "ke"}

var suffixes = []string{"nya", "kah", "lah", "pun", "ku", "mu", "in", "s"}

// stripAffix finds the concept of a word with an Indonesian particle or
// possessive attached ("sertifikatnya", "loginnya"), an English plural, or
// a passive prefix on a borrowed word ("diprint", "didelete").
func stripAffix(w string) (int, bool) {
	for _, pre := range prefixes {
		if len(w) > len(pre)+3 && strings.HasPrefix(w, pre) {
			if c, ok := lexicon[w[len(pre):]]; ok && c != stop {
				return c, true
			}
		}
	}
	for _, suf := range suffixes {
		if len(w) > len(suf)+2 && strings.HasSuffix(w, suf) {
			stem := w[:len(w)-len(suf)]
			if c, ok := lexicon[stem]; ok && c != stop {
				return c, true
			}
			if v, ok := abbreviations[stem]; ok {
				if c, ok := lexicon[v]; ok && c != stop {
					return c, true
				}
			}
		}
	}
	return 0, false
}

func (m *Matcher) correct(w string) (int, bool) {
	if len(w) < 5 || len(w) > 20 || !isLetters(w) {
		return 0, false
	}
	m.mu.RLock()
	c, hit := m.corrections[w]
	m.mu.RUnlock()
	if hit {
		return c.concept, c.ok
	}
	c.concept, c.ok = m.lookupCorrection(w)
	m.mu.Lock()
	if len(m.corrections) >= maxCorrections {
		clear(m.corrections)
	}
	m.corrections[strings.Clone(w)] = c
	m.mu.Unlock()
	return c.concept, c.ok
}

// lookupCorrection is correct without the cache.
func (m *Matcher) lookupCorrection(w string) (int, bool) {
	if fix, ok := m.fuzzy.lookup(w); ok {
		return lexicon[fix], true
	}
	// a suffix on a misspelt word: "sertifikatny", "sertivikatnya"
	for _, suf := range suffixes[:3] {
		if len(w) > len(suf)+4 && strings.HasSuffix(w, suf) {
			if fix, ok := m.fuzzy.lookup(w[:len(w)-len(suf)]); ok {
				return lexicon[fix], true
			}
		}
	}
	return 0, false
}
