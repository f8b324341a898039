package bot_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"lindungi/bot"
	"lindungi/channels"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tickets"
)

// pipeline is the bot with what it writes to (tickets, the outbox) on one
// database, wired as the gateway wires them, without channels or HTTP.
type pipeline struct {
	db       *store.DB
	tickets  *tickets.Store
	bot      *bot.Bot
	registry *prometheus.Registry
}

func newPipeline(t testing.TB, db *store.DB, cfg bot.Config) *pipeline {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := &pipeline{db: db, tickets: tickets.New(db, storetest.Sealer(t)), registry: prometheus.NewRegistry()}
	ob := channels.NewOutbox(db, channels.OutboxConfig{}, log, p.registry)
	p.bot = bot.New(db, p.tickets, ob, bot.Features{}, cfg, log, p.registry)
	return p
}

// count runs a COUNT query on the pipeline's database.
func count(t testing.TB, p *pipeline, query string, args ...any) int {
	t.Helper()
	var n int
	if err := p.db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
