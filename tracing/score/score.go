// Package score turns Bluetooth readings into close-contact verdicts: GAEN
// calibration per device model, attenuation, the receiver's scan timeline,
// per-scan minimum attenuation and the weighted-minutes rule. It is pure (no
// database, no clock) so the matcher, the CLI and the evaluation share it.
//
// How a contact's minutes are counted, and why:
//
//   - The receiver's own readings, of every contact, are its scan timeline.
//     Readings less than instanceGap apart belong to one scan instance;
//     an instance is cut after instanceMax so that apps that scan all the
//     time are read as one instance a minute, and apps that scan for a few
//     seconds every few minutes (GAEN) as one instance a scan.
//   - An instance stands for the time since the receiver's previous one,
//     capped at MaxGap (a phone that was switched off did not watch anyone);
//     the day's first stands for the receiver's typical interval.
//   - In each instance where the contact was heard, its strongest reading
//     (lowest attenuation, GAEN v2's minAttenuation) decides the weight:
//     fading — bodies, pockets, bags — only ever weakens a signal.
//   - An instance in which the receiver heard others but not this contact
//     is evidence of absence, but weak: phones in pockets are missed in
//     many scans while the person stays. Missed instances between two in
//     which the contact was heard, no more than Bridge apart (GAEN's
//     exposure window, 30 minutes), count with the mean weight of the two;
//     a longer silence means the contact left.
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
	// MinMinutes: a contact is close at ≥ this many weighted minutes.
	MinMinutes float64
	// Attenuation buckets: ≤ NearDB counts NearWeight, (NearDB, MediumDB]
	// counts MediumWeight, above counts nothing.
	NearDB, MediumDB         float64
	NearWeight, MediumWeight float64
	// MaxGap caps how long one scan instance stands for, whatever the gap
	// to the receiver's previous one.
	MaxGap time.Duration
	// Bridge: missed scan instances between two in which the contact was
	// heard count when those two are at most this far apart. Negative
	// disables bridging.
	Bridge time.Duration
	// Calibration per device model; nil uses built-in fallbacks (see
	// Calibration.Lookup).
	Calibration *Calibration
}

// Defaults.
//
// The buckets were chosen on DP-3T experiment 34, scenarios 01–03 only
// (lunch, train, office; phones in pockets and on desks), as the centre of
// the plateau where F1 is best both on the whole scenarios and on 20- and
// 30-minute windows cut from them (so that scenario length is not fitted):
// near 61–64, medium 67–68. They sit ≈8 dB above the 55/63 dB buckets the
// exposure apps shipped in 2020, which were calibrated for phones held in
// the open; a phone in a pocket loses about that much. 04–06 were kept
// aside and only evaluated (see tracing/campaign and ARCHITECTURE.md).
//
// MaxGap is GAEN's longest scan interval; Bridge its exposure window. Neither
// was fitted: on 01–03 any bridge from 0 to 60 minutes scores within 0.005 F1.
const (
	DefaultMinMinutes   = 15
	DefaultNearDB       = 63
	DefaultMediumDB     = 67
	DefaultNearWeight   = 1.0
	DefaultMediumWeight = 0.5
	DefaultMaxGap       = 5 * time.Minute
	DefaultBridge       = 30 * time.Minute
)

