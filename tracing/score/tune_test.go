package score

import (
	"fmt"
	"os"
	"sort"
	"testing"
	"time"
)

// TestTune prints a grid on the tuning scenarios 01–03 only, ranked by the
// worst single-scenario F1 (a setting that only wins on average is usually
// fitting one scenario). Opt-in:
//
//	LINDUNGI_SCORE_TUNE=1 go test ./tracing/score -run TestTune -v
func TestTune(t *testing.T) {
	if os.Getenv("LINDUNGI_SCORE_TUNE") == "" {
		t.Skip("set LINDUNGI_SCORE_TUNE=1")
	}
	scs := loadScenarios(t, "01", "02", "03")
	cal := calib(t)
	type row struct {
		worst, pooled float64
		line          string
	}
	var out []row
	mode := DurationsScan
	if os.Getenv("LINDUNGI_SCORE_TUNE") == "forward" {
		mode = DurationsForward
	}
	for _, w := range []time.Duration{-1, time.Minute, 8 * time.Minute} {
		for _, g := range []time.Duration{5 * time.Minute, 8 * time.Minute} {
			for near := 55.0; near <= 67; near += 2 {
				for med := near; med <= 75; med += 2 {
					p := Params{Durations: mode, MinMinutes: 10, Window: w, MaxGap: g, NearDB: near, MediumDB: med, Calibration: cal}
					worst := 1.0
					line := ""
					for _, sc := range scs {
						c := evaluate(New(p), []scenario{sc})
						worst = min(worst, c.f1())
						line += fmt.Sprintf(" %.2f", c.f1())
					}
					c := evaluate(New(p), scs)
					out = append(out, row{worst, c.f1(), fmt.Sprintf("w=%v gap=%v near=%v med=%v worst=%.3f per=[%s] pooled %v", w, g, near, med, worst, line, c)})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].worst > out[j].worst })
	for _, r := range out {
		t.Log(r.line)
	}
}
