package jobs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"lindungi/audit"
	"lindungi/privacy"
	"lindungi/store"
)

// Rules shared by every retention job: a row is due when its timestamp is
// strictly before now − period. A row exactly one period old is kept until
// the next run.

// Config holds the periods the standard jobs need (config keys in
// parentheses; defaults in DefaultConfig).
type Config struct {
	TicketRetention time.Duration // jobs.ticket_retention: closed tickets anonymised after
	OutboxRetention time.Duration // jobs.outbox_retention: sent outbox rows deleted after
	SLA             time.Duration // tickets.sla: first response due within
	AuditRetention  time.Duration // jobs.audit_retention: audit rows deleted after (≥ 5 years)
	JobHistory      time.Duration // jobs.history_retention: job_runs rows deleted after
	// WhatsAppGrace is how long the channel may stay logged out before the
	// alert fires (jobs.whatsapp_logged_out_grace).
	WhatsAppGrace time.Duration
}

// DefaultConfig are the defaults main uses when config leaves a key unset.
func DefaultConfig() Config {
	return Config{
		TicketRetention: 365 * 24 * time.Hour,
		OutboxRetention: 30 * 24 * time.Hour,
		SLA:             24 * time.Hour,
		AuditRetention:  AuditFloor,
		JobHistory:      90 * 24 * time.Hour,
		WhatsAppGrace:   5 * time.Minute,
	}
}

// AuditFloor is the youngest audit row the database lets anyone delete
// (trigger in migration 0006).
const AuditFloor = 5 * 365 * 24 * time.Hour

// TracingPurger deletes Sijejak data past its retention (encounters, expired
// uploads, old TempIDs). tracing.* implements it.
type TracingPurger interface {
	Purge(ctx context.Context, now time.Time) (int64, error)
}

// TempIDKeyRotator creates the next TempID key and retires old ones.
type TempIDKeyRotator interface {
	RotateTempIDKeys(ctx context.Context, now time.Time) (int64, error)
}

// UploadWindowExpirer closes upload authorisations whose window passed.
type UploadWindowExpirer interface {
	ExpireUploadWindows(ctx context.Context, now time.Time) (int64, error)
}

// TaskFunc adapts any method value to the three interfaces above, so main
// can pass tracing's methods whatever they are called:
// jobs.TaskFunc(tr.PurgeExpired).
type TaskFunc func(ctx context.Context, now time.Time) (int64, error)

func (f TaskFunc) Purge(ctx context.Context, now time.Time) (int64, error) { return f(ctx, now) }
func (f TaskFunc) RotateTempIDKeys(ctx context.Context, now time.Time) (int64, error) {
	return f(ctx, now)
}
func (f TaskFunc) ExpireUploadWindows(ctx context.Context, now time.Time) (int64, error) {
	return f(ctx, now)
}

// SumCounts adapts a task that reports rows per table (tracing.Service.Purge).
func SumCounts(f func(ctx context.Context, now time.Time) (map[string]int64, error)) TaskFunc {
	return func(ctx context.Context, now time.Time) (int64, error) {
		m, err := f(ctx, now)
		var n int64
		for _, v := range m {
			n += v
		}
		return n, err
	}
}

// NoCount adapts a task that reports no row count (tracing.Service.RotateKeys).
func NoCount(f func(ctx context.Context, now time.Time) error) TaskFunc {
	return func(ctx context.Context, now time.Time) (int64, error) { return 0, f(ctx, now) }
}

// Deps are the other packages the standard jobs delegate to; nil ones leave
// their job out.
type Deps struct {
	Tracing  TracingPurger
	Rotator  TempIDKeyRotator
	Uploads  UploadWindowExpirer
	Privacy  *privacy.Service
	WhatsApp func() string // channel state: connected, logged_out, …
}

