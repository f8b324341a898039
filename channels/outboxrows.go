package channels

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"lindungi/jobs"
	"lindungi/store"
)

// What other packages need of the outbox table, so that its SQL stays
// here: the bot's acknowledgement rules count what was queued, privacy
// exports and erases a citizen's rows, the jobs delete old ones.

// CountKind counts the messages of kind ever queued for recipient on
// channel, whatever became of them.
func (o *Outbox) CountKind(ctx context.Context, tx *store.Tx, channel, kind, recipient string) (int, error) {
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE channel = ? AND recipient = ? AND kind = ?`, channel, recipient, kind).Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox: count: %w", err)
	}
	return n, nil
}

// CountKindSince sets counts[r], for each recipient r, to the messages of
// kind queued for r on channel after since; one query per IN-list batch.
func (o *Outbox) CountKindSince(ctx context.Context, tx *store.Tx, channel, kind string, since time.Time, recipients []string, counts map[string]int) error {
	return store.InBatches(recipients, func(part []string) error {
		for _, a := range part {
			counts[a] = 0
		}
		in, args := store.InList(part)
		rows, err := tx.Query(ctx, `SELECT recipient, COUNT(*) FROM outbox WHERE channel = ? AND kind = ? AND created_at > ? AND recipient IN (`+in+`) GROUP BY recipient`,
			append([]any{channel, kind, since}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			var n int
			if err := rows.Scan(&a, &n); err != nil {
				return err
			}
			counts[a] = n
		}
		return rows.Err()
	})
}

// OutboxItem is a message to a citizen in the delivery queue, as a
// data-subject export lists it (no text: the export holds the messages).
type OutboxItem struct {
	ID        string     `json:"id"`
	Channel   string     `json:"channel"`
	Kind      string     `json:"kind"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"createdAt"`
	SentAt    *time.Time `json:"sentAt,omitempty"`
}

// ExportOutbox lists the rows addressed to any of addresses or belonging
// to any of ticketIDs, oldest first.
func ExportOutbox(ctx context.Context, db *store.DB, addresses []string, ticketIDs []int64) ([]OutboxItem, error) {
	ain, aargs := store.InList(addresses)
	tin, targs := store.InList(ticketIDs)
	rows, err := db.Query(ctx, `SELECT id, channel, kind, status, created_at, sent_at FROM outbox
		WHERE recipient IN (`+ain+`) OR ticket_id IN (`+tin+`) ORDER BY created_at, id`, append(aargs, targs...)...)
	if err != nil {
		return nil, fmt.Errorf("outbox: export: %w", err)
	}
	defer rows.Close()
	out := []OutboxItem{}
	for rows.Next() {
		var o OutboxItem
		var sent sql.NullTime
		if err := rows.Scan(&o.ID, &o.Channel, &o.Kind, &o.Status, &o.CreatedAt, &sent); err != nil {
			return nil, err
		}
		o.CreatedAt = o.CreatedAt.UTC()
		if sent.Valid {
			t := sent.Time.UTC()
			o.SentAt = &t
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// EraseForTickets deletes the outbox rows of ticketIDs (their payloads hold
// the replies' text).
func EraseForTickets(ctx context.Context, tx *store.Tx, ticketIDs []int64) error {
	if len(ticketIDs) == 0 {
		return nil
	}
	in, args := store.InList(ticketIDs)
	if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE ticket_id IN (`+in+`)`, args...); err != nil {
		return fmt.Errorf("outbox: erase: %w", err)
	}
	return nil
}

// EraseTo deletes the outbox rows addressed to any of addresses.
func EraseTo(ctx context.Context, tx *store.Tx, addresses []string) error {
	in, args := store.InList(addresses)
	if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE recipient IN (`+in+`)`, args...); err != nil {
		return fmt.Errorf("outbox: erase: %w", err)
	}
	return nil
}

// PurgeSent deletes sent outbox rows whose sent_at is before cutoff, in
// batches through b.
func PurgeSent(ctx context.Context, b *jobs.Batcher, cutoff time.Time) (int64, error) {
	return b.Delete(ctx, "outbox", "id", "status = 'sent' AND sent_at < ?", cutoff.UTC())
}

// OutboxCleanup deletes sent outbox rows past retention (their payloads
// hold message text and recipients).
func OutboxCleanup(db *store.DB, retention time.Duration) jobs.Job {
	return jobs.Job{Name: "outbox-cleanup", Spec: "0 15 * * * *", Timeout: 30 * time.Minute,
		Description: fmt.Sprintf("delete outbox rows sent more than %s ago", jobs.Human(retention)),
		Run: func(ctx context.Context, env jobs.Env) (int64, error) {
			b := &jobs.Batcher{DB: db}
			n, err := PurgeSent(ctx, b, env.Now.Add(-retention))
			st := b.Stats()
			env.Log.Info("outbox cleanup", "deleted", n, "batches", st.Batches, "longest_tx", st.MaxTx.Round(time.Microsecond))
			return n, err
		}}
}

// DeadSweep is the housekeeping share of the outbox: dead-lettered rows
// (their payloads hold message text) older than retention.
func DeadSweep(retention time.Duration) jobs.Sweep {
	return jobs.Sweep{What: "dead outbox rows older than " + jobs.Human(retention),
		Run: func(ctx context.Context, b *jobs.Batcher, now time.Time) (int64, error) {
			return b.Delete(ctx, "outbox", "id", "status = 'dead' AND created_at < ?", now.Add(-retention).UTC())
		}}
}

// DeliveryStates returns the status (queued, sending, sent, held, dead, or
// the provider's delivered, read, failed) of the
// outbox rows among ids, by id; an outgoing message's external ID is its
// outbox row's ID.
func (o *Outbox) DeliveryStates(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	err := store.InBatches(ids, func(part []string) error {
		in, args := store.InList(part)
		rows, err := o.db.Query(ctx, `SELECT id, status, delivery FROM outbox WHERE id IN (`+in+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, st, dl string
			if err := rows.Scan(&id, &st, &dl); err != nil {
				return err
			}
			// What the provider reported (delivered, read, failed) says
			// more than "sent"; a dead or held row says that instead.
			if dl != "" && st != "dead" && st != "held" {
				st = dl
			}
			out[id] = st
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: delivery states: %w", err)
	}
	return out, nil
}

// DeliveryFailures returns why the dead (given up) rows among ids failed,
// by id, as the channel last said it: the console shows the operator why a
// reply never arrived.
func (o *Outbox) DeliveryFailures(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	err := store.InBatches(ids, func(part []string) error {
		in, args := store.InList(part)
		rows, err := o.db.Query(ctx, `SELECT id, last_error FROM outbox WHERE status = 'dead' AND id IN (`+in+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, e string
			if err := rows.Scan(&id, &e); err != nil {
				return err
			}
			if r := []rune(e); len(r) > 200 {
				e = string(r[:200]) + "…"
			}
			out[id] = e
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: delivery failures: %w", err)
	}
	return out, nil
}
