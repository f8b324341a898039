// Command lindungi is the Lindungi Gateway: the PeduliLindungi WhatsApp and
// e-mail service desk and the Sijejak close-contact server, in one binary.
// main only parses the command line and calls realMain; app.go wires the
// components so that tests can run exactly the same wiring.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"lindungi/config"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return // a subcommand printed its usage because it was asked to
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "lindungi:", err)
		os.Exit(1)
	}
}

const usage = `Usage: lindungi [--config FILE] [--data DIR] [--listen ADDR] COMMAND [ARGS]

Commands:
  serve                         run the gateway (default)
  chat [--from ID] [--url URL]  talk to the running gateway's bot through the simulator
  migrate                       apply database migrations and exit
  healthcheck                   exit 0 when the running gateway answers /healthz
  user add --role ROLE NAME     create an operator; prints password and token once
  config dump                   print the effective configuration, secrets masked
  jobs list | jobs run NAME     list scheduled jobs or run one now
  whatsapp pair [--phone E164]  pair the WhatsApp account (QR in the terminal)
  bot eval FILE                 intent accuracy on JSON lines {"text","intent"}
  tracing score [--calibration FILE] [--min-minutes N]
                                score Bluetooth readings (JSON lines on stdin)
  certificate verify --trust CERT [--at RFC3339] < QR
                                check an HC1: QR string; JSON {"valid","reason","payload"}
  version                       print the version

Global flags work before or after the command name.
`

// globals are the flags every subcommand accepts.
type globals struct {
	configPath, dataDir, listen string
}

// splitArgs pulls the global flags out wherever they appear and returns the
// rest (command and its own arguments) in order.
func splitArgs(args []string) (globals, []string, error) {
	var g globals
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		var dst *string
		switch name {
		case "config":
			dst = &g.configPath
		case "data":
			dst = &g.dataDir
		case "listen":
			dst = &g.listen
		default:
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return g, nil, fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			val = args[i]
		}
		*dst = val
	}
	return g, rest, nil
}

func loadConfig(g globals, environ []string) (config.Config, error) {
	cfg, err := config.Load(g.configPath, environ)
	if err != nil {
		return cfg, err
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	if g.listen != "" {
		cfg.Listen = g.listen
	}
	return cfg, cfg.Validate()
}

func realMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	g, rest, err := splitArgs(args)
	if err != nil {
		return err
	}
	cmd := "serve"
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version":
		fmt.Fprintln(stdout, "lindungi", version)
		return nil
	case "tracing":
		return cmdTracing(ctx, rest, stdin, stdout)
	case "bot":
		return cmdBot(rest, stdout)
	case "certificate":
		return cmdCertificate(rest, stdin, stdout)
	}
	cfg, err := loadConfig(g, os.Environ())
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, cfg, stderr)
	case "migrate":
		return cmdMigrate(ctx, cfg, stdout)
	case "healthcheck":
		return cmdHealthcheck(ctx, cfg)
	case "config":
		if len(rest) != 1 || rest[0] != "dump" {
			return fmt.Errorf("usage: lindungi config dump")
		}
		return cfg.Dump(stdout)
	case "user":
		return cmdUser(ctx, cfg, rest, stdout)
	case "chat":
		return cmdChat(ctx, cfg, rest, stdin, stdout)
	case "jobs":
		return cmdJobs(ctx, cfg, rest, stdout, stderr)
	case "whatsapp":
		return cmdWhatsApp(ctx, cfg, rest, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
	}
}
