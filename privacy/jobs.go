package privacy

import (
	"context"
	"fmt"
	"time"

	"lindungi/jobs"
	"lindungi/store"
)

// RetentionTickets anonymises closed tickets older than retention (closed_at
// before now − retention), then deletes conversation messages that never
// joined a ticket and are as old, then anonymises contacts with nothing
// left inside the period. Rows counts all three.
func (s *Service) RetentionTickets(retention time.Duration) jobs.Job {
	db := s.db
	return jobs.Job{Name: "retention-tickets", Spec: "0 30 2 * * *", Timeout: time.Hour,
		Description: fmt.Sprintf("anonymise tickets closed (and conversations idle) more than %s ago", jobs.Human(retention)),
		Run: func(ctx context.Context, env jobs.Env) (int64, error) {
			cutoff := env.Now.Add(-retention)
			b := &jobs.Batcher{DB: db, Size: 500}
			tks, err := b.Loop(ctx, func(tx *store.Tx, limit int) (int64, error) {
				return s.RetentionStep(ctx, tx, cutoff, env.Now, limit)
			})
			if err != nil {
				return tks, err
			}
			chat, err := (&jobs.Batcher{DB: db}).Loop(ctx, func(tx *store.Tx, limit int) (int64, error) {
				return s.ChatterRetentionStep(ctx, tx, cutoff, limit)
			})
			if err != nil {
				return tks + chat, err
			}
			cts, err := b.Loop(ctx, func(tx *store.Tx, limit int) (int64, error) {
				return s.ContactRetentionStep(ctx, tx, cutoff, env.Now, limit)
			})
			n := tks + chat + cts
			if n > 0 && err == nil {
				t0 := time.Now()
				err = s.PurgeSearchIndex(ctx)
				env.Log.Info("search index purged of anonymised text", "took", time.Since(t0).Round(time.Millisecond))
			}
			st := b.Stats()
			env.Log.Info("ticket retention", "tickets", tks, "messages", chat, "contacts", cts, "longest_tx", st.MaxTx.Round(time.Microsecond))
			return n, err
		}}
}

// DSRDeadline escalates data-subject requests still open after 3×24 h.
func (s *Service) DSRDeadline() jobs.Job {
	return jobs.Job{Name: "dsr-deadline", Spec: "0 */15 * * * *", Timeout: 5 * time.Minute,
		Description: "escalate data-subject requests open longer than 3×24 h",
		Run: func(ctx context.Context, env jobs.Env) (int64, error) {
			due, err := s.EscalateOverdue(ctx, env.Now)
			if err != nil {
				return 0, err
			}
			if len(due) > 0 {
				ids := make([]string, len(due))
				for i, r := range due {
					ids[i] = fmt.Sprint(r.ID)
				}
				env.Alert("dsr_overdue", len(due))
				env.Log.Warn("data-subject requests past the 3×24 h deadline", "count", len(due), "requests", jobs.Sample(ids, 20))
			}
			return int64(len(due)), nil
		}}
}