// Standard returns the gateway's housekeeping jobs.
func Standard(db *store.DB, cfg Config, d Deps) []Job {
	def := DefaultConfig()
	if cfg.TicketRetention <= 0 {
		cfg.TicketRetention = def.TicketRetention
	}
	if cfg.OutboxRetention <= 0 {
		cfg.OutboxRetention = def.OutboxRetention
	}
	if cfg.SLA <= 0 {
		cfg.SLA = def.SLA
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
	var out []Job
	if d.Tracing != nil {
		out = append(out, PurgeTracing(d.Tracing))
	}
	if d.Rotator != nil {
		out = append(out, RotateTempIDKeys(d.Rotator))
	}
	if d.Uploads != nil {
		out = append(out, ExpireUploadWindows(d.Uploads))
	}
	if d.Privacy != nil {
		out = append(out, RetentionTickets(db, d.Privacy, cfg.TicketRetention), DSRDeadline(d.Privacy))
	}
	out = append(out, SLAEscalation(db, cfg.SLA), OutboxCleanup(db, cfg.OutboxRetention), AuditRetention(db, cfg.AuditRetention),
		JobHistoryCleanup(db, cfg.JobHistory), Housekeeping(db, cfg.OutboxRetention))
	if d.WhatsApp != nil {
		out = append(out, WhatsAppHealth(db, d.WhatsApp, cfg.WhatsAppGrace))
	}
	return out
}

// PurgeTracing delegates to tracing.
func PurgeTracing(p TracingPurger) Job {
	return Job{Name: "purge-tracing", Spec: "0 0 * * * *", Timeout: 30 * time.Minute,
		Description: "delete Sijejak data past its 14-day retention",
		Run:         func(ctx context.Context, env Env) (int64, error) { return p.Purge(ctx, env.Now) }}
}

// RotateTempIDKeys delegates to tracing.
func RotateTempIDKeys(r TempIDKeyRotator) Job {
	return Job{Name: "rotate-tempid-keys", Spec: "0 5 0 * * *", Timeout: 5 * time.Minute,
		Description: "create the next TempID key, retire old ones",
		Run:         func(ctx context.Context, env Env) (int64, error) { return r.RotateTempIDKeys(ctx, env.Now) }}
}

// ExpireUploadWindows delegates to tracing.
func ExpireUploadWindows(x UploadWindowExpirer) Job {
	return Job{Name: "expire-upload-windows", Spec: "0 */5 * * * *", Timeout: 5 * time.Minute,
		Description: "close Sijejak upload authorisations past their window",
		Run:         func(ctx context.Context, env Env) (int64, error) { return x.ExpireUploadWindows(ctx, env.Now) }}
}

// RetentionTickets anonymises closed tickets older than retention (closed_at
// before now − retention), then deletes conversation messages that never
// joined a ticket and are as old, then anonymises contacts with nothing
// left inside the period. Rows counts all three.
func RetentionTickets(db *store.DB, p *privacy.Service, retention time.Duration) Job {
	return Job{Name: "retention-tickets", Spec: "0 30 2 * * *", Timeout: time.Hour,
		Description: fmt.Sprintf("anonymise tickets closed (and conversations idle) more than %s ago", human(retention)),
		Run: func(ctx context.Context, env Env) (int64, error) {
			cutoff := env.Now.Add(-retention)
			b := &Batcher{DB: db, Size: 500}
			tks, err := b.Loop(ctx, func(tx *store.Tx, limit int) (int64, error) {
				return p.RetentionStep(ctx, tx, cutoff, env.Now, limit)
			})
			if err != nil {
				return tks, err
			}
			chat, err := (&Batcher{DB: db}).Loop(ctx, func(tx *store.Tx, limit int) (int64, error) {
				return p.ChatterRetentionStep(ctx, tx, cutoff, limit)
			})
			if err != nil {
				return tks + chat, err
			}
			cts, err := b.Loop(ctx, func(tx *store.Tx, limit int) (int64, error) {
				return p.ContactRetentionStep(ctx, tx, cutoff, env.Now, limit)
			})
			n := tks + chat + cts
			if n > 0 && err == nil {
				t0 := time.Now()
				err = p.PurgeSearchIndex(ctx)
				env.Log.Info("search index purged of anonymised text", "took", time.Since(t0).Round(time.Millisecond))
			}
			st := b.Stats()
			env.Log.Info("ticket retention", "tickets", tks, "messages", chat, "contacts", cts, "longest_tx", st.MaxTx.Round(time.Microsecond))
			return n, err
		}}
}

// JobHistoryCleanup deletes job_runs rows older than keep.
func JobHistoryCleanup(db *store.DB, keep time.Duration) Job {
	return Job{Name: "job-history-cleanup", Spec: "0 50 3 * * *", Timeout: 10 * time.Minute,
		Description: fmt.Sprintf("delete job run history older than %s", human(keep)),
		Run: func(ctx context.Context, env Env) (int64, error) {
			return (&Batcher{DB: db}).Delete(ctx, "job_runs", "id", "started_at < ? AND outcome <> 'running'", env.Now.Add(-keep).UTC())
		}}
}

// SLAFlag is the ticket flag sla-escalation sets.
const SLAFlag = "sla_breached"

// SLAEscalation flags open or pending tickets still without a first response
// more than sla after they were created (created_at < now − sla), once per
// ticket, and notifies supervisors: an audit row per ticket, the alert
// metric lindungi_job_alerts_total{job="sla-escalation",alert="sla_breached"}
// and a warning log listing ticket numbers (never citizen data).
func SLAEscalation(db *store.DB, sla time.Duration) Job {
	return Job{Name: "sla-escalation", Spec: "0 */5 * * * *", Timeout: 5 * time.Minute,
		Description: fmt.Sprintf("flag tickets without a first response after %s", human(sla)),
		Run: func(ctx context.Context, env Env) (int64, error) {
			cutoff := env.Now.Add(-sla).UTC()
			var numbers []string
			b := &Batcher{DB: db, Size: 500}
			n, err := b.Loop(ctx, func(tx *store.Tx, limit int) (int64, error) {
				rows, err := tx.Query(ctx, `SELECT id, number FROM tickets
					WHERE status IN ('open', 'pending') AND first_response_at IS NULL AND created_at < ?
					AND (',' || flags || ',') NOT LIKE ? ORDER BY id LIMIT ?`, cutoff, "%,"+SLAFlag+",%", limit)
				if err != nil {
					return 0, fmt.Errorf("jobs: sla: %w", err)
				}
				type tk struct {
					id     int64
					number string
				}
				var due []tk
				for rows.Next() {
					var t tk
					if err := rows.Scan(&t.id, &t.number); err != nil {
						rows.Close()
						return 0, err
					}
					due = append(due, t)
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return 0, err
				}
				for _, t := range due {
					if _, err := tx.Exec(ctx, `UPDATE tickets SET flags = CASE WHEN flags = '' THEN ? ELSE flags || ? END WHERE id = ?`,
						SLAFlag, ","+SLAFlag, t.id); err != nil {
						return 0, fmt.Errorf("jobs: sla: %w", err)
					}
					if err := audit.Record(ctx, tx, "system:sla-escalation", "ticket.sla_breached", "ticket", t.number,
						fmt.Sprintf("no first response within %s", human(sla))); err != nil {
						return 0, err
					}
				}
				tx.AfterCommit(func() {
					for _, t := range due {
						numbers = append(numbers, t.number)
					}
				})
				return int64(len(due)), nil
			})
			if len(numbers) > 0 {
				env.Alert("sla_breached", len(numbers))
				env.Log.Warn("tickets breached the response SLA; supervisors notified", "count", len(numbers), "tickets", sample(numbers, 20), "sla", sla.String())
			}
			return n, err
		}}
}

// PurgeOutbox deletes sent outbox rows whose sent_at is before cutoff, in
// batches through b.
func PurgeOutbox(ctx context.Context, b *Batcher, cutoff time.Time) (int64, error) {
	return b.Delete(ctx, "outbox", "id", "status = 'sent' AND sent_at < ?", cutoff.UTC())
}

// OutboxCleanup deletes sent outbox rows past retention (their payloads
// hold message text and recipients).
func OutboxCleanup(db *store.DB, retention time.Duration) Job {
	return Job{Name: "outbox-cleanup", Spec: "0 15 * * * *", Timeout: 30 * time.Minute,
		Description: fmt.Sprintf("delete outbox rows sent more than %s ago", human(retention)),
		Run: func(ctx context.Context, env Env) (int64, error) {
			b := &Batcher{DB: db}
			n, err := PurgeOutbox(ctx, b, env.Now.Add(-retention))
			st := b.Stats()
			env.Log.Info("outbox cleanup", "deleted", n, "batches", st.Batches, "longest_tx", st.MaxTx.Round(time.Microsecond))
			return n, err
		}}
}

// DedupeKeyRetention is how long a chat message's dedupe key outlives it.
// WhatsApp and the simulator redeliver within minutes; keys older than this
// only grow the table. E-mail keys are never aged out: mail stays in the
// folder (after_import: seen) for as long as the mailbox keeps it, and a
// UIDVALIDITY change rescans the whole folder, so only the key stops a
// years-old mail from becoming a second ticket. They go when their message
// is erased or anonymised.
const DedupeKeyRetention = 90 * 24 * time.Hour

// Housekeeping deletes what nothing reads any more: expired console
// sessions, chat dedupe keys past DedupeKeyRetention, and dead-lettered
// outbox rows (their payloads hold message text) older than the outbox
// retention.
func Housekeeping(db *store.DB, outboxRetention time.Duration) Job {
	return Job{Name: "housekeeping", Spec: "0 25 * * * *", Timeout: 30 * time.Minute,
		Description: fmt.Sprintf("delete expired sessions, chat dedupe keys older than %s, dead outbox rows older than %s", human(DedupeKeyRetention), human(outboxRetention)),
		Run: func(ctx context.Context, env Env) (int64, error) {
			b := &Batcher{DB: db}
			// inbound_keys has a two-column key: delete by the row's own
			// address (rowid / ctid), which both dialects index.
			rowKey := "rowid"
			if db.Dialect() == store.Postgres {
				rowKey = "ctid"
			}
			var total int64
			for _, d := range []struct {
				table, key, where string
				arg               time.Time
			}{
				{"sessions", "token_hash", "expires_at < ?", env.Now},
				{"inbound_keys", rowKey, "received_at < ? AND channel <> 'email'", env.Now.Add(-DedupeKeyRetention)},
				{"outbox", "id", "status = 'dead' AND created_at < ?", env.Now.Add(-outboxRetention)},
			} {
				n, err := b.Delete(ctx, d.table, d.key, d.where, d.arg.UTC())
				total += n
				if err != nil {
					return total, err
				}
			}
			return total, nil
		}}
}

// AuditRetention deletes audit rows older than keep (never less than
// AuditFloor; the database refuses younger ones anyway).
func AuditRetention(db *store.DB, keep time.Duration) Job {
	if keep < AuditFloor {
		keep = AuditFloor
	}
	return Job{Name: "audit-retention", Spec: "0 0 4 * * 0", Timeout: time.Hour,
		Description: fmt.Sprintf("delete audit rows older than %s", human(keep)),
		Run: func(ctx context.Context, env Env) (int64, error) {
			b := &Batcher{DB: db}
			return b.Delete(ctx, "audit_log", "id", "at < ?", env.Now.Add(-keep).UTC())
		}}
}

// DSRDeadline escalates data-subject requests still open after 3×24 h.
func DSRDeadline(p *privacy.Service) Job {
	return Job{Name: "dsr-deadline", Spec: "0 */15 * * * *", Timeout: 5 * time.Minute,
		Description: "escalate data-subject requests open longer than 3×24 h",
		Run: func(ctx context.Context, env Env) (int64, error) {
			due, err := p.EscalateOverdue(ctx, env.Now)
			if err != nil {
				return 0, err
			}
			if len(due) > 0 {
				ids := make([]string, len(due))
				for i, r := range due {
					ids[i] = fmt.Sprint(r.ID)
				}
				env.Alert("dsr_overdue", len(due))
				env.Log.Warn("data-subject requests past the 3×24 h deadline", "count", len(due), "requests", sample(ids, 20))
			}
			return int64(len(due)), nil
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
		Description: fmt.Sprintf("alert when WhatsApp stays logged out over %s", human(grace)),
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

func sample(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ",")
	}
	return strings.Join(s[:n], ",") + fmt.Sprintf(",…(+%d)", len(s)-n)
}

func human(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	default:
		return d.String()
	}
}
