package jobs_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"lindungi/accounts"
	"lindungi/channels"
	"lindungi/config"
	"lindungi/jobs"
	"lindungi/privacy"
	"lindungi/store"
	"lindungi/tickets"
)

// How main wires the scheduler: the same construction serves `serve` (Run)
// and `lindungi jobs list|run NAME` (Command, without starting it).
func Example_wiring() {
	ctx := context.Background()
	cfg := config.Default()
	db, _ := store.Open(ctx, store.Options{DataDir: os.TempDir() + "/lindungi-example"})
	defer db.Close()
	db.Migrate(ctx)
	key := make([]byte, 32)
	sealer, _ := store.NewSealer(key)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	loc, _ := time.LoadLocation(cfg.Jobs.Timezone)
	sched, err := jobs.New(db, jobs.Options{
		Location:   loc,
		Schedule:   cfg.Jobs.Schedule, // overrides by job name; "off" disables
		Registerer: prometheus.NewRegistry(),
		Log:        log,
	})
	if err != nil {
		panic(err)
	}
	priv := privacy.New(db, sealer, log /* , tracing's privacy.Holder */)
	jc := jobs.Config{
		TicketRetention: cfg.Jobs.TicketRetention.D(),
		OutboxRetention: cfg.Jobs.OutboxRetention.D(),
	}.Resolved()
	// This package's own jobs; with WhatsApp wired, Deps{WhatsApp:
	// func() string { return string(wa.State()) }} adds its alert.
	sched.MustRegister(jobs.Builtin(db, jc, jobs.Deps{})...)
	// Each package that owns tables contributes its jobs (and with
	// tracing wired, tr.Jobs()...).
	sched.MustRegister(priv.RetentionTickets(jc.TicketRetention), priv.DSRDeadline(),
		tickets.NewStore(db, sealer, tickets.Config{SLA: cfg.Tickets.SLA.D()}).SLAEscalation(), channels.OutboxCleanup(db, jc.OutboxRetention),
		jobs.Housekeeping(db, accounts.SessionSweep(), tickets.ChatKeySweep(db), channels.DeadSweep(jc.OutboxRetention)))
	for _, name := range sched.UnknownSchedules() {
		log.Warn("jobs.schedule names no job", "job", name)
	}

	// `lindungi jobs list`:
	_ = jobs.Command(ctx, sched, []string{"list"}, os.Stdout)

	// `lindungi serve`, when cfg.Jobs.Enabled:
	runCtx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_ = sched.Run(runCtx, 30*time.Second)
}
