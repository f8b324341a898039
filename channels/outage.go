package channels

import (
	"log/slog"
	"time"
)

// OutageLog decides how loudly to log a failure that repeats for as long
// as a server is unreachable (a reconnect loop fails every minute through
// an outage): WARN the first time, whenever the error changes, and every
// quarter of an hour after, DEBUG in between. An outage is visible at once
// and stays visible without writing a warning a minute. The zero value is
// ready; a loop uses one per connection it keeps trying.
type OutageLog struct {
	last     string
	lastWarn time.Time
	failures int
}

// outageReminder is how often a continuing outage is warned about again.
const outageReminder = 15 * time.Minute

// Failed records one more failure and returns the level to log it at and
// how many failures the outage has had so far.
func (o *OutageLog) Failed(err error) (slog.Level, int) {
	o.failures++
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != o.last || time.Since(o.lastWarn) >= outageReminder {
		o.last, o.lastWarn = msg, time.Now()
		return slog.LevelWarn, o.failures
	}
	return slog.LevelDebug, o.failures
}

// Recovered ends the outage: the next failure warns again.
func (o *OutageLog) Recovered() { *o = OutageLog{} }
