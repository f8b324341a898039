package intent

import (
	"strings"
	"testing"
)

// TestTrainingSet checks the embedded set (every intent present, enough of
// it) and reports how the model does on the utterances it learnt from and,
// more honestly, on each fifth of them when trained on the other four.
func TestTrainingSet(t *testing.T) {
	ex, err := TrainingSet()
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, e := range ex {
		per[e.Intent]++
	}
	for _, n := range Names {
		if per[n] < 40 {
			t.Errorf("intent %s has %d training utterances, want at least 40", n, per[n])
		}
	}
	if len(ex) < 2000 {
		t.Errorf("training set has %d utterances, want at least 2000", len(ex))
	}
	m := NewMatcher()
	right := 0
	for _, e := range ex {
		if m.Match(e.Text).Intent == e.Intent {
			right++
		}
	}
	acc := float64(right) / float64(len(ex))
	t.Logf("training set: %d utterances (%d after augmentation); accuracy on it %.1f%%", len(ex), len(augment(ex)), 100*acc)
	if acc < 0.97 {
		t.Errorf("accuracy on the training set %.1f%%, want ≥ 97%%", 100*acc)
	}
}

func TestCrossValidation(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the model five times")
	}
	ex, err := TrainingSet()
	if err != nil {
		t.Fatal(err)
	}
	const folds = 5
	right := 0
	for k := range folds {
		var tr, te []Example
		for i, e := range ex {
			if i%folds == k {
				te = append(te, e)
			} else {
				tr = append(tr, e)
			}
		}
		m := newBareMatcher()
		m.model = train(augment(tr), newBareMatcher())
		for _, e := range te {
			if m.Match(e.Text).Intent == e.Intent {
				right++
			}
		}
	}
	acc := float64(right) / float64(len(ex))
	t.Logf("5-fold cross-validation on the training set: %.1f%%", 100*acc)
	if acc < 0.85 {
		t.Errorf("cross-validated accuracy %.1f%%, want ≥ 85%%", 100*acc)
	}
}

// TestIssueExamples are the misses quoted in issue 16.
func TestIssueExamples(t *testing.T) {
	m := NewMatcher()
	for _, c := range []struct{ text, want string }{
		{"minta file sertifikat vaksin dosis 2 dong", CertificateDownload},
		{"kirimin sertifikat vaksin sy ke sini bisa?", CertificateDownload},
		{"tanggal lahir ketuker bulan sama tanggalnya", ChangeData},
		{"jenis kelamin di sertifikat tertulis perempuan padahal sy laki2", ChangeData},
		{"Saya memohon penghapusan data pribadi saya sesuai UU PDP.", DeleteMyData},
		{"udh itu aja min", Done},
		{"ga ada lagi", Done},
		{"siapa presiden indonesia sekarang", Unknown},
		{"Selamat! Nomor Anda memenangkan hadiah Rp10.000.000, klik link berikut", Unknown},
		{"matur nuwun min", Thanks},
		{"👋", Greeting},
	} {
		if got := m.Match(c.text); got.Intent != c.want {
			t.Errorf("Match(%q) = %s via %s (%s), want %s", c.text, got.Intent, got.Via, got.Rule, c.want)
		}
	}
}

// TestSaysWhichPartDecided: a menu number, a rule the model agreed with,
// the model alone, and a guess below the threshold are told apart.
func TestSaysWhichPartDecided(t *testing.T) {
	m := NewMatcher()
	for _, c := range []struct{ text, via string }{
		{"1", "menu"},
		{"sertifikat saya belum muncul", "keyword"},
		{"tanggal lahir ketuker bulan sama tanggalnya", "model"},
		{"siapa presiden indonesia sekarang", "model"}, // sure it is off-topic
	} {
		got := m.Match(c.text)
		if got.Via != c.via {
			t.Errorf("Match(%q).Via = %s (%s), want %s", c.text, got.Via, got.Rule, c.via)
		}
		if got.Via == "model" && !strings.HasPrefix(got.Rule, "model ") {
			t.Errorf("Match(%q).Rule = %q, want the model's confidence", c.text, got.Rule)
		}
	}
}
