package tracing

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"lindungi/tracing/campaign"
	"lindungi/tracing/score"
)

// ScoreOptions configure `lindungi tracing score` and `tracing eval`, and
// the matcher of `serve`: main maps the tracing.* keys onto them, so all
// three score alike. Zero fields take the scorer's defaults (see package
// score); an empty CalibrationFile uses built-in fallbacks for every model.
type ScoreOptions struct {
	CalibrationFile          string
	MinMinutes               float64
	NearDB, MediumDB         float64
	NearWeight, MediumWeight float64
}

// Params turns the options into scorer parameters, loading the calibration
// table if one is named.
func (o ScoreOptions) Params() (score.Params, error) {
	p := score.Params{MinMinutes: o.MinMinutes, NearDB: o.NearDB, MediumDB: o.MediumDB,
		NearWeight: o.NearWeight, MediumWeight: o.MediumWeight}
	if o.CalibrationFile != "" {
		c, err := score.LoadCalibration(o.CalibrationFile)
		if err != nil {
			return p, err
		}
		p.Calibration = c
	}
	return p, nil
}

// EvalCommand measures the scorer on a directory of DP-3T-format campaign
// files and prints precision, recall and F1 per scenario and pooled.
func EvalCommand(dir string, out io.Writer, opts ScoreOptions) error {
	p, err := opts.Params()
	if err != nil {
		return err
	}
	scs, err := campaign.LoadDir(dir)
	if err != nil {
		return err
	}
	s := score.New(p)
	e := s.Params()
	cal := "built-in fallbacks"
	if opts.CalibrationFile != "" {
		cal = opts.CalibrationFile
	}
	if _, err := fmt.Fprintf(out, "truth: share of readings at <= %.0f m x scenario length >= %.0f min\nscorer: close at >= %g weighted min; near <= %g dB (x%g), medium <= %g dB (x%g); calibration: %s\n\n",
		campaign.TruthMeters, campaign.TruthMinutes, e.MinMinutes, e.NearDB, e.NearWeight, e.MediumDB, e.MediumWeight, cal); err != nil {
		return err
	}
	return campaign.Write(out, campaign.Report(s, scs))
}

// ScoreCommand reads JSON lines of readings
// {"contact","timestamp","rssi","txPower","modelC","modelP"} from in and
// writes one line {"contact","weightedMinutes","close"} per contact to out,
// ordered by contact. Blank lines are skipped; a malformed line is an error
// naming its line number.
func ScoreCommand(in io.Reader, out io.Writer, opts ScoreOptions) error {
	p, err := opts.Params()
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var rs []score.Reading
	line := 0
	for sc.Scan() {
		line++
		b := strings.TrimSpace(sc.Text())
		if b == "" {
			continue
		}
		var r struct {
			Contact   *json.RawMessage `json:"contact"`
			Timestamp *float64         `json:"timestamp"`
			RSSI      *float64         `json:"rssi"`
			TxPower   *float64         `json:"txPower"`
			ModelC    string           `json:"modelC"`
			ModelP    string           `json:"modelP"`
		}
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if r.Contact == nil || r.Timestamp == nil || r.RSSI == nil {
			return fmt.Errorf("line %d: contact, timestamp and rssi are required", line)
		}
		// Contacts may be strings or numbers; keep numbers' spelling.
		var contact string
		if err := json.Unmarshal(*r.Contact, &contact); err != nil {
			contact = string(*r.Contact)
		}
		rd := score.Reading{Contact: contact, Timestamp: *r.Timestamp, RSSI: *r.RSSI, ModelC: r.ModelC, ModelP: r.ModelP}
		if r.TxPower != nil {
			rd.TxPower = *r.TxPower
		}
		rs = append(rs, rd)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	for _, v := range score.New(p).Score(rs) {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return w.Flush()
}
