package tickets

import (
	"context"
	"fmt"
	"time"

	"lindungi/audit"
	"lindungi/jobs"
	"lindungi/store"
)

// SLAFlag is the ticket flag sla-escalation sets.
const SLAFlag = "sla_breached"

// The other flags an operator is shown (the console labels each).
const (
	UnparseableFlag    = "unparseable"     // the mail could not be read; the raw mail is attached
	OversizedFlag      = "oversized"       // only the mail's headers were imported
	DeliveryFailedFlag = "delivery_failed" // a reply bounced or was dead-lettered
)

// Flags lists every flag.
var Flags = []string{UnparseableFlag, OversizedFlag, DeliveryFailedFlag, SLAFlag}

// SLAEscalation flags open or pending tickets still without a first response
// more than the SLA (tickets.sla) after they were created (created_at < now − sla), once per
// ticket, and notifies supervisors: an audit row per ticket, the alert
// metric lindungi_job_alerts_total{job="sla-escalation",alert="sla_breached"}
// and a warning log listing ticket numbers (never citizen data).
func (s *Store) SLAEscalation() jobs.Job {
	sla := s.cfg.SLA
	return jobs.Job{Name: "sla-escalation", Spec: "0 */5 * * * *", Timeout: 5 * time.Minute,
		Description: fmt.Sprintf("flag tickets without a first response after %s", jobs.Human(sla)),
		Run: func(ctx context.Context, env jobs.Env) (int64, error) {
			cutoff := env.Now.Add(-sla).UTC()
			var numbers []string
			b := &jobs.Batcher{DB: s.db, Size: 500}
			n, err := b.Loop(ctx, func(tx *store.Tx, limit int) (int64, error) {
				due, err := s.slaDue(ctx, tx, cutoff, limit)
				if err != nil {
					return 0, err
				}
				for _, t := range due {
					if err := s.AddFlag(ctx, tx, t.id, SLAFlag); err != nil {
						return 0, fmt.Errorf("tickets: sla: %w", err)
					}
					if err := audit.Record(ctx, tx, "system:sla-escalation", "ticket.sla_breached", "ticket", t.number,
						fmt.Sprintf("no first response within %s", jobs.Human(sla))); err != nil {
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
				env.Log.Warn("tickets breached the response SLA; supervisors notified", "count", len(numbers), "tickets", jobs.Sample(numbers, 20), "sla", sla.String())
			}
			return n, err
		}}
}

type dueTicket struct {
	id     int64
	number string
}

// slaDue returns up to limit open or pending tickets created before cutoff
// with no first response and not flagged yet.
func (s *Store) slaDue(ctx context.Context, tx *store.Tx, cutoff time.Time, limit int) ([]dueTicket, error) {
	rows, err := tx.Query(ctx, `SELECT id, number FROM tickets
		WHERE status IN ('open', 'pending') AND first_response_at IS NULL AND created_at < ?
		AND (',' || flags || ',') NOT LIKE ? ORDER BY id LIMIT ?`, cutoff, "%,"+SLAFlag+",%", limit)
	if err != nil {
		return nil, fmt.Errorf("tickets: sla: %w", err)
	}
	defer rows.Close()
	var due []dueTicket
	for rows.Next() {
		var t dueTicket
		if err := rows.Scan(&t.id, &t.number); err != nil {
			return nil, err
		}
		due = append(due, t)
	}
	return due, rows.Err()
}

// DedupeKeyRetention is how long a chat message's dedupe key outlives it.
// WhatsApp and the simulator redeliver within minutes; keys older than this
// only grow the table. E-mail keys are never aged out: mail stays in the
// folder (after_import: seen) for as long as the mailbox keeps it, and a
// UIDVALIDITY change rescans the whole folder, so only the key stops a
// years-old mail from becoming a second ticket. They go when their message
// is erased or anonymised.
const DedupeKeyRetention = 90 * 24 * time.Hour

// ChatKeySweep is the housekeeping share of inbound_keys: chat dedupe keys
// older than DedupeKeyRetention.
func ChatKeySweep(db *store.DB) jobs.Sweep {
	// inbound_keys has a two-column key: delete by the row's own address
	// (rowid / ctid), which both dialects index.
	rowKey := "rowid"
	if db.Dialect() == store.Postgres {
		rowKey = "ctid"
	}
	return jobs.Sweep{What: "chat dedupe keys older than " + jobs.Human(DedupeKeyRetention),
		Run: func(ctx context.Context, b *jobs.Batcher, now time.Time) (int64, error) {
			return b.Delete(ctx, "inbound_keys", rowKey, "received_at < ? AND channel <> 'email'", now.Add(-DedupeKeyRetention).UTC())
		}}
}
