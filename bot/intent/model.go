package intent

import (
	"bufio"
	"embed"
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The classifier is a multinomial logistic regression over hashed features
// of the normalised text: word stems, pairs of neighbouring stems,
// character 3- and 4-grams of each word (which is how "sertivikat" and
// "sertifkt" still look like "sertifikat"), the lexicon's concepts, and
// the intent of the heaviest hand-written rule that fired. The rules thus
// become one piece of evidence among others: the model learnt from
// thousands of labelled utterances how far to trust each of them.
//
// It is trained when the process starts, from train/*.txt (embedded, one
// utterance per line, the file name is the intent), in a fixed order with
// a fixed seed, so every process and every test has the same weights.
// Nothing is fetched or written at run time.

//go:embed train/*.txt
var trainFS embed.FS

// Threshold is the lowest probability at which the classifier's best
// intent is believed. Below it the answer is unknown: spam, scams and
// questions about something else get "I did not understand" and the
// menu, not a confident wrong answer.
const Threshold = 0.35

// maxFeatures bounds the features of one utterance; MaxInput already
// bounds the text, this keeps the buffer on the stack.
const maxFeatures = 512

type features struct {
	h [maxFeatures]uint64
	n int
}

// unique keeps each feature once: presence, not count, is the evidence,
// so a mail that says "terima kasih" thirty times under its complaint is
// still about the complaint.
func (f *features) unique() {
	slices.Sort(f.h[:f.n])
	f.n = len(slices.Compact(f.h[:f.n]))
}

func (f *features) add(h uint64) {
	if f.n < len(f.h) {
		f.h[f.n] = h
		f.n++
	}
}

// Feature kinds, mixed into the hash so a word and a character n-gram of
// the same letters are different features.
const (
	fBias byte = iota + 1
	fStem
	fPair
	fGram
	fConcept
	fRule
)

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashBytes(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func hashKind(k byte) uint64 { return (fnvOffset ^ uint64(k)) * fnvPrime }

// word adds the features of one token.
func (f *features) word(w string) {
	stem := Stem(w)
	f.add(hashBytes(hashKind(fStem), stem))
	if len(w) > 20 || len(w) < 2 {
		return
	}
	var buf [24]byte
	b := append(append(append(buf[:0], '<'), w...), '>')
	for n := 3; n <= 4; n++ {
		for i := 0; i+n <= len(b); i++ {
			f.add(hashBytes(hashKind(fGram), string(b[i:i+n])))
		}
	}
}

func (f *features) pair(a, b string) {
	h := hashBytes(hashKind(fPair), Stem(a))
	h = hashBytes((h^' ')*fnvPrime, Stem(b))
	f.add(h)
}

// model holds the weights. Features seen in training have a row; others
// are ignored.
type model struct {
	classes []string
	rows    map[uint64]int32
	w       []float32 // len(rows) × len(classes)
	bias    []float32
}

// predict returns the best class, its probability, and the distribution.
func (md *model) predict(f *features, p []float64) (int, float64) {
	k := len(md.classes)
	for c := range k {
		p[c] = float64(md.bias[c])
	}
	x := 1 / math.Sqrt(float64(max(f.n, 1)))
	for _, h := range f.h[:f.n] {
		r, ok := md.rows[h]
		if !ok {
			continue
		}
		row := md.w[int(r)*k : int(r)*k+k]
		for c := range k {
			p[c] += x * float64(row[c])
		}
	}
	best := softmax(p[:k])
	return best, p[best]
}

// softmax turns scores into probabilities in place and returns the index
// of the largest.
func softmax(p []float64) int {
	best := 0
	for i := range p {
		if p[i] > p[best] {
			best = i
		}
	}
	top, sum := p[best], 0.0
	for i := range p {
		p[i] = math.Exp(p[i] - top)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return best
}

// SizeBytes is the model's footprint in memory (weights, biases and the
// feature index, at 16 bytes a map entry plus Go's bucket overhead
// estimated at 2×): what one Matcher adds to the process.
func (md *model) SizeBytes() int {
	return 4*len(md.w) + 4*len(md.bias) + 2*16*len(md.rows)
}

// Training examples, loaded once per process.

var builtin struct {
	once  sync.Once
	model *model
	err   error
}

// builtinModel trains the model from the embedded set on first use.
func builtinModel() *model {
	builtin.once.Do(func() {
		ex, err := TrainingSet()
		if err != nil {
			// The set is embedded and checked by a test; a failure here
			// is a build defect, not an operating condition.
			panic(err)
		}
		builtin.model = train(augment(ex), newBareMatcher())
	})
	return builtin.model
}

// TrainingSet returns the embedded labelled utterances, in a fixed order.
func TrainingSet() ([]Example, error) {
	valid := map[string]bool{}
	for _, n := range Names {
		valid[n] = true
	}
	files, err := trainFS.ReadDir("train")
	if err != nil {
		return nil, fmt.Errorf("intent: reading training set: %w", err)
	}
	var out []Example
	for _, fe := range files {
		name := strings.TrimSuffix(fe.Name(), ".txt")
		if !valid[name] {
			return nil, fmt.Errorf("intent: training file %s: no intent %q", fe.Name(), name)
		}
		b, err := trainFS.ReadFile(path.Join("train", fe.Name()))
		if err != nil {
			return nil, fmt.Errorf("intent: reading %s: %w", fe.Name(), err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			out = append(out, Example{Text: line, Intent: name})
		}
	}
	return out, nil
}

// social intents are whole messages on their own; topical ones are often
// wrapped in a greeting or a plea, and the model must learn that the
// wrapping does not decide.
var social = map[string]bool{Greeting: true, Thanks: true, Done: true, Menu: true, Unknown: true, SwitchLanguage: true}

var (
	openers = []string{"halo min", "selamat pagi", "permisi kak", "min", "assalamualaikum", "hi", "good morning", "punten", "sore min", "tolong"}
	closers = []string{"dong", "ya min", "mohon bantuannya", "please", "terima kasih", "🙏", "gmn ini", "pls help", "kak", "segera ya"}
)

// augment adds, for each written utterance, a copy with a typo and, for
// topical intents, a copy wrapped in an opener and a closer. The seed is
// fixed: the same set gives the same model.
func augment(ex []Example) []Example {
	rng := rand.New(rand.NewPCG(16, 2026))
	out := make([]Example, 0, 3*len(ex))
	for _, e := range ex {
		out = append(out, e)
		if t, ok := typo(e.Text, rng); ok {
			out = append(out, Example{Text: t, Intent: e.Intent})
		}
		if !social[e.Intent] {
			t := openers[rng.IntN(len(openers))] + " " + e.Text + " " + closers[rng.IntN(len(closers))]
			out = append(out, Example{Text: t, Intent: e.Intent})
		}
	}
	return out
}

// typo makes one slip of the thumb in a word of five letters or more:
// two letters swapped, one dropped or one doubled.
func typo(s string, rng *rand.Rand) (string, bool) {
	ws := strings.Fields(s)
	var long []int
	for i, w := range ws {
		if utf8.RuneCountInString(w) >= 5 && strings.IndexFunc(w, func(r rune) bool { return !unicode.IsLetter(r) }) < 0 && len(w) == utf8.RuneCountInString(w) {
			long = append(long, i)
		}
	}
	if len(long) == 0 {
		return "", false
	}
	i := long[rng.IntN(len(long))]
	w := []byte(ws[i])
	j := 1 + rng.IntN(len(w)-2)
	switch rng.IntN(3) {
	case 0:
		w[j], w[j+1] = w[j+1], w[j]
	case 1:
		w = slices.Delete(w, j, j+1)
	default:
		w = slices.Insert(w, j, w[j])
	}
	ws[i] = string(w)
	return strings.Join(ws, " "), true
}

// train fits the weights by stochastic gradient descent on the
// cross-entropy, with a learning rate that decays per epoch.
func train(ex []Example, m *Matcher) *model {
	md := &model{classes: Names, rows: map[uint64]int32{}}
	k := len(md.classes)
	classOf := map[string]int{}
	for i, c := range md.classes {
		classOf[c] = i
	}
	type sample struct {
		rows []int32
		y    int
	}
	samples := make([]sample, 0, len(ex))
	for _, e := range ex {
		var f features
		m.analyse(e.Text, &f)
		s := sample{y: classOf[e.Intent]}
		for _, h := range f.h[:f.n] {
			r, ok := md.rows[h]
			if !ok {
				r = int32(len(md.rows))
				md.rows[h] = r
			}
			s.rows = append(s.rows, r)
		}
		samples = append(samples, s)
	}
	md.w = make([]float32, len(md.rows)*k)
	md.bias = make([]float32, k)
	rng := rand.New(rand.NewPCG(16, 1))
	p := make([]float64, k)
	const epochs = 12
	for epoch := range epochs {
		lr := 2.0 / (1 + 0.4*float64(epoch))
		rng.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
		for _, s := range samples {
			x := 1 / math.Sqrt(float64(max(len(s.rows), 1)))
			for c := range k {
				p[c] = float64(md.bias[c])
			}
			for _, r := range s.rows {
				row := md.w[int(r)*k : int(r)*k+k]
				for c := range k {
					p[c] += x * float64(row[c])
				}
			}
			softmax(p)
			p[s.y] -= 1 // gradient of the cross-entropy w.r.t. the scores
			for c := range k {
				md.bias[c] -= float32(lr * p[c] * 0.1)
			}
			for _, r := range s.rows {
				row := md.w[int(r)*k : int(r)*k+k]
				for c := range k {
					row[c] -= float32(lr * p[c] * x)
				}
			}
		}
	}
	return md
}