// Scan instances: readings closer than instanceGap seconds are one
// instance, and no instance is longer than instanceMax seconds.
const (
	instanceGap = 15.0
	instanceMax = 60.0
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
	if p.MaxGap <= 0 {
		p.MaxGap = DefaultMaxGap
	}
	if p.Bridge == 0 {
		p.Bridge = DefaultBridge
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

// Timeline is one receiver's scan instances: when each began and how long
// it stands for. Build it from every reading the receiver made in the
// period scored, not only one contact's.
type Timeline struct {
	starts []float64 // Unix seconds, increasing
	durs   []float64 // seconds
}

// Timeline builds the receiver's scan timeline from the timestamps of all
// its readings (any order; ts is not modified).
func (s *Scorer) Timeline(ts []float64) *Timeline {
	sorted := append([]float64(nil), ts...)
	sort.Float64s(sorted)
	return s.timelineSorted(sorted)
}

func (s *Scorer) timelineSorted(ts []float64) *Timeline {
	tl := &Timeline{}
	last := math.Inf(-1)
	for _, t := range ts {
		if n := len(tl.starts); n == 0 || t-last > instanceGap || t-tl.starts[n-1] >= instanceMax {
			tl.starts = append(tl.starts, t)
		}
		last = t
	}
	n := len(tl.starts)
	if n == 0 {
		return tl
	}
	maxGap := s.p.MaxGap.Seconds()
	tl.durs = make([]float64, n)
	gaps := make([]float64, 0, n-1)
	for k := 1; k < n; k++ {
		g := tl.starts[k] - tl.starts[k-1]
		gaps = append(gaps, g)
		tl.durs[k] = math.Min(g, maxGap)
	}
	tl.durs[0] = typicalInterval(gaps, maxGap)
	return tl
}

// Instances is the number of scan instances.
func (tl *Timeline) Instances() int { return len(tl.starts) }

// typicalInterval is the lower median of the gaps between instances,
// capped; maxGap when there is none.
func typicalInterval(gaps []float64, maxGap float64) float64 {
	if len(gaps) == 0 {
		return maxGap
	}
	g := append([]float64(nil), gaps...)
	sort.Float64s(g)
	return math.Min(g[(len(g)-1)/2], maxGap)
}

// instance returns the index of the instance a reading at t belongs to:
// the last one that began at or before t (the first for earlier readings).
func (tl *Timeline) instance(t float64) int {
	i := sort.Search(len(tl.starts), func(i int) bool { return tl.starts[i] > t }) - 1
	return max(i, 0)
}

// Score groups readings by contact and returns one verdict per contact,
// ordered by contact. All readings are taken to come from one receiver:
// together they are its scan timeline.
func (s *Scorer) Score(readings []Reading) []Verdict {
	by := map[string][]Reading{}
	ts := make([]float64, 0, len(readings))
	for _, r := range readings {
		by[r.Contact] = append(by[r.Contact], r)
		ts = append(ts, r.Timestamp)
	}
	tl := s.Timeline(ts)
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cache := map[string]cached{}
	out := make([]Verdict, 0, len(keys))
	for _, k := range keys {
		wm := s.weightedMinutes(tl, by[k], cache)
		out = append(out, Verdict{Contact: k, WeightedMinutes: math.Round(wm*100) / 100, Close: wm >= s.p.MinMinutes})
	}
	return out
}

// WeightedMinutes scores one contact's readings (any order) on the
// receiver's timeline tl. A nil tl uses the contact's own readings as the
// timeline: no evidence of absence, so it can only count more.
func (s *Scorer) WeightedMinutes(tl *Timeline, rs []Reading) float64 {
	return s.weightedMinutes(tl, rs, map[string]cached{})
}

func (s *Scorer) weightedMinutes(tl *Timeline, rs []Reading, cache map[string]cached) float64 {
	if len(rs) == 0 {
		return 0
	}
	rs = append([]Reading(nil), rs...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Timestamp < rs[j].Timestamp })
	if tl == nil || len(tl.starts) == 0 {
		ts := make([]float64, len(rs))
		for i, r := range rs {
			ts[i] = r.Timestamp
		}
		tl = s.timelineSorted(ts)
	}
	// The contact's instances, in order, each with its strongest reading.
	type heard struct {
		k   int
		att float64
	}
	var hs []heard
	for _, r := range rs {
		k, a := tl.instance(r.Timestamp), s.attenuation(r, cache)
		if n := len(hs); n > 0 && hs[n-1].k == k {
			hs[n-1].att = math.Min(hs[n-1].att, a)
			continue
		}
		hs = append(hs, heard{k, a})
	}
	bridge := s.p.Bridge.Seconds()
	var secs float64
	for j, h := range hs {
		w := s.weight(h.att)
		secs += tl.durs[h.k] * w
		if j == 0 {
			continue
		}
		prev := hs[j-1]
		if h.k == prev.k+1 || bridge <= 0 || tl.starts[h.k]-tl.starts[prev.k] > bridge {
			continue
		}
		fill := (s.weight(prev.att) + w) / 2
		for k := prev.k + 1; k < h.k; k++ {
			secs += tl.durs[k] * fill
		}
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
