package campaign

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"lindungi/store/storetest"
	"lindungi/tracing/score"
)

// The DP-3T experiment 34 recordings (CC BY-ND 4.0, EPFL/ETH) live outside
// the repository; LINDUNGI_BLE_DATA overrides where.
func bleDir() string {
	if d := os.Getenv("LINDUNGI_BLE_DATA"); d != "" {
		return d
	}
	return "../../../shared/data/ble"
}

func loadExp34(t testing.TB, names ...string) []*Scenario {
	t.Helper()
	var out []*Scenario
	for _, n := range names {
		m, _ := filepath.Glob(filepath.Join(bleDir(), "dp3t-exp34", "scenario"+n+"-*.sqlite"))
		if len(m) != 1 {
			storetest.SkipOrFail(t, fmt.Sprintf("DP-3T experiment 34 scenario %s not found under %s (set LINDUNGI_BLE_DATA)", n, bleDir()))
		}
		sc, err := Load(m[0])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sc)
	}
	return out
}

func pooled(s *score.Scorer, scs []*Scenario) Confusion {
	var c Confusion
	for _, sc := range scs {
		c = c.Add(Evaluate(s, sc))
	}
	return c
}

func calibration(t testing.TB) *score.Calibration {
	c, err := score.LoadCalibration(filepath.Join(bleDir(), "gaen-calibration", "en-calibration-2020-06-13.csv"))
	if err != nil {
		storetest.SkipOrFail(t, err.Error())
	}
	return c
}

// Floors for the default scorer at the truth's 10 minutes. The defaults
// were chosen on 01–03 only; 04–06 were held out. Measured when they were
// set: 01–03 F1 0.642, 04–06 F1 0.397 (P 0.451). The goal for
// 04–06 (F1 ≥ 0.50 at P ≥ 0.50) is not reached; these floors only stop it
// getting worse. Before this scorer: 0.506 and 0.158.
const (
	floorTuning  = 0.60
	floorHeldOut = 0.39
)

func TestDefaultScorerOnDP3T(t *testing.T) {
	tuning := loadExp34(t, "01", "02", "03")
	held := loadExp34(t, "04", "05", "06")
	for _, tc := range []struct {
		name string
		p    score.Params
	}{
		{"defaults, built-in calibration", score.Params{MinMinutes: TruthMinutes}},
		{"defaults, GAEN table", score.Params{MinMinutes: TruthMinutes, Calibration: calibration(t)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := score.New(tc.p)
			for _, sc := range append(append([]*Scenario(nil), tuning...), held...) {
				t.Logf("%-22s %v", sc.Name, Evaluate(s, sc))
			}
			ct, ch := pooled(s, tuning), pooled(s, held)
			t.Logf("01–03: %v", ct)
			t.Logf("04–06: %v", ch)
			if ct.F1() < floorTuning {
				t.Errorf("F1 on 01–03 = %.3f, below %.2f", ct.F1(), floorTuning)
			}
			if ch.F1() < floorHeldOut {
				t.Errorf("F1 on held-out 04–06 = %.3f, below %.2f", ch.F1(), floorHeldOut)
			}
		})
	}
}

