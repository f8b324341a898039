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
//  4. Hand-written rules (all concepts of a rule present → its weight)
//     find the heaviest rule.
//  5. A logistic-regression classifier (model.go) weighs word stems (Stem),
//     word pairs, character n-grams, the concepts and the rule's verdict,
//     and decides; below Threshold the answer is unknown. The rules were
//     fitted to the tables their authors saw; the classifier, trained on a
//     much larger written set, is what generalises.
//
// Before step 3 informal spellings the hand-written list does not know are
// rewritten with the IndoCollex dictionary (collex.go).
//
// A Result says which part decided and, for a rule, which one, so every
// answer can be explained. The package does no I/O after start-up and keeps
// no state between calls; a Matcher is safe for concurrent use.
package intent

import (
	"fmt"
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
	// Via is how it was decided: "menu" (an exact menu number),
	// "keyword" (the classifier agreed with the hand-written rule named in
	// Rule), "fuzzy" (the same, with a corrected typo), "model" (the
	// classifier alone, against or without a rule) or "none" (nothing,
	// or the classifier below Threshold).
	Via string
	// Rule lists the concepts of the deciding rule, e.g. "CERT+NEG+APPEAR".
	Rule   string
	Weight int
	// Confidence is the classifier's probability for Intent (1 for a
	// menu number, 0 when the classifier was not asked).
	Confidence float64
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
	// model is the learned classifier; nil only while it is being
	// trained (its features come from this same matcher).
	model *model
}

type correction struct {
	concept int
	ok      bool
}

const maxCorrections = 1 << 16

// NewMatcher builds a matcher over the built-in lexicon, rules and
// classifier. The classifier is trained once per process (a fraction of a
// second) and shared by every Matcher.
func NewMatcher() *Matcher {
	m := newBareMatcher()
	m.model = builtinModel()
	return m
}

// newBareMatcher is a matcher with rules only.
func newBareMatcher() *Matcher {
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
	var f features
	a := m.analyse(text, &f)
	switch {
	case a.empty:
		return Result{Intent: Unknown, Via: "none"}
	case a.menu != "":
		return Result{Intent: MenuChoices[a.menu], Via: "menu", Rule: a.menu, Weight: 40, Confidence: 1}
	}
	ruled := a.ruleResult()
	if m.model == nil || a.content == 0 && a.words < 2 {
		// One stop word ("sama", "ya"): nothing for the model to weigh,
		// and whatever it said would come from the bias alone. Several
		// ("udah itu aja", "itu saja") are a phrase it has learnt.
		return ruled
	}
	var p [32]float64
	best, conf := m.model.predict(&f, p[:len(m.model.classes)])
	it := m.model.classes[best]
	switch {
	case conf < Threshold:
		return Result{Intent: Unknown, Via: "none", Rule: fmt.Sprintf("unsure: %s %.2f", it, conf), Confidence: conf}
	case it == ruled.Intent:
		ruled.Confidence = conf
		return ruled
	}
	// The model decided against (or without) the rules. Its weight is on
	// the rules' scale so the conversation's "explicit enough" checks
	// (weight ≥ 28) hold for a sure model too.
	return Result{Intent: it, Via: "model", Rule: fmt.Sprintf("model %.2f", conf), Weight: int(35 * conf), Confidence: conf}
}

// analysis is what the rules see of an utterance.
type analysis struct {
	empty       bool
	menu        string // an exact menu number
	set, fuzzed conceptSet
	best        int // index of the heaviest rule that fired, -1 for none
	content     int // words that are not stop words
	words       int // all words
}

func (a analysis) ruleResult() Result {
	if a.best < 0 {
		return Result{Intent: Unknown, Via: "none"}
	}
	r := rules[a.best]
	via := "keyword"
	for _, c := range r.concepts {
		if a.fuzzed.has(c) {
			via = "fuzzy"
		}
	}
	names := make([]string, len(r.concepts))
	for i, c := range r.concepts {
		names[i] = conceptNames[c]
	}
	return Result{Intent: r.intent, Via: via, Rule: strings.Join(names, "+"), Weight: r.weight}
}

// analyse normalises text, maps its words to concepts, finds the heaviest
// rule, and puts the classifier's features in f.
func (m *Matcher) analyse(text string, f *features) analysis {
	var stack [24]string
	ws := words(text, stack[:0])
	if len(ws) == 0 {
		return analysis{empty: true, best: -1}
	}
	if len(ws) == 1 {
		if _, ok := MenuChoices[ws[0]]; ok {
			return analysis{menu: ws[0], best: -1}
		}
	}
	f.add(hashKind(fBias))
	// Split reduplications and drop stop words.
	var stack2 [32]string
	toks := stack2[:0]
	prev := ""
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
			// The model sees stop words too: "mau" and "tidak" before a
			// word are evidence even where the rules ignore them.
			f.word(part)
			if prev != "" {
				f.pair(prev, part)
			}
			prev = part
			if c, ok := lexicon[part]; ok && c == stop {
				continue
			}
			toks = append(toks, part)
		}
	}
	var a analysis
	a.best = -1
	a.content = len(toks)
	a.words = len(ws)
	for i := 0; i < len(toks); i++ {
		if i+1 < len(toks) {
			if c, ok := phrases[[2]string{toks[i], toks[i+1]}]; ok {
				a.set.add(c)
				i++
				continue
			}
		}
		w := toks[i]
		if c, ok := lexicon[w]; ok {
			a.set.add(c)
			continue
		}
		if phraseWords[w] {
			continue
		}
		if c, ok := stripAffix(w); ok {
			a.set.add(c)
			continue
		}
		if c, ok := m.correct(w); ok {
			a.set.add(c)
			a.fuzzed.add(c)
		}
	}
	for c := range numConcepts {
		if a.set.has(c) {
			f.add(hashKind(fConcept) ^ uint64(c+1)*0x9e3779b97f4a7c15)
		}
	}
	for i := range rules {
		if a.set.covers(compiled[i]) && (a.best < 0 || rules[i].weight > rules[a.best].weight) {
			a.best = i
		}
	}
	if a.best >= 0 {
		f.add(hashBytes(hashKind(fRule), rules[a.best].intent))
	}
	f.unique()
	return a
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
