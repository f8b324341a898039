package score

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Device is one model's calibration: RSSICorrection turns its measured RSSI
// into what an iPhone would have measured; TxPower is what an iPhone would
// report as its transmit power at the same radiated power.
type Device struct {
	RSSICorrection float64
	TxPower        float64
}

// DefaultDevice is used when a model is unknown and no table is loaded: the
// most common pair in Google's June 2020 table (mid-range Samsung handsets).
var DefaultDevice = Device{RSSICorrection: -3, TxPower: -24}

// appleDevice: GAEN's reference frame is the iPhone, so an iPhone needs no
// RSSI correction. Its TxPower stays the fleet default.
var appleDevice = Device{RSSICorrection: 0, TxPower: DefaultDevice.TxPower}

// Calibration maps device model strings to Device values. The zero value (or
// nil) knows no models and answers DefaultDevice.
type Calibration struct {
	models   map[string]Device // normalised model → device
	prefixes []string          // normalised models, longest first, for prefix matching
	oems     map[string]Device // normalised OEM → median device
	fallback Device
}

// LoadCalibration reads the GAEN calibration CSV
// (oem,model,rssi correction,tx,has direct measurement).
func LoadCalibration(path string) (*Calibration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("score: calibration table: %w", err)
	}
	defer f.Close()
	return ParseCalibration(f)
}

// ParseCalibration parses the GAEN calibration CSV. Rows with a direct
// measurement win over inferred ones for the same normalised model.
func ParseCalibration(r io.Reader) (*Calibration, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("score: calibration table: %w", err)
	}
	c := &Calibration{models: map[string]Device{}, oems: map[string]Device{}}
	direct := map[string]bool{}
	perOEM := map[string][]Device{}
	var all []Device
	for i, row := range rows {
		if len(row) < 4 {
			continue
		}
		corr, err1 := strconv.ParseFloat(strings.TrimSpace(row[2]), 64)
		tx, err2 := strconv.ParseFloat(strings.TrimSpace(row[3]), 64)
		if err1 != nil || err2 != nil {
			if i == 0 {
				continue // header
			}
			return nil, fmt.Errorf("score: calibration table line %d: bad number", i+1)
		}
		d := Device{RSSICorrection: corr, TxPower: tx}
		isDirect := len(row) > 4 && strings.EqualFold(strings.TrimSpace(row[4]), "yes")
		oem := normalise(row[0])
		// A cell may list several names separated by '/' (Chromebooks).
		for _, name := range strings.Split(row[1], "/") {
			m := normalise(name)
			if m == "" {
				continue
			}
			if _, seen := c.models[m]; seen && (direct[m] || !isDirect) {
				continue
			}
			c.models[m] = d
			direct[m] = isDirect
			if oem != "" && !strings.HasPrefix(m, oem+" ") {
				// "Samsung SM-G981B" as some apps report it.
				if _, seen := c.models[oem+" "+m]; !seen {
					c.models[oem+" "+m] = d
				}
			}
		}
		perOEM[oem] = append(perOEM[oem], d)
		all = append(all, d)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("score: calibration table has no rows")
	}
	for oem, ds := range perOEM {
		c.oems[oem] = median(ds)
	}
	c.fallback = median(all)
	for m := range c.models {
		if len(m) >= 5 { // short names ("ONE", "X") would match far too much
			c.prefixes = append(c.prefixes, m)
		}
	}
	sort.Slice(c.prefixes, func(i, j int) bool {
		if len(c.prefixes[i]) != len(c.prefixes[j]) {
			return len(c.prefixes[i]) > len(c.prefixes[j])
		}
		return c.prefixes[i] < c.prefixes[j]
	})
	return c, nil
}

func median(ds []Device) Device {
	cs := make([]float64, len(ds))
	ts := make([]float64, len(ds))
	for i, d := range ds {
		cs[i], ts[i] = d.RSSICorrection, d.TxPower
	}
	sort.Float64s(cs)
	sort.Float64s(ts)
	return Device{RSSICorrection: cs[len(cs)/2], TxPower: ts[len(ts)/2]}
}

// normalise folds the ways apps spell one model: case, surrounding and
// repeated spaces, underscores vs spaces are kept (ASUS_X00TD is a real name).
func normalise(s string) string {
	return strings.Join(strings.Fields(strings.ToUpper(s)), " ")
}

// Lookup finds the calibration for a model string as a phone reported it.
// It tries, in order: the exact (normalised) name; the name without a
// variant suffix after '/' ("SM-G981B/DS" → "SM-G981B"); the name without a
// leading manufacturer word ("samsung SM-G981B"); the longest table model the
// name starts with ("SM-G981BZ" → "SM-G981B"); the manufacturer's median;
// the whole table's median. Found reports whether a model-level match hit.
func (c *Calibration) Lookup(model string) (d Device, found bool) {
	m := normalise(model)
	if c == nil || len(c.models) == 0 {
		if strings.HasPrefix(m, "IPHONE") || strings.HasPrefix(m, "APPLE") || strings.HasPrefix(m, "IPAD") {
			return appleDevice, false
		}
		return DefaultDevice, false
	}
	if m == "" {
		return c.fallback, false
	}
	cands := []string{m}
	if i := strings.IndexByte(m, '/'); i > 0 {
		cands = append(cands, strings.TrimSpace(m[:i]))
	}
	for _, k := range cands {
		if d, ok := c.models[k]; ok {
			return d, true
		}
		if i := strings.IndexByte(k, ' '); i > 0 {
			if _, isOEM := c.oems[k[:i]]; isOEM {
				if d, ok := c.models[k[i+1:]]; ok {
					return d, true
				}
			}
		}
	}
	base := cands[len(cands)-1]
	for _, p := range c.prefixes {
		if strings.HasPrefix(base, p) {
			return c.models[p], true
		}
	}
	if strings.HasPrefix(m, "IPHONE") || strings.HasPrefix(m, "APPLE") || strings.HasPrefix(m, "IPAD") {
		return appleDevice, false
	}
	first := m
	if i := strings.IndexAny(m, " _-"); i > 0 {
		first = m[:i]
	}
	if d, ok := c.oems[first]; ok {
		return d, false
	}
	// Samsung models all start with SM-; Google's table files them under Samsung.
	if strings.HasPrefix(m, "SM-") {
		if d, ok := c.oems["SAMSUNG"]; ok {
			return d, false
		}
	}
	return c.fallback, false
}
