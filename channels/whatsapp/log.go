package whatsapp

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"

	waLog "go.mau.fi/whatsmeow/util/log"
)

// whatsmeow's own log lines are full of JIDs (phone numbers); longDigits
// redacts any run of 6+ digits to its last four before they reach slog.
var longDigits = regexp.MustCompile(`\d{2,}(\d{4})`)

func redact(s string) string {
	return longDigits.ReplaceAllStringFunc(s, func(m string) string {
		if len(m) < 6 {
			return m
		}
		return "…" + m[len(m)-4:]
	})
}

// waLogger adapts slog to whatsmeow's logger. Debug is dropped (it dumps
// whole XML stanzas); info and above are redacted.
type waLogger struct {
	log    *slog.Logger
	module string
}

func newWALog(l *slog.Logger) waLog.Logger { return &waLogger{log: l, module: "whatsmeow"} }

func (w *waLogger) emit(level slog.Level, msg string, args []any) {
	if !w.log.Enabled(context.Background(), level) {
		return
	}
	w.log.Log(context.Background(), level, redact(fmt.Sprintf(msg, args...)), "module", w.module)
}

func (w *waLogger) Warnf(msg string, args ...any)  { w.emit(slog.LevelWarn, msg, args) }
func (w *waLogger) Errorf(msg string, args ...any) { w.emit(slog.LevelError, msg, args) }
func (w *waLogger) Infof(msg string, args ...any)  { w.emit(slog.LevelInfo, msg, args) }
func (w *waLogger) Debugf(string, ...any)          {}
func (w *waLogger) Sub(module string) waLog.Logger {
	return &waLogger{log: w.log, module: w.module + "/" + module}
}
