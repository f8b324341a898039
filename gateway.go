package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lindungi/config"
)

// Commands other than serve either talk to the running gateway (chat,
// healthcheck) or open its database (user, jobs, whatsapp pair). Both find
// it from the same configuration as serve, and neither invents a gateway
// that is not there: only serve and migrate create a data directory.

// gatewayURL is where the gateway of cfg answers: its listen address, with
// a wildcard host replaced by loopback.
func gatewayURL(cfg config.Config) string {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return "http://" + cfg.Listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// reachable asks the gateway's liveness probe.
func (c *apiClient) reachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %d", resp.StatusCode)
	}
	return nil
}

// noGateway says that nothing answers where the configuration points, and
// which data directory a gateway started with that configuration would use.
func noGateway(cfg config.Config, base string, err error) error {
	where := "data directory " + absDir(cfg.DataDir)
	if cfg.DatabaseURL != "" && !strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
		where = "the PostgreSQL database of database_url"
	}
	return fmt.Errorf("no gateway answers at %s (%v).\nStart one with `lindungi serve` and the same --config/--data/--listen; it would use %s. Or give --url", base, err, where)
}

// errNoData is returned by requireData when there is no database to open.
var errNoData = errors.New("no gateway database here")

// requireData refuses to go on when the embedded SQLite database does not
// exist yet: a command given the wrong --data (or run from another folder)
// would otherwise create an empty gateway beside the real one.
func requireData(cfg config.Config) error {
	if cfg.DatabaseURL != "" && !strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
		return nil
	}
	db := filepath.Join(cfg.DataDir, "lindungi.db")
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s does not exist. Run this command with the same --config/--data as `lindungi serve` (which creates it on first start), or run `lindungi migrate` to create an empty one", errNoData, absDir(db))
	} else if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}

// requireDataDir is the looser check of commands that may prepare a
// gateway before its first start (`user add` for the first admin): the data
// directory must exist, so a mistyped --data or a command run from another
// folder says so instead of creating one.
func requireDataDir(cfg config.Config) error {
	if cfg.DatabaseURL != "" && !strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
		return nil
	}
	if _, err := os.Stat(cfg.DataDir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: the data directory %s does not exist. Run this command with the same --config/--data as `lindungi serve`, or create the database first with `lindungi migrate`", errNoData, absDir(cfg.DataDir))
	} else if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}

func absDir(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
