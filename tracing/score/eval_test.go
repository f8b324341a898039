package score

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"lindungi/store/storetest"
)

// The DP-3T experiment 34 recordings (CC BY-ND 4.0, EPFL/ETH) live outside
// the repository; LINDUNGI_BLE_DATA overrides where.
func bleDir() string {
	if d := os.Getenv("LINDUNGI_BLE_DATA"); d != "" {
		return d
	}
	return "../../../shared/data/ble"
}

type scenario struct {
	name string
	// by receiver: its readings, contact = transmitter ID
	readings map[string][]Reading
	truth    map[[2]string]bool // (receiver, transmitter) → close
}

// loadScenario reads one results table. Timestamps are Unix seconds (the
// source README says milliseconds; the data says otherwise). The
// transmitter_model column repeats the receiver's model, so the
// transmitter's model is taken from the rows where it was the receiver.
func loadScenario(t testing.TB, path string) scenario {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	models := map[string]string{}
	rows, err := db.Query(`SELECT DISTINCT receiver_id, receiver_model FROM results`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, m string
		rows.Scan(&id, &m)
		models[id] = m
	}
	rows.Close()
	var t0, t1 float64
	if err := db.QueryRow(`SELECT MIN(timestamp), MAX(timestamp) FROM results`).Scan(&t0, &t1); err != nil {
		t.Fatal(err)
	}
	minutes := (t1 - t0) / 60
	rows, err = db.Query(`SELECT receiver_id, receiver_model, transmitter_id, transmitter_model, timestamp, rssi, COALESCE(tx_power, 0), ground_truth_distance FROM results`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	sc := scenario{name: filepath.Base(path), readings: map[string][]Reading{}, truth: map[[2]string]bool{}}
	near := map[[2]string]int{}
	all := map[[2]string]int{}
	for rows.Next() {
		var rx, rxm, tx, txm string
		var ts, rssi, txp float64
		var gt sql.NullFloat64
		if err := rows.Scan(&rx, &rxm, &tx, &txm, &ts, &rssi, &txp, &gt); err != nil {
			t.Fatal(err)
		}
		if m, ok := models[tx]; ok {
			txm = m
		}
		sc.readings[rx] = append(sc.readings[rx], Reading{Contact: tx, Timestamp: ts, RSSI: rssi, TxPower: txp, ModelC: rxm, ModelP: txm})
		k := [2]string{rx, tx}
		all[k]++
		if gt.Valid && gt.Float64 <= 2.0 {
			near[k]++
		}
	}
	for k, n := range all {
		sc.truth[k] = float64(near[k])/float64(n)*minutes >= 10
	}
	return sc
}

func loadScenarios(t testing.TB, names ...string) []scenario {
	var out []scenario
	for _, n := range names {
		m, _ := filepath.Glob(filepath.Join(bleDir(), "dp3t-exp34", "scenario"+n+"-*.sqlite"))
		if len(m) != 1 {
			storetest.SkipOrFail(t, fmt.Sprintf("DP-3T experiment 34 scenario %s not found under %s (set LINDUNGI_BLE_DATA)", n, bleDir()))
		}
		out = append(out, loadScenario(t, m[0]))
	}
	return out
}

type confusion struct{ tp, fp, fn, tn int }

func (c confusion) precision() float64 { return ratio(c.tp, c.tp+c.fp) }
func (c confusion) recall() float64    { return ratio(c.tp, c.tp+c.fn) }
func (c confusion) f1() float64 {
	p, r := c.precision(), c.recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
func (c confusion) String() string {
	return fmt.Sprintf("P=%.3f R=%.3f F1=%.3f (tp=%d fp=%d fn=%d tn=%d)", c.precision(), c.recall(), c.f1(), c.tp, c.fp, c.fn, c.tn)
}

func evaluate(s *Scorer, scs []scenario) confusion {
	var c confusion
	for _, sc := range scs {
		for rx, rs := range sc.readings {
			for _, v := range s.Score(rs) {
				truth := sc.truth[[2]string{rx, v.Contact}]
				switch {
				case v.Close && truth:
					c.tp++
				case v.Close:
					c.fp++
				case truth:
					c.fn++
				default:
					c.tn++
				}
			}
		}
	}
	return c
}

func calib(t testing.TB) *Calibration {
	c, err := LoadCalibration(filepath.Join(bleDir(), "gaen-calibration", "en-calibration-2020-06-13.csv"))
	if err != nil {
		storetest.SkipOrFail(t, err.Error())
	}
	return c
}
