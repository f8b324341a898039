// Package campaign reads Bluetooth measurement campaigns in the DP-3T
// format and measures a scorer against their ground truth, so that a health
// authority can check the scorer on its own recordings before trusting it
// (`lindungi tracing eval`).
//
// A campaign file is an SQLite database with a table
// results(receiver_id, receiver_model, transmitter_id, transmitter_model,
// timestamp, rssi, tx_power, ground_truth_distance), one file a scenario.
package campaign

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // the campaign files are SQLite

	"lindungi/tracing/score"
)

// The truth of the first Sijejak issue: a pair is close when the share of
// its readings taken at ≤ TruthMeters, times the scenario's length, is at
// least TruthMinutes.
const (
	TruthMeters  = 2.0
	TruthMinutes = 10.0
)

// Pair is one direction of a contact: Receiver heard Transmitter.
type Pair struct{ Receiver, Transmitter string }

// Scenario is one recording.
type Scenario struct {
	Name    string
	Minutes float64
	// Readings by receiver; Contact is the transmitter's ID.
	Readings map[string][]score.Reading
	// Distances parallels Readings: each reading's ground-truth distance in
	// metres, NaN where the campaign has none (it counts as not near).
	Distances map[string][]float64
	Truth     map[Pair]bool
}

// Load reads one scenario file. Timestamps may be Unix seconds or
// milliseconds (DP-3T's README says milliseconds; its exp34 files hold
// seconds): values beyond the year 5000 in seconds are milliseconds.
func Load(path string) (*Scenario, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("campaign: %w", err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&immutable=1")
	if err != nil {
		return nil, fmt.Errorf("campaign: %s: %w", path, err)
	}
	defer db.Close()
	// The transmitter_model column repeats the receiver's model in some
	// campaigns, so a transmitter's model is taken from the rows where it
	// was the receiver, when it ever was.
	models := map[string]string{}
	rows, err := db.Query(`SELECT DISTINCT receiver_id, receiver_model FROM results`)
	if err != nil {
		return nil, fmt.Errorf("campaign: %s: %w", filepath.Base(path), err)
	}
	for rows.Next() {
		var id, m sql.NullString
		if err := rows.Scan(&id, &m); err != nil {
			rows.Close()
			return nil, fmt.Errorf("campaign: %s: %w", filepath.Base(path), err)
		}
		models[id.String] = m.String
	}
	rows.Close()
	var t0, t1 sql.NullFloat64
	if err := db.QueryRow(`SELECT MIN(timestamp), MAX(timestamp) FROM results`).Scan(&t0, &t1); err != nil {
		return nil, fmt.Errorf("campaign: %s: %w", filepath.Base(path), err)
	}
	if !t0.Valid {
		return nil, fmt.Errorf("campaign: %s: no readings", filepath.Base(path))
	}
	scale := 1.0
	if t1.Float64 > 1e11 {
		scale = 1e-3
	}
	sc := &Scenario{
		Name:      strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)),
		Minutes:   (t1.Float64 - t0.Float64) * scale / 60,
		Readings:  map[string][]score.Reading{},
		Distances: map[string][]float64{},
	}
	rows, err = db.Query(`SELECT receiver_id, receiver_model, transmitter_id, transmitter_model, timestamp, rssi, tx_power, ground_truth_distance FROM results`)
	if err != nil {
		return nil, fmt.Errorf("campaign: %s: %w", filepath.Base(path), err)
	}
	defer rows.Close()
	for rows.Next() {
		var rx, rxm, tx, txm sql.NullString
		var ts, rssi float64
		var txp, gt sql.NullFloat64
		if err := rows.Scan(&rx, &rxm, &tx, &txm, &ts, &rssi, &txp, &gt); err != nil {
			return nil, fmt.Errorf("campaign: %s: %w", filepath.Base(path), err)
		}
		model := txm.String
		if m, ok := models[tx.String]; ok && m != "" {
			model = m
		}
		sc.Readings[rx.String] = append(sc.Readings[rx.String], score.Reading{
			Contact: tx.String, Timestamp: ts * scale, RSSI: rssi, TxPower: txp.Float64, ModelC: rxm.String, ModelP: model,
		})
		d := math.NaN()
		if gt.Valid {
			d = gt.Float64
		}
		sc.Distances[rx.String] = append(sc.Distances[rx.String], d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("campaign: %s: %w", filepath.Base(path), err)
	}
	sc.truth()
	return sc, nil
}

// truth labels every pair from its readings' distances.
func (sc *Scenario) truth() {
	near, all := map[Pair]int{}, map[Pair]int{}
	for rx, rs := range sc.Readings {
		for i, r := range rs {
			k := Pair{rx, r.Contact}
			all[k]++
			if d := sc.Distances[rx][i]; d <= TruthMeters { // NaN is not near
				near[k]++
			}
		}
	}
	sc.Truth = make(map[Pair]bool, len(all))
	for k, n := range all {
		sc.Truth[k] = float64(near[k])/float64(n)*sc.Minutes >= TruthMinutes
	}
}

