package jobs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"lindungi/audit"
	"lindungi/store"
)

// Rules shared by every retention job: a row is due when its timestamp is
// strictly before now − period. A row exactly one period old is kept until
// the next run.

// Config holds the periods the standard jobs need. Two are configurable
// (jobs.ticket_retention, jobs.outbox_retention); the others are fixed at
// their defaults, and config.Default carries the same values as
// DefaultConfig for the two (a test checks they agree).
type Config struct {
	TicketRetention time.Duration // jobs.ticket_retention: closed tickets anonymised after
	OutboxRetention time.Duration // jobs.outbox_retention: sent outbox rows deleted after
	AuditRetention  time.Duration // audit rows deleted after (≥ AuditFloor)
	JobHistory      time.Duration // job_runs rows deleted after
	// WhatsAppGrace is how long the channel may stay logged out before the
	// alert fires.
	WhatsAppGrace time.Duration
}

// DefaultConfig is the setup when config leaves a period unset.
func DefaultConfig() Config {
	return Config{
		TicketRetention: 365 * 24 * time.Hour,
		OutboxRetention: 30 * 24 * time.Hour,
		AuditRetention:  AuditFloor,
		JobHistory:      90 * 24 * time.Hour,
		WhatsAppGrace:   5 * time.Minute,
	}
}

// AuditFloor is the youngest audit row the database lets anyone delete
// (trigger in migration 0006).
const AuditFloor = 5 * 365 * 24 * time.Hour

// Deps are what the jobs of this package read from elsewhere; nil ones
// leave their job out.
type Deps struct {
	WhatsApp func() string // channel state: connected, logged_out, …
}

// Resolved is cfg with every unset period at its default and the audit
// retention at least AuditFloor.
func (cfg Config) Resolved() Config {
	def := DefaultConfig()
	if cfg.TicketRetention <= 0 {
		cfg.TicketRetention = def.TicketRetention
	}
	if cfg.OutboxRetention <= 0 {
		cfg.OutboxRetention = def.OutboxRetention
	}
	if cfg.AuditRetention < AuditFloor {
		cfg.AuditRetention = AuditFloor
	}
	if cfg.WhatsAppGrace <= 0 {
		cfg.WhatsAppGrace = def.WhatsAppGrace
	}
	if cfg.JobHistory <= 0 {
		cfg.JobHistory = def.JobHistory
	}
	return cfg
}

// Builtin returns the jobs this package defines itself: audit retention,
// its own history cleanup and the WhatsApp alert. The packages that own
// the other tables contribute theirs (tickets, channels, privacy,
// tracing; accounts through Housekeeping).
func Builtin(db *store.DB, cfg Config, d Deps) []Job {
	cfg = cfg.Resolved()
	out := []Job{AuditRetention(db, cfg.AuditRetention), JobHistoryCleanup(db, cfg.JobHistory)}
	if d.WhatsApp != nil {
		out = append(out, WhatsAppHealth(db, d.WhatsApp, cfg.WhatsAppGrace))
	}
	return out
}

// JobHistoryCleanup deletes job_runs rows older than keep.
func JobHistoryCleanup(db *store.DB, keep time.Duration) Job {
	return Job{Name: "job-history-cleanup", Spec: "0 50 3 * * *", Timeout: 10 * time.Minute,
		Description: fmt.Sprintf("delete job run history older than %s", Human(keep)),
		Run: func(ctx context.Context, env Env) (int64, error) {
			return (&Batcher{DB: db}).Delete(ctx, "job_runs", "id", "started_at < ? AND outcome <> 'running'", env.Now.Add(-keep).UTC())
		}}
}

// AuditRetention deletes audit rows older than keep (never less than
// AuditFloor; the database refuses younger ones anyway).
func AuditRetention(db *store.DB, keep time.Duration) Job {
	if keep < AuditFloor {
		keep = AuditFloor
	}
	return Job{Name: "audit-retention", Spec: "0 0 4 * * 0", Timeout: time.Hour,
		Description: fmt.Sprintf("delete audit rows older than %s", Human(keep)),
		Run: func(ctx context.Context, env Env) (int64, error) {
			cutoff := env.Now.Add(-keep)
			return (&Batcher{DB: db}).Loop(ctx, func(tx *store.Tx, limit int) (int64, error) {
				return audit.DeleteBefore(ctx, tx, cutoff, limit)
			})
		}}
}

// WhatsAppHealth alerts while the WhatsApp channel has stayed logged out
// for longer than grace (someone must pair it again): every run while the
// condition lasts counts lindungi_job_alerts_total{alert="whatsapp_logged_out"}
// and logs an error; the first run of an episode also writes an audit row.
func WhatsAppHealth(db *store.DB, state func() string, grace time.Duration) Job {
	var mu sync.Mutex
	var since time.Time
	alerted := false
	return Job{Name: "whatsapp-health", Spec: "30 * * * * *", Timeout: time.Minute,
		Description: fmt.Sprintf("alert when WhatsApp stays logged out over %s", Human(grace)),
		Run: func(ctx context.Context, env Env) (int64, error) {
			mu.Lock()
			defer mu.Unlock()
			st := state()
			if st != "logged_out" {
				if alerted {
					env.Log.Info("whatsapp channel recovered", "state", st)
				}
				since, alerted = time.Time{}, false
				return 0, nil
			}
			if since.IsZero() {
				since = env.Now
			}
			down := env.Now.Sub(since)
			if down < grace {
				return 0, nil
			}
			env.Alert("whatsapp_logged_out", 1)
			env.Log.Error("whatsapp channel logged out; pair it again at /whatsapp or `lindungi whatsapp pair`", "for", down.Round(time.Second))
			if !alerted {
				alerted = true
				if err := audit.Record(ctx, db, "system:whatsapp-health", "channel.logged_out", "channel", "whatsapp",
					fmt.Sprintf("logged out since %s", since.Format(time.RFC3339))); err != nil {
					return 1, err
				}
			}
			return 1, nil
		}}
}

// Sample joins the first n of s with commas and says how many it left
// out, for a log line that names the rows a job touched.
func Sample(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ",")
	}
	return strings.Join(s[:n], ",") + fmt.Sprintf(",…(+%d)", len(s)-n)
}

// Human writes d in days when it is a whole number of days ("90d"), for
// job descriptions.
func Human(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	default:
		return d.String()
	}
}

// Sweep is one owner's share of the housekeeping job: it deletes, through
// b, the rows of its tables that nothing reads any more at now.
type Sweep struct {
	What string // for the description: "expired sessions"
	Run  func(ctx context.Context, b *Batcher, now time.Time) (int64, error)
}

// Housekeeping deletes what nothing reads any more, one sweep after the
// other (expired console sessions, chat dedupe keys, dead outbox rows:
// each from the package that owns the table).
func Housekeeping(db *store.DB, sweeps ...Sweep) Job {
	whats := make([]string, len(sweeps))
	for i, sw := range sweeps {
		whats[i] = sw.What
	}
	return Job{Name: "housekeeping", Spec: "0 25 * * * *", Timeout: 30 * time.Minute,
		Description: "delete " + strings.Join(whats, ", "),
		Run: func(ctx context.Context, env Env) (int64, error) {
			b := &Batcher{DB: db}
			var total int64
			for _, sw := range sweeps {
				n, err := sw.Run(ctx, b, env.Now)
				total += n
				if err != nil {
					return total, err
				}
			}
			return total, nil
		}}
}
