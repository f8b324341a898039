package score

import (
	"math"
	"testing"
	"time"
)

// Default calibration: attenuation = -24 - (rssi - 3) = -21 - rssi, so
// rssi -70 is 49 dB (near), -86 is 65 dB (medium), -95 is 74 dB (far).
const (
	rssiNear   = -70
	rssiMedium = -86
	rssiFar    = -95
)

// scans returns one reading of contact at each time, at rssi.
func scans(contact string, rssi float64, times ...float64) []Reading {
	out := make([]Reading, len(times))
	for i, ts := range times {
		out[i] = Reading{Contact: contact, Timestamp: ts, RSSI: rssi}
	}
	return out
}

// every returns n times step seconds apart from start.
func every(start, step float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = start + float64(i)*step
	}
	return out
}

func TestWeightedMinutes(t *testing.T) {
	s := New(Params{})
	others := scans("other", rssiFar, every(0, 240, 6)...) // the receiver scans every 4 min: 0…1200
	cases := []struct {
		name    string
		contact []Reading
		others  []Reading
		want    float64
	}{
		// Heard near in all six scans: each stands for 4 minutes.
		{"near every scan", scans("c", rssiNear, every(0, 240, 6)...), others, 24},
		// A deep fade inside a scan does not count: the strongest reading
		// of the scan decides.
		{"fade inside a scan", append(scans("c", rssiNear, every(0, 240, 6)...), scans("c", rssiFar, every(0.4, 240, 6)...)...), others, 24},
		{"medium counts half", scans("c", rssiMedium, every(0, 240, 6)...), others, 12},
		{"far counts nothing", scans("c", rssiFar, every(0, 240, 6)...), others, 0},
		// Missed in scans 2 and 3 (the receiver heard others then), heard
		// again 12 minutes later: within the bridge, the missed scans count.
		{"missed scans bridged", scans("c", rssiNear, 0, 240, 960, 1200), others, 24},
		// Near then medium around a gap: the gap counts their mean.
		{"bridge takes the mean weight", append(scans("c", rssiNear, 0, 240), scans("c", rssiMedium, 960, 1200)...), others, 4 + 4 + 0.75*8 + 2 + 2},
		// The receiver never scanned between 240 and 1440 (phone off): no
		// instance stands for more than MaxGap.
		{"receiver off", scans("c", rssiNear, 0, 240, 1440), scans("other", rssiFar, 0, 240, 1440), 4 + 4 + 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			all := append(append([]Reading(nil), tc.contact...), tc.others...)
			var ts []float64
			for _, r := range all {
				ts = append(ts, r.Timestamp)
			}
			if got := s.WeightedMinutes(s.Timeline(ts), tc.contact); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("weighted minutes = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBridgeLimit(t *testing.T) {
	others := scans("other", rssiFar, every(0, 240, 16)...) // 0 … 60 min
	contact := scans("c", rssiNear, 0, 240, 3360, 3600)     // away for 52 minutes
	var ts []float64
	for _, r := range append(append([]Reading(nil), contact...), others...) {
		ts = append(ts, r.Timestamp)
	}
	for _, tc := range []struct {
		bridge time.Duration
		want   float64
	}{
		{0, 16},               // default 30 min: too long a silence, the contact left
		{time.Hour, 64},       // a one-hour bridge covers all sixteen scans
		{-1, 16},              // disabled
		{5 * time.Minute, 16}, // shorter than the gap
	} {
		s := New(Params{Bridge: tc.bridge})
		if got := s.WeightedMinutes(s.Timeline(ts), contact); got != tc.want {
			t.Errorf("bridge %v: %v, want %v", tc.bridge, got, tc.want)
		}
	}
}

// Apps differ in how they scan; the minutes must not. Twenty minutes near
// by GAEN (a few seconds every 4 minutes, several readings each), by an app
// that scans for 10 s every minute, and by one that never stops (a reading
// every 2 s) all come to about twenty minutes.
func TestScanStylesAgree(t *testing.T) {
	s := New(Params{})
	styles := map[string][]float64{}
	for _, start := range every(0, 240, 6) {
		styles["gaen"] = append(styles["gaen"], every(start, 0.3, 10)...)
	}
	for _, start := range every(0, 60, 21) {
		styles["minutely"] = append(styles["minutely"], every(start, 1, 10)...)
	}
	styles["continuous"] = every(0, 2, 601)
	for name, ts := range styles {
		got := s.WeightedMinutes(s.Timeline(ts), scans("c", rssiNear, ts...))
		if got < 19 || got > 25 {
			t.Errorf("%s: %v weighted minutes for 20 minutes near", name, got)
		}
	}
}

// Without a timeline the contact's own readings are the timeline: nothing
// to bridge, each scan stands for the gap to the previous one.
func TestNilTimeline(t *testing.T) {
	s := New(Params{})
	if got := s.WeightedMinutes(nil, scans("c", rssiNear, 0, 240, 480)); got != 12 {
		t.Errorf("nil timeline: %v, want 12", got)
	}
	if got := s.WeightedMinutes(nil, nil); got != 0 {
		t.Errorf("no readings: %v", got)
	}
}

func TestScoreUsesEveryContactAsTimeline(t *testing.T) {
	s := New(Params{MinMinutes: 10})
	rs := append(scans("c", rssiNear, 0, 240, 960, 1200), scans("d", rssiFar, every(0, 240, 6)...)...)
	v := s.Score(rs)
	if len(v) != 2 || v[0].Contact != "c" || v[0].WeightedMinutes != 24 || !v[0].Close || v[1].Close {
		t.Errorf("verdicts: %+v", v)
	}
}
