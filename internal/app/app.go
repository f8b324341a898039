// Package app wires the gateway: it builds every component from the
// configuration, connects them, and runs them until the context ends. It
// owns no table and no rule of its own; the CLI (package main) and the
// end-to-end harness (apptest) both start a gateway through New.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"lindungi/accounts"
	"lindungi/audit"
	"lindungi/bot"
	"lindungi/certificate"
	"lindungi/channels"
	"lindungi/channels/simulator"
	"lindungi/channels/whatsapp"
	"lindungi/channels/whatsapp/cloud"
	"lindungi/config"
	"lindungi/jobs"
	"lindungi/privacy"
	"lindungi/selfservice"
	"lindungi/store"
	"lindungi/tickets"
	"lindungi/tracing"
	"lindungi/web"
)

// App is the wired gateway. `lindungi serve`, the one-off commands and
// the end-to-end tests (apptest) build it the same way; tests listen on
// 127.0.0.1:0 and read Addr. The components are exported so the CLI and
// tests in other packages reach the very instances the gateway runs with.
type App struct {
	Config config.Config
	Log    *slog.Logger

	DB          *store.DB
	Sealer      *store.Sealer
	Registry    *prometheus.Registry
	Tickets     *tickets.Store
	Accounts    *accounts.Store
	Outbox      *channels.Outbox
	Bot         *bot.Bot
	Simulator   *simulator.Channel // nil unless simulator.enabled
	Web         *web.Server
	Tracing     *tracing.Service // nil unless tracing.enabled
	Privacy     *privacy.Service
	Scheduler   *jobs.Scheduler
	WhatsApp    *whatsapp.Channel // the linked-device provider, when configured
	Cloud       *cloud.Channel    // the WhatsApp channel's Cloud API provider, when configured
	Signer      *certificate.Signer
	SelfService *selfservice.Service // nil unless a registry is configured
	// QROut is where pairing QR codes are drawn (the terminal); nil in
	// JSON log mode, where the log points at the console's PNG instead.
	QROut io.Writer

	opts Options
	// runners hold a connection (IMAP mailboxes, WhatsApp); each is a
	// singleton run under a leader lock named after it.
	runners []namedRunner
	// background are other long-lived components (the scheduler).
	background []func(ctx context.Context) error
	closers    []func()

	listener net.Listener
	// Addr is the address the HTTP server listens on.
	Addr string
}

// Options are what the process, not the configuration, decides: the
// release version it logs, and the fakes end-to-end tests put in place of
// WhatsApp's servers and clock. Constructor arguments rather than package
// globals, so two gateways in one test process never share a fake.
type Options struct {
	// Version is logged at start-up (main's -X main.version).
	Version string
	// WhatsAppTestServer points the linked-device client at a fake
	// server (channels/whatsapp/wafake); nil in production.
	WhatsAppTestServer *whatsapp.TestServer
	// CloudClock replaces the Cloud API provider's clock, for tests that
	// leave the 24-hour window; nil in production.
	CloudClock func() time.Time
}

type namedRunner struct {
	name   string
	runner channels.Runner
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// OpenStore opens and migrates the database and loads the data key; log
// (nil: slog's default) hears of background trouble.
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.DB, *store.Sealer, error) {
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, Log: log})
	if err != nil {
		return nil, nil, err
	}
	key, err := LoadDataKey(ctx, db, cfg)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	sealer, err := store.NewSealer(key)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, sealer, nil
}

// LoadDataKey reads the data key, generating one only for a database that
// has no schema yet (nothing can have been sealed with another key). It
// runs before migrating, so a database is never migrated without its key.
func LoadDataKey(ctx context.Context, db *store.DB, cfg config.Config) ([]byte, error) {
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	key, err := store.LoadOrCreateKey(cfg.DataKey, cfg.DataDir, v == 0)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	return key, nil
}

