package main

import (
	"context"
	"io"
	"log/slog"

	"lindungi/accounts"
	"lindungi/bot"
	"lindungi/channels"
	"lindungi/channels/simulator"
	"lindungi/channels/whatsapp"
	"lindungi/config"
	"lindungi/internal/app"
	"lindungi/jobs"
	"lindungi/store"
	"lindungi/tickets"
)

// App is the gateway internal/app wires, under the short names the
// commands and the root package's end-to-end tests were written against;
// the fields are the same instances as app.App's.
type App struct {
	*app.App
	cfg       config.Config
	log       *slog.Logger
	db        *store.DB
	tickets   *tickets.Store
	accounts  *accounts.Store
	outbox    *channels.Outbox
	bot       *bot.Bot
	sim       *simulator.Channel
	whatsapp  *whatsapp.Channel
	scheduler *jobs.Scheduler
}

// newApp wires the gateway with this binary's version.
func newApp(ctx context.Context, cfg config.Config, logw io.Writer) (*App, error) {
	a, err := app.New(ctx, cfg, logw, appOptions())
	if err != nil {
		return nil, err
	}
	return wrap(a), nil
}

// appOptions are what the process, not the configuration, decides.
func appOptions() app.Options { return app.Options{Version: version} }

// wrap gives a the short names (e2e_test.go wraps apptest's gateway too).
func wrap(a *app.App) *App {
	return &App{App: a, cfg: a.Config, log: a.Log, db: a.DB, tickets: a.Tickets, accounts: a.Accounts, outbox: a.Outbox,
		bot: a.Bot, sim: a.Simulator, whatsapp: a.WhatsApp, scheduler: a.Scheduler}
}

// openStore is app.OpenStore, for the commands that open the database
// without serving (user, token, chat) and their tests.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.DB, *store.Sealer, error) {
	return app.OpenStore(ctx, cfg, log)
}
