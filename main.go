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
	"runtime/debug"
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
  user list | user disable NAME | user enable NAME | user reset-password NAME
                                manage operators (disabling ends their sessions)
  token list [--user NAME] | token add NAME | token revoke ID
                                API tokens (they expire after accounts.token_ttl)
  config dump                   print the effective configuration, secrets masked
  secrets init [--dir DIR]      write the Docker secrets (data key, PostgreSQL
                                password, database URL) into ./secrets, keeping
                                any that exist
  jobs list | jobs run NAME     list scheduled jobs or run one now
  whatsapp pair [--phone E164]  pair the WhatsApp account (QR in the terminal)
  bot eval FILE                 intent accuracy on JSON lines {"text","intent"}
  tracing score [--calibration FILE] [--min-minutes N]
                                score Bluetooth readings (JSON lines on stdin)
  tracing eval DIR [--min-minutes N]
                                precision, recall and F1 of the scorer on
                                DP-3T-format measurement files in DIR
  certificate verify --trust CERT [--at RFC3339] < QR
                                check an HC1: QR string; JSON {"valid","reason","payload"}
  version, --version            print the version

Global flags work before or after the command name:
  --config FILE   YAML configuration (then LINDUNGI_* variables override it)
  --data DIR      data directory (default ./data: SQLite database, data key)
  --listen ADDR   HTTP address (default 127.0.0.1:8080)
Commands other than serve and migrate never create a data directory: give
them the same --config/--data/--listen as the running serve.
`

// commandHelp is the --help text of the commands that take no arguments of
// their own.
var commandHelp = map[string]string{
	"serve": `Usage: lindungi serve [--config FILE] [--data DIR] [--listen ADDR]

Runs the gateway: the console and API on --listen, the configured channels,
the outbox and the scheduled jobs, until SIGINT or SIGTERM. On first start it
creates the data directory (SQLite database and data key) and prints the
next steps. Environment variables LINDUNGI_* override the configuration file.
`,
	"migrate": `Usage: lindungi migrate [--config FILE] [--data DIR]

Applies the embedded database migrations and exits (serve does this too).
`,
	"healthcheck": `Usage: lindungi healthcheck [--config FILE] [--listen ADDR]

Exits 0 when the gateway at the configured listen address answers /healthz
(the container's HEALTHCHECK: distroless images have no curl).
`,
}

// noArgs parses the arguments of a command that has no flags of its own:
// --help prints its usage (flag.ErrHelp: exit 0), anything else is refused
// rather than ignored, so `serve --bogus=1` does not start a gateway.
func noArgs(cmd string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, commandHelp[cmd])
			return err
		}
		return fmt.Errorf("%s: %w\n\n%s", cmd, err, commandHelp[cmd])
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s takes no arguments (got %q)\n\n%s", cmd, fs.Args(), commandHelp[cmd])
	}
	return nil
}

// versionLine is what `version` and `--version` print: the release version
// and, when the build recorded them, the commit and the Go toolchain.
func versionLine() string {
	s := "lindungi " + version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
				s += " (commit " + kv.Value[:12] + ")"
			}
		}
		s += " " + bi.GoVersion
	}
	return s
}

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
	case "help", "-h", "-help", "--help":
		if len(rest) == 1 && commandHelp[rest[0]] != "" {
			fmt.Fprint(stdout, commandHelp[rest[0]])
			return nil
		}
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "-version", "--version":
		if len(rest) > 0 {
			return fmt.Errorf("version takes no arguments (got %q)", rest)
		}
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "serve", "migrate", "healthcheck":
		if err := noArgs(cmd, rest, stdout); err != nil {
			return err
		}
	case "bot":
		return cmdBot(rest, stdout)
	case "secrets":
		return cmdSecrets(rest, stdout)
	case "certificate":
		return cmdCertificate(rest, stdin, stdout)
	}
	cfg, err := loadConfig(g, os.Environ())
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, cfg, g, stdout, stderr)
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
	case "token":
		return cmdToken(ctx, cfg, rest, stdout)
	case "chat":
		return cmdChat(ctx, cfg, rest, stdin, stdout)
	case "jobs":
		return cmdJobs(ctx, cfg, rest, stdout, stderr)
	case "whatsapp":
		return cmdWhatsApp(ctx, cfg, rest, stdout, stderr)
	case "tracing":
		return cmdTracing(ctx, cfg, rest, stdin, stdout)
	default:
		if strings.HasPrefix(cmd, "-") {
			return fmt.Errorf("unknown flag %s\n\n%s", cmd, usage)
		}
		return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
	}
}
