package channels

import (
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestOutageLog(t *testing.T) {
	var o OutageLog
	refused, timeout := errors.New("connection refused"), errors.New("i/o timeout")
	steps := []struct {
		err   error
		level slog.Level
		n     int
	}{
		{refused, slog.LevelWarn, 1},  // the outage starts
		{refused, slog.LevelDebug, 2}, // the same again
		{refused, slog.LevelDebug, 3},
		{timeout, slog.LevelWarn, 4}, // it changed
		{timeout, slog.LevelDebug, 5},
	}
	for i, s := range steps {
		if lvl, n := o.Failed(s.err); lvl != s.level || n != s.n {
			t.Errorf("step %d: %v #%d, want %v #%d", i, lvl, n, s.level, s.n)
		}
	}
	o.lastWarn = time.Now().Add(-outageReminder) // a quarter of an hour on
	if lvl, n := o.Failed(timeout); lvl != slog.LevelWarn || n != 6 {
		t.Errorf("after the reminder interval: %v #%d, want a warning #6", lvl, n)
	}
	o.Recovered()
	if lvl, n := o.Failed(timeout); lvl != slog.LevelWarn || n != 1 {
		t.Errorf("after recovery: %v #%d, want a warning #1", lvl, n)
	}
}
