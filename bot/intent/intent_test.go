package intent

import (
	"os"
	"strings"
	"testing"
)

func TestAccuracyOnUtteranceTable(t *testing.T) {
	f, err := os.Open("testdata/utterances.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Evaluate(f, NewMatcher())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Write(&b)
	t.Logf("\n%s", b.String())
	if rep.Total < 150 {
		t.Errorf("table has %d utterances, want at least 150", rep.Total)
	}
	if rep.Accuracy < 0.95 {
		t.Errorf("accuracy %.1f%% is below 95%%", 100*rep.Accuracy)
	}
	seen := map[string]bool{}
	for _, s := range rep.PerIntent {
		seen[s.Intent] = true
	}
	for _, n := range Names {
		if !seen[n] {
			t.Errorf("intent %s has no utterance in the table", n)
		}
	}
}

// TestHeldOut reports accuracy on utterances written after the lexicon, to
// show how the matcher does on text it was not built against. It does not
// fail below a threshold; it is printed so regressions are visible.
func TestHeldOut(t *testing.T) {
	f, err := os.Open("testdata/heldout.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Evaluate(f, NewMatcher())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Write(&b)
	t.Logf("\n%s", b.String())
	if rep.Accuracy < 0.80 {
		t.Errorf("held-out accuracy %.1f%% fell below 80%%", 100*rep.Accuracy)
	}
}