// New wires everything but starts nothing; Run starts it.
func New(ctx context.Context, cfg config.Config, logw io.Writer, opts Options) (*App, error) {
	a := &App{Config: cfg, Log: newLogger(cfg, logw), opts: opts}
	if cfg.LogFormat != "json" {
		a.QROut = logw // a QR drawn in characters would break a JSON log stream
	}
	if dir, ok := sqliteDir(cfg); ok {
		// One serving process per SQLite data directory (store.LockDataDir
		// says why); taken before the database is even opened, so a second
		// one changes nothing. Commands like `user add` do not take it.
		lock, err := store.LockDataDir(dir)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, lock.Release)
	}
	var err error
	if a.DB, a.Sealer, err = OpenStore(ctx, cfg, a.Log); err != nil {
		a.Close()
		return nil, err
	}
	a.closers = append(a.closers, func() { a.DB.Close() })
	a.Registry = prometheus.NewRegistry()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	a.Tickets = tickets.NewStore(a.DB, a.Sealer, tickets.Config{SLA: cfg.Tickets.SLA.D(), MaxAttachmentBytes: int(cfg.Tickets.MaxAttachmentSize)})
	a.Accounts = accounts.New(a.DB)
	a.Accounts.TokenTTL = cfg.Accounts.TokenTTL.D()
	rates := map[string]float64{}
	for k, v := range cfg.Outbox.Rate {
		rates[k] = v
	}
	if cfg.WhatsApp.SendRate > 0 {
		rates[channels.WhatsApp] = cfg.WhatsApp.SendRate
	}
	a.Outbox = channels.NewOutbox(a.DB, channels.OutboxConfig{
		MaxAttempts: cfg.Outbox.MaxAttempts, BaseBackoff: cfg.Outbox.BaseBackoff.D(), MaxBackoff: cfg.Outbox.MaxBackoff.D(),
		Rate: rates, BatchSize: cfg.Outbox.BatchSize,
	}, a.Log.With("component", "outbox"), a.Registry)
	// A message the outbox gives up on flags its ticket, so an operator
	// sees it in the console.
	a.Outbox.OnDead = func(ctx context.Context, tx *store.Tx, m channels.Outbound, _ string) error {
		if m.TicketID == 0 {
			return nil
		}
		return a.Tickets.AddFlag(ctx, tx, m.TicketID, tickets.DeliveryFailedFlag)
	}
	// The optional features the bot hands actions to exist before it.
	if err := a.newTracing(ctx); err != nil {
		a.Close()
		return nil, err
	}
	// Self-service before privacy: it is one of the holders privacy reaches.
	if err := a.newSelfService(); err != nil {
		a.Close()
		return nil, err
	}
	a.newPrivacy()
	with := bot.Features{Privacy: privacy.Documents{S: a.Privacy}}
	if a.Tracing != nil {
		with.Tracing = a.Tracing
	}
	if a.SelfService != nil {
		with.SelfService = selfServiceAdapter{a.SelfService}
	}
	a.Bot = bot.New(a.DB, a.Tickets, a.Outbox, with, bot.Config{
		StateTTL: cfg.Bot.StateTTL.D(), FloodLimit: cfg.Bot.FloodLimit, MaxTextBytes: cfg.Bot.MaxTextBytes, AckRate: cfg.Email.AckRatePerHour,
	}, a.Log.With("component", "bot"), a.Registry)

	if cfg.Simulator.Enabled {
		a.Simulator = simulator.New(a.DB)
		a.Outbox.Register(a.Simulator)
	}
	a.Web = &web.Server{
		DB: a.DB, Tickets: a.Tickets, Bot: a.Bot, Outbox: a.Outbox, Accounts: a.Accounts, Simulator: a.Simulator,
		Registry: a.Registry, Log: a.Log.With("component", "web"), MaxBody: cfg.MaxBodyBytes,
		Auditor: a.audit,
		// Keyed with the data key: every replica and every restart
		// recognises the console's device cookie, nobody can forge one.
		// Bound to the account's password hash, so a password reset
		// revokes every cookie issued before it, and a disabled account
		// has none.
		DeviceMark: func(ctx context.Context, name string) (string, error) {
			secret, err := a.Accounts.DeviceSecret(ctx, name)
			if err != nil || secret == "" {
				return "", err
			}
			return a.Sealer.Index("console-device:" + strings.ToLower(strings.TrimSpace(name)) + "\x00" + secret), nil
		},
		// Behind a TLS-terminating proxy the request itself is plain HTTP;
		// the public URL says what the browser sees.
		SecureCookies: strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://"),
	}
	a.Web.TrustedProxies, _ = cfg.ProxyPrefixes() // validated at start-up
	if err := a.wireFeatures(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// sqliteDir is the directory of cfg's SQLite database (false: PostgreSQL).
func sqliteDir(cfg config.Config) (string, bool) {
	if cfg.DatabaseURL == "" {
		return cfg.DataDir, true
	}
	if p, ok := strings.CutPrefix(cfg.DatabaseURL, "sqlite:"); ok {
		return filepath.Dir(p), true
	}
	return "", false
}

// audit records an access in the audit log; a failure is logged, never
// shown to the operator (the request itself already succeeded).
func (a *App) audit(ctx context.Context, actor, action, typ, id, detail string) {
	if err := audit.Record(ctx, a.DB, actor, action, typ, id, detail); err != nil {
		a.Log.Error("audit write failed", "action", action, "err", err)
	}
}

// Close releases what New opened (Run calls it on the way out).
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// Listen binds the HTTP address (separate from Run so tests learn the port).
func (a *App) Listen() error {
	ln, err := net.Listen("tcp", a.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (set --listen or LINDUNGI_LISTEN): %w", a.Config.Listen, err)
	}
	a.listener, a.Addr = ln, ln.Addr().String()
	return nil
}

// Run serves until ctx ends, then shuts down in order: stop intake (HTTP,
// channel connections), let the outbox finish in-flight sends, close the
// database.
func (a *App) Run(ctx context.Context) error {
	defer a.Close()
	if a.listener == nil {
		if err := a.Listen(); err != nil {
			return err
		}
	}
	srv := NewHTTPServer(a.Web.Handler())
	intakeCtx, stopIntake := context.WithCancel(ctx)
	defer stopIntake()
	outboxCtx, stopOutbox := context.WithCancel(context.WithoutCancel(ctx))
	defer stopOutbox()

	errc := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	var obDone = make(chan struct{})
	go func() { a.Outbox.Run(outboxCtx); close(obDone) }()
	for _, r := range a.runners {
		wg.Add(1)
		go func(r namedRunner) {
			defer wg.Done()
			a.runSingleton(intakeCtx, r)
		}(r)
	}
	for _, bg := range a.background {
		wg.Add(1)
		go func(f func(context.Context) error) {
			defer wg.Done()
			if err := f(intakeCtx); err != nil && !errors.Is(err, context.Canceled) {
				a.Log.Error("background component stopped", "err", err)
			}
		}(bg)
	}
	a.Log.Info("lindungi gateway started", "addr", a.Addr, "database", string(a.DB.Dialect()), "simulator", a.Simulator != nil, "version", a.opts.Version)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.Log.Info("shutting down: stopping intake")
	stopIntake()
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	wg.Wait()
	a.Log.Info("shutting down: draining outbox")
	stopOutbox()
	select {
	case <-obDone:
	case <-sctx.Done():
		a.Log.Warn("outbox did not drain in time; unsent rows stay queued")
	}
	a.Log.Info("stopped")
	return runErr
}

// NewHTTPServer bounds every phase of a request. WriteTimeout runs from the
// end of the request's header, so it covers reading the body too: it must
// exceed ReadTimeout (a 16 MiB tracing upload from a slow phone) and the
// simulator's long poll, and it still frees a connection whose client has
// stopped reading the answer. No route streams, so none needs more.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
}

// runSingleton keeps one connection-holding component running on exactly
// one replica: it waits for the leader lock, runs, and restarts on failure
// with backoff.
//
// A channel that cannot reach its server fails every minute for as long
// as the outage lasts; channels.OutageLog keeps that to a warning when it
// starts (and now and then), DEBUG in between.
func (a *App) runSingleton(ctx context.Context, r namedRunner) {
	leader := a.DB.NewLeader(r.name)
	backoff := time.Second
	var outage channels.OutageLog
	for ctx.Err() == nil {
		lctx, cancel, err := leader.Hold(ctx, 5*time.Second)
		if err != nil {
			return
		}
		start := time.Now()
		err = r.runner.Run(lctx, a.Bot)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
			outage.Recovered()
		}
		lvl, n := outage.Failed(err)
		a.Log.Log(ctx, lvl, "channel connection ended; restarting", "runner", r.name, "err", err, "in", backoff, "failures", n)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
	}
}

// Singletons names the connection-holding components that run under a
// leader lock, one replica at a time.
func (a *App) Singletons() []string {
	names := make([]string, len(a.runners))
	for i, r := range a.runners {
		names[i] = r.name
	}
	return names
}
