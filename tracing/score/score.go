// Package score turns Bluetooth readings into close-contact verdicts: GAEN
// calibration per device model, attenuation, one-sided-fading smoothing,
// scan-gap-aware durations and the weighted-minutes rule. It is pure (no
// database, no clock) so the matcher, the CLI and the evaluation share it.
package score

import (
	"math"
	"sort"
	"time"
)

// Reading is one received advertisement: the central (modelC) heard the
// peripheral (modelP) at RSSI dBm. TxPower is what the peripheral advertised
// (0: unknown); Timestamp is Unix seconds.
type Reading struct {
	Contact   string  `json:"contact"`
	Timestamp float64 `json:"timestamp"`
	RSSI      float64 `json:"rssi"`
	TxPower   float64 `json:"txPower"`
	ModelC    string  `json:"modelC"`
	ModelP    string  `json:"modelP"`
}

// Verdict is the result for one contact.
type Verdict struct {
	Contact         string  `json:"contact"`
	WeightedMinutes float64 `json:"weightedMinutes"`
	Close           bool    `json:"close"`
}

// Params configure a Scorer. Zero fields take the defaults below.
type Params struct {
	// MinMinutes: a contact is close at ≥ this many weighted minutes (15).
	MinMinutes float64
	// Attenuation buckets: ≤ NearDB counts NearWeight, (NearDB, MediumDB]
	// counts MediumWeight, above counts nothing (55, 63, 1.0, 0.5).
	NearDB, MediumDB         float64
	NearWeight, MediumWeight float64
	// Window: each reading's attenuation is replaced by the lowest
	// attenuation (strongest signal) within ±Window/2. Fading — bodies,
	// pockets, multipath — only ever weakens a signal, so the strongest recent
	// reading is the best estimate of the true path loss. Negative disables.
	Window time.Duration
	// MaxGap caps how long one scan (or reading) stands for, whatever the
	// gap to its neighbour: a phone scans every few minutes, so a longer
	// silence means the contact was away (see Durations).
	MaxGap time.Duration
	// Calibration per device model; nil uses DefaultDevice for everyone.
	Calibration *Calibration
	// Durations chooses how time is attributed to readings: DurationsScan
	// (default) or DurationsForward.
	Durations Durations
}

// Durations is a rule for turning reading times into exposure time.
type Durations int

const (
	// DurationsScan is GAEN's rule: readings closer than a minute are one
	// scan; each scan in which the contact was heard stands for the time
	// since the previous scan (capped at MaxGap); the first stands for the
	// contact's typical scan interval. A phone that is heard in a scan was
	// around since the scan before.
	DurationsScan Durations = iota
	// DurationsForward: each reading stands for the time until the next one
	// (capped at MaxGap); the last for the typical interval.
	DurationsForward
)

// burstGap separates scans: readings within one scan come a fraction of a
// second apart, scans minutes apart.
const burstGap = 60.0

// Defaults. The buckets are the deployed exposure apps' (DP-3T, CWA). The
// window is one scan burst (GAEN scans for a few seconds every 3.5–5
// minutes; within a burst only fading separates readings); the gap cap is
// GAEN's longest scan interval. Neither was fitted to data.
const (
	DefaultMinMinutes   = 15
	DefaultNearDB       = 55
	DefaultMediumDB     = 63
	DefaultNearWeight   = 1.0
	DefaultMediumWeight = 0.5
	DefaultWindow       = time.Minute
	DefaultMaxGap       = 5 * time.Minute
)

func (p Params) withDefaults() Params {
	if p.MinMinutes == 0 {
		p.MinMinutes = DefaultMinMinutes
	}
	if p.NearDB == 0 {
		p.NearDB = DefaultNearDB
	}
	if p.MediumDB == 0 {
		p.MediumDB = DefaultMediumDB
	}
	if p.NearWeight == 0 {
		p.NearWeight = DefaultNearWeight
	}
	if p.MediumWeight == 0 {
		p.MediumWeight = DefaultMediumWeight
	}
	if p.Window == 0 {
		p.Window = DefaultWindow
	}
	if p.Window < 0 {
		p.Window = 0
	}
	if p.MaxGap <= 0 {
		p.MaxGap = DefaultMaxGap
	}
	return p
}

// Scorer scores readings. It is safe for concurrent use once built.
type Scorer struct {
	p Params
}

// New builds a Scorer.
func New(p Params) *Scorer { return &Scorer{p: p.withDefaults()} }

// Params returns the effective parameters.
func (s *Scorer) Params() Params { return s.p }

// Attenuation is calibrated tx power of the transmitter (peripheral) minus
// the receiver's (central's) RSSI corrected to the iPhone reference. A
// reported txPower is used only when the transmitter's model is not known:
// the table's value is in GAEN's reference frame, an advertised one is not.
func (s *Scorer) Attenuation(r Reading) float64 {
	return s.attenuation(r, map[string]cached{})
}

func (s *Scorer) attenuation(r Reading, cache map[string]cached) float64 {
	p := s.device(r.ModelP, cache)
	c := s.device(r.ModelC, cache)
	tx := p.TxPower
	if !p.found && r.TxPower != 0 {
		tx = r.TxPower
	}
	return tx - (r.RSSI + c.RSSICorrection)
}

