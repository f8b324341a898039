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
