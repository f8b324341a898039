package score

import (
	"strings"
	"testing"
)

const miniTable = `oem,model,rssi correction (android rssi + rssi correction = iphone rssi),tx (as iphone would report for same power),has direct measurement
Samsung,SM-G981B,-3,-24,no
Samsung,SM-G973F,-4,-25,yes
Samsung,SM-A405FN,-3,-24,no
Google,Pixel 3,-4,-34,yes
Google,Pixel 3a,-5,-39,yes
Lenovo,Lenovo Thinkpad 11e Chromebook (4th Gen)/Lenovo Thinkpad Yoga 11e Chromebook (4th Gen),-2,-26,no
Xiaomi,Redmi Note 8,-7,-20,yes
`

func TestLookup(t *testing.T) {
	c, err := ParseCalibration(strings.NewReader(miniTable))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		model string
		want  Device
		found bool
	}{
		{"SM-G981B", Device{-3, -24}, true},
		{"sm-g981b/ds", Device{-3, -24}, true},
		{"  SM-G973F ", Device{-4, -25}, true},
		{"samsung SM-G973F", Device{-4, -25}, true},
		{"SM-G973FD", Device{-4, -25}, true}, // carrier suffix
		{"Pixel 3a", Device{-5, -39}, true},  // not Pixel 3
		{"PIXEL 3", Device{-4, -34}, true},
		{"Lenovo Thinkpad Yoga 11e Chromebook (4th Gen)", Device{-2, -26}, true},
		{"Xiaomi Redmi Note 8", Device{-7, -20}, true},
		{"SM-X999", Device{-3, -24}, false},        // Samsung median
		{"Google Pixel 9", Device{-4, -34}, false}, // Google median
		{"iPhone12,1", Device{0, DefaultDevice.TxPower}, false},
	} {
		got, found := c.Lookup(tc.model)
		if got != tc.want || found != tc.found {
			t.Errorf("Lookup(%q) = %v,%v want %v,%v", tc.model, got, found, tc.want, tc.found)
		}
	}
	var none *Calibration
	if d, _ := none.Lookup("SM-G981B"); d != DefaultDevice {
		t.Errorf("nil table: %v", d)
	}
}

func TestWindowMinAndGaps(t *testing.T) {
	fwd := New(Params{Window: -1, MaxGap: 300e9, Durations: DurationsForward})
	// Two readings 10 minutes apart: the first covers only MaxGap.
	rs := []Reading{{Timestamp: 0, RSSI: -50}, {Timestamp: 600, RSSI: -50}}
	if got := fwd.WeightedMinutes(rs); got != 10 { // 5 (capped) + 5 (last: typical, capped)
		t.Errorf("forward: weighted minutes = %v, want 10", got)
	}
	// One-sided fading: a faded reading inside a burst takes the burst max.
	burst := []Reading{{Timestamp: 0, RSSI: -90}, {Timestamp: 0.5, RSSI: -50}, {Timestamp: 240, RSSI: -90}, {Timestamp: 240.5, RSSI: -50}}
	sm := New(Params{Durations: DurationsForward})
	raw := New(Params{Window: -1, Durations: DurationsForward})
	if a, b := sm.WeightedMinutes(burst), raw.WeightedMinutes(burst); a <= b {
		t.Errorf("smoothed %v ≤ raw %v", a, b)
	}
	// Scan rule: two scans 4 minutes apart, each heard strongly once and
	// faded once: each stands for one 4-minute interval.
	scan := New(Params{Window: -1})
	if got := scan.WeightedMinutes(burst); got != 8 {
		t.Errorf("scan: weighted minutes = %v, want 8", got)
	}
	// A scan missed in between: the gap is capped at MaxGap (5 min).
	gap := []Reading{{Timestamp: 0, RSSI: -50}, {Timestamp: 240, RSSI: -50}, {Timestamp: 960, RSSI: -50}}
	if got := scan.WeightedMinutes(gap); got != 4+4+5 {
		t.Errorf("scan with gap: %v, want 13", got)
	}
	// Medium bucket counts half; far counts nothing. Default calibration:
	// attenuation = -24 - (rssi - 3) = -21 - rssi.
	mixed := []Reading{{Timestamp: 0, RSSI: -80}, {Timestamp: 240, RSSI: -80}, {Timestamp: 480, RSSI: -95}}
	if got := scan.WeightedMinutes(mixed); got != 4 { // 59 dB → 0.5 ×2 scans ×4 min; 74 dB → 0
		t.Errorf("buckets: %v, want 4", got)
	}
}
