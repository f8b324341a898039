package intent

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Example is one line of an utterance table: {"text": …, "intent": …}.
type Example struct {
	Text   string `json:"text"`
	Intent string `json:"intent"`
}

// Confusion is one utterance the matcher got wrong.
type Confusion struct {
	Line int    `json:"line"`
	Text string `json:"text"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Rule string `json:"rule,omitempty"`
}

// IntentScore counts one intent's examples.
type IntentScore struct {
	Intent  string `json:"intent"`
	Total   int    `json:"total"`
	Correct int    `json:"correct"`
}

// Report is the outcome of Evaluate.
type Report struct {
	Total      int           `json:"total"`
	Correct    int           `json:"correct"`
	Accuracy   float64       `json:"accuracy"` // Correct/Total, 0..1
	PerIntent  []IntentScore `json:"perIntent"`
	Confusions []Confusion   `json:"confusions"`
}

// Evaluate runs m over a JSON-lines utterance table read from r. Blank lines
// and lines starting with "#" or "//" are skipped. A malformed line, or an
// intent name that does not exist, is an error naming the line.
func Evaluate(r io.Reader, m *Matcher) (Report, error) {
	var rep Report
	per := map[string]*IntentScore{}
	valid := map[string]bool{}
	for _, n := range Names {
		valid[n] = true
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := strings.TrimSpace(sc.Text())
		if raw == "" || strings.HasPrefix(raw, "#") || strings.HasPrefix(raw, "//") {
			continue
		}
		var ex Example
		if err := json.Unmarshal([]byte(raw), &ex); err != nil {
			return rep, fmt.Errorf("intent: line %d: %w", line, err)
		}
		if !valid[ex.Intent] {
			return rep, fmt.Errorf("intent: line %d: unknown intent %q", line, ex.Intent)
		}
		res := m.Match(ex.Text)
		s := per[ex.Intent]
		if s == nil {
			s = &IntentScore{Intent: ex.Intent}
			per[ex.Intent] = s
		}
		s.Total++
		rep.Total++
		if res.Intent == ex.Intent {
			s.Correct++
			rep.Correct++
		} else {
			rep.Confusions = append(rep.Confusions, Confusion{Line: line, Text: ex.Text, Want: ex.Intent, Got: res.Intent, Rule: res.Rule})
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("intent: reading table: %w", err)
	}
	if rep.Total > 0 {
		rep.Accuracy = float64(rep.Correct) / float64(rep.Total)
	}
	for _, n := range Names {
		if s := per[n]; s != nil {
			rep.PerIntent = append(rep.PerIntent, *s)
		}
	}
	sort.SliceStable(rep.Confusions, func(i, j int) bool { return rep.Confusions[i].Want < rep.Confusions[j].Want })
	return rep, nil
}

// Write prints the report for a person: accuracy, per-intent counts, then
// every confusion with the rule that fired.
func (r Report) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "accuracy: %.1f%% (%d/%d)\n\n", 100*r.Accuracy, r.Correct, r.Total)
	fmt.Fprintf(bw, "%-22s %7s %7s\n", "intent", "correct", "total")
	for _, s := range r.PerIntent {
		fmt.Fprintf(bw, "%-22s %7d %7d\n", s.Intent, s.Correct, s.Total)
	}
	if len(r.Confusions) > 0 {
		fmt.Fprintf(bw, "\nconfusions (%d):\n", len(r.Confusions))
		for _, c := range r.Confusions {
			rule := c.Rule
			if rule == "" {
				rule = "-"
			}
			fmt.Fprintf(bw, "  line %d: want %s, got %s (rule %s): %q\n", c.Line, c.Want, c.Got, rule, c.Text)
		}
	}
	return bw.Flush()
}