// Window cuts the scenario to the readings from `from` to `to` after its
// first one, as if only that part had been recorded: shorter scenarios
// for tuning without fitting the recordings' own lengths.
func (sc *Scenario) Window(from, to time.Duration) *Scenario {
	t0, t1 := math.Inf(1), math.Inf(-1)
	for _, rs := range sc.Readings {
		for _, r := range rs {
			t0 = math.Min(t0, r.Timestamp)
		}
	}
	lo, hi := t0+from.Seconds(), t0+to.Seconds()
	w := &Scenario{Name: fmt.Sprintf("%s[%v-%v]", sc.Name, from, to), Readings: map[string][]score.Reading{}, Distances: map[string][]float64{}}
	first := math.Inf(1)
	for rx, rs := range sc.Readings {
		for i, r := range rs {
			if r.Timestamp < lo || r.Timestamp >= hi {
				continue
			}
			w.Readings[rx] = append(w.Readings[rx], r)
			w.Distances[rx] = append(w.Distances[rx], sc.Distances[rx][i])
			first, t1 = math.Min(first, r.Timestamp), math.Max(t1, r.Timestamp)
		}
	}
	if len(w.Readings) > 0 {
		w.Minutes = (t1 - first) / 60
	}
	w.truth()
	return w
}

// LoadDir reads every *.sqlite and *.db file in dir, in name order.
func LoadDir(dir string) ([]*Scenario, error) {
	var paths []string
	for _, pat := range []string{"*.sqlite", "*.sqlite3", "*.db"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, fmt.Errorf("campaign: %w", err)
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("campaign: no *.sqlite or *.db files in %s", dir)
	}
	sort.Strings(paths)
	out := make([]*Scenario, 0, len(paths))
	for _, p := range paths {
		sc, err := Load(p)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// Confusion counts verdicts against the truth, pair by pair.
type Confusion struct{ TP, FP, FN, TN int }

// Add returns the sum of two confusions.
func (c Confusion) Add(o Confusion) Confusion {
	return Confusion{c.TP + o.TP, c.FP + o.FP, c.FN + o.FN, c.TN + o.TN}
}

// Precision is TP / (TP + FP); 0 when nothing was called close.
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP / (TP + FN); 0 when nothing was close.
func (c Confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall.
func (c Confusion) F1() float64 {
	p, r := c.Precision(), c.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func (c Confusion) String() string {
	return fmt.Sprintf("P=%.3f R=%.3f F1=%.3f (tp=%d fp=%d fn=%d tn=%d)", c.Precision(), c.Recall(), c.F1(), c.TP, c.FP, c.FN, c.TN)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Evaluate scores every receiver's readings as one upload (all of them are
// its scan timeline) and compares each contact's verdict with the truth.
func Evaluate(s *score.Scorer, sc *Scenario) Confusion {
	var c Confusion
	for rx, rs := range sc.Readings {
		for _, v := range s.Score(rs) {
			truth := sc.Truth[Pair{rx, v.Contact}]
			switch {
			case v.Close && truth:
				c.TP++
			case v.Close:
				c.FP++
			case truth:
				c.FN++
			default:
				c.TN++
			}
		}
	}
	return c
}

// Result is one scenario's evaluation.
type Result struct {
	Scenario string
	Minutes  float64
	Pairs    int
	Close    int
	Confusion
}

// Report evaluates every scenario.
func Report(s *score.Scorer, scs []*Scenario) []Result {
	out := make([]Result, 0, len(scs))
	for _, sc := range scs {
		n := 0
		for _, v := range sc.Truth {
			if v {
				n++
			}
		}
		out = append(out, Result{Scenario: sc.Name, Minutes: sc.Minutes, Pairs: len(sc.Truth), Close: n, Confusion: Evaluate(s, sc)})
	}
	return out
}

// Write prints results as a table with a pooled last row.
func Write(w io.Writer, rs []Result) error {
	if len(rs) == 0 {
		return errors.New("campaign: nothing to report")
	}
	var all Confusion
	pairs, closeN := 0, 0
	if _, err := fmt.Fprintf(w, "%-28s %6s %6s %6s %9s %9s %6s %5s %5s %5s\n", "scenario", "min", "pairs", "close", "precision", "recall", "F1", "tp", "fp", "fn"); err != nil {
		return err
	}
	for _, r := range rs {
		all = all.Add(r.Confusion)
		pairs += r.Pairs
		closeN += r.Close
		if _, err := fmt.Fprintf(w, "%-28s %6.1f %6d %6d %9.3f %9.3f %6.3f %5d %5d %5d\n", r.Scenario, r.Minutes, r.Pairs, r.Close, r.Precision(), r.Recall(), r.F1(), r.TP, r.FP, r.FN); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%-28s %6s %6d %6d %9.3f %9.3f %6.3f %5d %5d %5d\n", "all", "", pairs, closeN, all.Precision(), all.Recall(), all.F1(), all.TP, all.FP, all.FN)
	return err
}