// TestTune is the training script of the defaults: a grid over the two
// buckets on 01–03 only, whole and cut into 20- and 30-minute windows (so
// that the recordings' lengths are not what gets fitted), ranked by pooled
// F1. Opt-in:
//
//	LINDUNGI_SCORE_TUNE=1 go test ./tracing/campaign -run TestTune -v
func TestTune(t *testing.T) {
	if os.Getenv("LINDUNGI_SCORE_TUNE") == "" {
		t.Skip("set LINDUNGI_SCORE_TUNE=1")
	}
	var set []*Scenario
	for _, sc := range loadExp34(t, "01", "02", "03") {
		set = append(set, sc)
		for _, w := range [][2]time.Duration{{0, 20 * time.Minute}, {10 * time.Minute, 30 * time.Minute}} {
			set = append(set, sc.Window(w[0], w[1]))
		}
	}
	type row struct {
		f1   float64
		line string
	}
	var out []row
	for near := 55.0; near <= 69; near++ {
		for med := near; med <= 75; med++ {
			s := score.New(score.Params{MinMinutes: TruthMinutes, NearDB: near, MediumDB: med})
			c := pooled(s, set)
			out = append(out, row{c.F1(), fmt.Sprintf("near=%v medium=%v %v", near, med, c)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].f1 > out[j].f1 })
	for _, r := range out[:min(40, len(out))] {
		t.Log(r.line)
	}
}

// TestCeiling bounds what the bucket rule can reach on recordings as short
// as the held-out ones (04–05 last 20 minutes, 06 eleven): it cuts 01–03
// into windows of those lengths and reports the best F1 over every bucket
// pair, overall and at precision ≥ 0.5. These figures are in-sample (the
// grid is searched on the windows it is scored on), so they are a ceiling
// for the rule, not an estimate. Opt-in, like TestTune:
//
//	LINDUNGI_SCORE_TUNE=1 go test ./tracing/campaign -run TestCeiling -v
func TestCeiling(t *testing.T) {
	if os.Getenv("LINDUNGI_SCORE_TUNE") == "" {
		t.Skip("set LINDUNGI_SCORE_TUNE=1")
	}
	scs := loadExp34(t, "01", "02", "03")
	for _, length := range []time.Duration{20 * time.Minute, 11 * time.Minute} {
		var set []*Scenario
		for _, sc := range scs {
			for from := time.Duration(0); from+length <= 29*time.Minute; from += 9 * time.Minute {
				set = append(set, sc.Window(from, from+length))
			}
		}
		var best, bestP Confusion
		var at, atP string
		for near := 55.0; near <= 69; near++ {
			for med := near; med <= 75; med++ {
				c := pooled(score.New(score.Params{MinMinutes: TruthMinutes, NearDB: near, MediumDB: med}), set)
				if c.F1() > best.F1() {
					best, at = c, fmt.Sprintf("near=%v medium=%v", near, med)
				}
				if c.Precision() >= 0.5 && c.F1() > bestP.F1() {
					bestP, atP = c, fmt.Sprintf("near=%v medium=%v", near, med)
				}
			}
		}
		t.Logf("%v windows (%d): best %s %v; best at P>=0.5 %s %v", length, len(set), at, best, atP, bestP)
	}
}

// writeCampaign makes a DP-3T-format file from rows
// (rx, tx, timestamp, rssi, distance).
func writeCampaign(t *testing.T, path string, rows [][5]any) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE results(db_id INTEGER PRIMARY KEY, receiver_id TEXT NOT NULL, receiver_model TEXT NOT NULL,
		transmitter_id TEXT NOT NULL, transmitter_model TEXT NOT NULL, timestamp REAL NOT NULL, rssi INTEGER NOT NULL, tx_power INTEGER, ground_truth_distance REAL)`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if _, err := db.Exec(`INSERT INTO results(receiver_id, receiver_model, transmitter_id, transmitter_model, timestamp, rssi, tx_power, ground_truth_distance)
			VALUES (?, 'SM-G973F', ?, 'SM-G973F', ?, ?, NULL, ?)`, r[0], r[1], r[2], r[3], r[4]); err != nil {
			t.Fatal(err)
		}
	}
}

// Twenty minutes, a scan every four: "a" heard "b" near all along, "c" far
// and "d" with no ground truth.
func syntheticRows(scale float64) [][5]any {
	var rows [][5]any
	for i := 0; i <= 5; i++ {
		ts := (1_596_000_000 + float64(i)*240) * scale
		rows = append(rows, [5]any{"a", "b", ts, -70, 1.0}, [5]any{"a", "c", ts, -95, 6.0}, [5]any{"a", "d", ts, -70, nil})
	}
	return rows
}

func TestLoadAndEvaluate(t *testing.T) {
	dir := t.TempDir()
	writeCampaign(t, filepath.Join(dir, "s1-seconds.sqlite"), syntheticRows(1))
	writeCampaign(t, filepath.Join(dir, "s2-millis.db"), syntheticRows(1000))
	scs, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) != 2 {
		t.Fatalf("%d scenarios", len(scs))
	}
	for _, sc := range scs {
		if sc.Minutes != 20 {
			t.Errorf("%s: %v minutes, want 20 (timestamps in seconds and in milliseconds)", sc.Name, sc.Minutes)
		}
		want := map[Pair]bool{{"a", "b"}: true, {"a", "c"}: false, {"a", "d"}: false}
		for k, v := range want {
			if sc.Truth[k] != v {
				t.Errorf("%s: truth %v = %v, want %v", sc.Name, k, sc.Truth[k], v)
			}
		}
		// "d" is near by signal but has no ground truth: a false positive.
		c := Evaluate(score.New(score.Params{MinMinutes: TruthMinutes}), sc)
		if c != (Confusion{TP: 1, FP: 1, TN: 1}) {
			t.Errorf("%s: %+v", sc.Name, c)
		}
	}
	var out strings.Builder
	if err := Write(&out, Report(score.New(score.Params{MinMinutes: TruthMinutes}), scs)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "s2-millis") || !strings.Contains(out.String(), "0.500     1.000  0.667") {
		t.Errorf("report:\n%s", out.String())
	}
	// A window keeps its own truth: the first 8 minutes hold two scans, 4
	// minutes apart, too short for anyone to be close.
	w := scs[0].Window(0, 8*time.Minute)
	if w.Minutes != 4 || w.Truth[Pair{"a", "b"}] {
		t.Errorf("window: %v min, truth %v", w.Minutes, w.Truth)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := LoadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no *.sqlite") {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.sqlite")); err == nil {
		t.Error("missing file accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.sqlite")
	db, _ := sql.Open("sqlite3", bad)
	db.Exec(`CREATE TABLE other(x)`)
	db.Close()
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "bad.sqlite") {
		t.Errorf("no results table: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.sqlite")
	writeCampaign(t, empty, nil)
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), "no readings") {
		t.Errorf("empty table: %v", err)
	}
}
