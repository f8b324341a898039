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

// TestHeldOut reports accuracy on two tables written after the lexicon
// (heldout.jsonl, then blind.jsonl, each scored once before any change made
// because of it: 94.3% and 91.1%). They show how the matcher does on text it
// was not built against; the test fails only on a large regression.
func TestHeldOut(t *testing.T) {
	for _, name := range []string{"heldout", "blind"} {
		f, err := os.Open("testdata/" + name + ".jsonl")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Evaluate(f, NewMatcher())
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.Write(&b)
		t.Logf("%s:\n%s", name, b.String())
		if rep.Accuracy < 0.85 {
			t.Errorf("%s accuracy %.1f%% fell below 85%%", name, 100*rep.Accuracy)
		}
	}
}

// TestAfterFreeze scores the tables written after a frozen model, each in
// its own later commit and scored once:
//
//   - afterfreeze.jsonl, 321 utterances written after the first model
//     (25fed27): 97.8% on that model. The model was then retrained with
//     more written utterances (8f3df80); its misses were not added to the
//     training set, but the table is no longer unseen.
//   - afterfreeze2.jsonl, 319 utterances written after the second model
//     (8f3df80): 99.1% on that model (d0329ba).
//
// After that score one change was made because of what the two tables
// showed ("itu saja", "udah itu aja kak": several stop words were not
// given to the model at all); with it they score 98.4% and 99.4%, and are
// no longer unseen.
//
// Short common messages ("ok", "thanks", "itu saja") also occur in the
// training set (24 and 36 of them); they are left in, as citizens write
// them too.
func TestAfterFreeze(t *testing.T) {
	for _, name := range []string{"afterfreeze", "afterfreeze2"} {
		f, err := os.Open("testdata/" + name + ".jsonl")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Evaluate(f, NewMatcher())
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		rep.Write(&b)
		t.Logf("%s:\n%s", name, b.String())
		if rep.Total < 300 {
			t.Errorf("%s has %d utterances, want at least 300", name, rep.Total)
		}
		if rep.Accuracy < 0.90 {
			t.Errorf("%s accuracy %.1f%% fell below 90%%", name, 100*rep.Accuracy)
		}
	}
}
