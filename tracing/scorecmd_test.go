package tracing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestScoreCommand(t *testing.T) {
	var in strings.Builder
	// Contact "near": 20 minutes, a scan every 4 minutes, strong signal with
	// one deep fade the burst maximum must see through.
	for i := 0; i <= 5; i++ {
		ts := 1_700_000_000 + float64(i)*240
		fmt.Fprintf(&in, `{"contact":"near","timestamp":%v,"rssi":-60,"modelC":"SM-G981B/DS","modelP":"samsung SM-G973F"}`+"\n", ts)
		fmt.Fprintf(&in, `{"contact":"near","timestamp":%v,"rssi":-95,"modelC":"SM-G981B/DS","modelP":"SM-G973F"}`+"\n", ts+0.4)
	}
	// Contact 7 (a number): far away for the same time.
	for i := 0; i <= 5; i++ {
		fmt.Fprintf(&in, `{"contact":7,"timestamp":%v,"rssi":-98,"txPower":0,"modelC":"Pixel 3","modelP":"iPhone12,1"}`+"\n", 1_700_000_000+float64(i)*240)
	}
	in.WriteString("\n")
	var out bytes.Buffer
	if err := ScoreCommand(strings.NewReader(in.String()), &out, ScoreOptions{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %q", len(lines), out.String())
	}
	var v []struct {
		Contact         string
		WeightedMinutes float64
		Close           bool
	}
	for _, l := range lines {
		var x struct {
			Contact         string  `json:"contact"`
			WeightedMinutes float64 `json:"weightedMinutes"`
			Close           bool    `json:"close"`
		}
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatal(err)
		}
		v = append(v, struct {
			Contact         string
			WeightedMinutes float64
			Close           bool
		}{x.Contact, x.WeightedMinutes, x.Close})
	}
	if v[0].Contact != "7" || v[0].Close || v[0].WeightedMinutes != 0 {
		t.Errorf("far contact: %+v", v[0])
	}
	if v[1].Contact != "near" || !v[1].Close || v[1].WeightedMinutes < 20 {
		t.Errorf("near contact: %+v", v[1])
	}
	if err := ScoreCommand(strings.NewReader("{\"contact\":\"a\"}\n"), &out, ScoreOptions{}); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("missing fields: %v", err)
	}
	if err := ScoreCommand(strings.NewReader("\nnot json\n"), &out, ScoreOptions{}); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("garbage: %v", err)
	}
	if err := ScoreCommand(strings.NewReader(""), &out, ScoreOptions{CalibrationFile: "/nonexistent.csv"}); err == nil {
		t.Error("missing calibration file accepted")
	}
}
