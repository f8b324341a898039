package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"lindungi/accounts"
	"lindungi/bot"
	"lindungi/certificate"
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
	signer    *certificate.Signer
	scheduler *jobs.Scheduler
	runners   []namedRunner
}

// namedRunner names a singleton (the root tests look for "whatsapp").
type namedRunner struct{ name string }

// newApp wires the gateway with this binary's version and whatever fakes
// the root tests put in place of WhatsApp.
func newApp(ctx context.Context, cfg config.Config, logw io.Writer) (*App, error) {
	a, err := app.New(ctx, cfg, logw, appOptions())
	if err != nil {
		return nil, err
	}
	return wrap(a), nil
}

// appOptions are this binary's version and the fakes the root tests set.
func appOptions() app.Options {
	return app.Options{Version: version, WhatsAppTestServer: testWhatsAppServer, CloudClock: testCloudClock}
}

func wrap(a *app.App) *App {
	w := &App{App: a, cfg: a.Config, log: a.Log, db: a.DB, tickets: a.Tickets, accounts: a.Accounts, outbox: a.Outbox,
		bot: a.Bot, sim: a.Simulator, whatsapp: a.WhatsApp, signer: a.Signer, scheduler: a.Scheduler}
	for _, n := range a.Singletons() {
		w.runners = append(w.runners, namedRunner{name: n})
	}
	return w
}

// testCloudClock replaces the Cloud API provider's clock in end-to-end
// tests that leave the 24-hour window (set only by _test.go files).
var testCloudClock func() time.Time

// testWhatsAppServer points the app's WhatsApp client at a fake server in
// end-to-end tests (set only by _test.go files; release builds leave it nil).
var testWhatsAppServer *whatsapp.TestServer

func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.DB, *store.Sealer, error) {
	return app.OpenStore(ctx, cfg, log)
}

func newHTTPServer(h http.Handler) *http.Server { return app.NewHTTPServer(h) }

func (a *App) showQR(code string) { a.ShowQR(code) }
