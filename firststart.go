package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/mattn/go-isatty"

	"lindungi/config"
)

// A new operator's first `serve` used to print five log lines and nothing
// about what to do next. The start that creates the database prints the
// next steps once: to stdout (the logs go to stderr), and in JSON log mode
// only when stdout is a terminal, so no prose lands among JSON lines; a
// container's log gets one structured line pointing at the README instead.

// createdSince reports whether every applied migration was applied at or
// after start, i.e. this process created the database (SQLite or
// PostgreSQL alike).
func (a *App) createdSince(ctx context.Context, start time.Time) (bool, error) {
	rows, err := a.db.Query(ctx, `SELECT applied_at FROM schema_version`)
	if err != nil {
		return false, fmt.Errorf("schema version: %w", err)
	}
	defer rows.Close()
	start = start.Truncate(time.Microsecond) // store.Now's precision
	n := 0
	for rows.Next() {
		var at time.Time
		if err := rows.Scan(&at); err != nil {
			return false, fmt.Errorf("schema version: %w", err)
		}
		if at.Before(start) {
			return false, nil
		}
		n++
	}
	return n > 0, rows.Err()
}

var nextStepsText = template.Must(template.New("next").Parse(`
Lindungi Gateway has started for the first time.
  Console:   {{.Console}}
  Data:      {{.Where}}

Next steps:
  1. Create the first administrator (the password and API token are shown once):
       lindungi user add --role admin NAME{{.Same}}
  2. Log in at {{.Console}} with that name and password.
{{- if .WhatsApp}}
  3. Pair the WhatsApp account: scan the QR code this process prints (or, logged
     in as admin, {{.Console}}api/v1/whatsapp/qr.png) with the Ministry's phone:
     WhatsApp > Linked devices. Or type a code instead:
       lindungi whatsapp pair --phone +62…{{.Same}}   (with serve stopped)
{{- end}}
{{- if .KeyFile}}
  *  Back up the data key {{.KeyFile}} now, and keep it apart from database
     backups: without it the sealed data (NIK, names, attachments) cannot be read.
{{- end}}
{{- if .Simulator}}
  *  Talk to the bot as a citizen would: lindungi chat{{.Same}}
{{- end}}
Every command takes the same --config/--data/--listen (or LINDUNGI_* variables) as serve.

`))

type nextSteps struct {
	Console, Where, KeyFile, Same string
	WhatsApp, Simulator           bool
}

// printNextSteps tells the operator what to do after the first start.
// same is the serve command line's global flags, to be repeated.
func (a *App) printNextSteps(stdout io.Writer, same string) {
	console := strings.TrimRight(a.cfg.PublicURL, "/") + "/"
	if a.cfg.PublicURL == config.Default().PublicURL {
		console = gatewayURL(a.cfg) + "/" // the default follows --listen
	}
	n := nextSteps{Console: console, Same: same, WhatsApp: a.whatsapp != nil, Simulator: a.sim != nil,
		Where: "SQLite in " + absDir(a.cfg.DataDir)}
	if a.cfg.DatabaseURL != "" && !strings.HasPrefix(a.cfg.DatabaseURL, "sqlite:") {
		n.Where = "PostgreSQL (database_url)"
	}
	if a.cfg.DataKey == "" {
		n.KeyFile = filepath.Join(absDir(a.cfg.DataDir), "data.key")
	}
	if a.cfg.LogFormat == "json" && !isTerminal(stdout) {
		a.log.Info("first start: create the first administrator with `lindungi user add --role admin NAME`, then log in to the console; see README, Docker",
			"console", console)
		return
	}
	_ = nextStepsText.Execute(stdout, n)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// sameFlags renders the global flags serve was given, for commands the
// operator will type next.
func sameFlags(g globals) string {
	var b strings.Builder
	for _, f := range []struct{ name, v string }{{"config", g.configPath}, {"data", g.dataDir}, {"listen", g.listen}} {
		if f.v != "" {
			fmt.Fprintf(&b, " --%s %s", f.name, f.v)
		}
	}
	return b.String()
}