type cached struct {
	Device
	found bool
}

func (s *Scorer) device(model string, cache map[string]cached) cached {
	if d, ok := cache[model]; ok {
		return d
	}
	d, found := s.p.Calibration.Lookup(model)
	c := cached{Device: d, found: found}
	cache[model] = c
	return c
}

// Score groups readings by contact and returns one verdict per contact,
// ordered by contact.
func (s *Scorer) Score(readings []Reading) []Verdict {
	by := map[string][]Reading{}
	for _, r := range readings {
		by[r.Contact] = append(by[r.Contact], r)
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cache := map[string]cached{}
	out := make([]Verdict, 0, len(keys))
	for _, k := range keys {
		wm := s.weightedMinutes(by[k], cache)
		out = append(out, Verdict{Contact: k, WeightedMinutes: math.Round(wm*100) / 100, Close: wm >= s.p.MinMinutes})
	}
	return out
}

// WeightedMinutes scores one contact's readings (any order).
func (s *Scorer) WeightedMinutes(rs []Reading) float64 {
	return s.weightedMinutes(rs, map[string]cached{})
}

func (s *Scorer) weightedMinutes(rs []Reading, cache map[string]cached) float64 {
	if len(rs) == 0 {
		return 0
	}
	rs = append([]Reading(nil), rs...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Timestamp < rs[j].Timestamp })
	n := len(rs)
	att := make([]float64, n)
	for i, r := range rs {
		att[i] = s.attenuation(r, cache)
	}
	smooth := windowMin(rs, att, s.p.Window.Seconds()/2)

	maxGap := s.p.MaxGap.Seconds()
	if s.p.Durations == DurationsScan {
		return s.scanMinutes(rs, smooth, maxGap)
	}
	gaps := make([]float64, 0, n)
	for i := 0; i+1 < n; i++ {
		gaps = append(gaps, rs[i+1].Timestamp-rs[i].Timestamp)
	}
	last := typicalInterval(gaps, maxGap)
	var secs float64
	for i := 0; i < n; i++ {
		d := last
		if i+1 < n {
			d = math.Min(rs[i+1].Timestamp-rs[i].Timestamp, maxGap)
		}
		secs += d * s.weight(smooth[i])
	}
	return secs / 60
}

func (s *Scorer) weight(att float64) float64 {
	switch {
	case att <= s.p.NearDB:
		return s.p.NearWeight
	case att <= s.p.MediumDB:
		return s.p.MediumWeight
	}
	return 0
}

// windowMin returns, for each i, the minimum of att over readings within
// ±half seconds of reading i (rs sorted by time). Monotonic deque: O(n).
func windowMin(rs []Reading, att []float64, half float64) []float64 {
	n := len(rs)
	out := make([]float64, n)
	if half <= 0 {
		copy(out, att)
		return out
	}
	dq := make([]int, 0, n) // indices, att increasing
	hi := 0
	lo := 0
	for i := 0; i < n; i++ {
		for hi < n && rs[hi].Timestamp <= rs[i].Timestamp+half {
			for len(dq) > 0 && att[dq[len(dq)-1]] >= att[hi] {
				dq = dq[:len(dq)-1]
			}
			dq = append(dq, hi)
			hi++
		}
		for rs[lo].Timestamp < rs[i].Timestamp-half {
			lo++
		}
		for len(dq) > 0 && dq[0] < lo {
			dq = dq[1:]
		}
		out[i] = att[dq[0]]
	}
	return out
}

// Thresholds tuned on DP-3T experiment 34 scenarios 01–03 (phones in
// pockets and on tables): bodies and pockets add ≈ 8 dB over the deployed
// 55/63 buckets, in line with DP-3T's own per-reading finding that 60 dB
// recovers most ≤ 2 m readings. Opt-in through configuration.
const (
	TunedNearDB   = 63
	TunedMediumDB = 67
)

// typicalInterval is the median gap between scans (gaps longer than a
// burst), capped; maxGap when there is none.
func typicalInterval(gaps []float64, maxGap float64) float64 {
	var long []float64
	for _, g := range gaps {
		if g > burstGap {
			long = append(long, g)
		}
	}
	if len(long) == 0 {
		return maxGap
	}
	sort.Float64s(long)
	return math.Min(long[(len(long)-1)/2], maxGap) // lower median: conservative
}

func (s *Scorer) scanMinutes(rs []Reading, smooth []float64, maxGap float64) float64 {
	type scan struct{ start, att float64 }
	var scans []scan
	for i, r := range rs {
		if len(scans) == 0 || r.Timestamp-rs[i-1].Timestamp > burstGap {
			scans = append(scans, scan{start: r.Timestamp, att: smooth[i]})
			continue
		}
		if last := &scans[len(scans)-1]; smooth[i] < last.att {
			last.att = smooth[i]
		}
	}
	gaps := make([]float64, 0, len(scans))
	for k := 1; k < len(scans); k++ {
		gaps = append(gaps, scans[k].start-scans[k-1].start)
	}
	first := typicalInterval(gaps, maxGap)
	var secs float64
	for k, sc := range scans {
		d := first
		if k > 0 {
			d = math.Min(gaps[k-1], maxGap)
		}
		secs += d * s.weight(sc.att)
	}
	return secs / 60
}
