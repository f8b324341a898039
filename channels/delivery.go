package channels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"lindungi/store"
)

// Delivery states a provider reports after a message left the gateway
// (the WhatsApp Cloud API's status webhooks). They are kept in the outbox
// row's delivery column, beside its status.
const (
	DeliverySent      = "sent"
	DeliveryDelivered = "delivered"
	DeliveryRead      = "read"
	DeliveryFailed    = "failed"
)

// deliveryRank orders the states so that a late or repeated webhook never
// moves a message backwards: WhatsApp does not promise order, and a
// message read while its chat is open is never reported "delivered".
// failed ranks highest: once WhatsApp says it failed, a stray "sent"
// retried from earlier must not hide that.
const deliveryRank = `CASE delivery WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'failed' THEN 4 ELSE 0 END`

func rankOf(state string) int {
	switch state {
	case DeliverySent:
		return 1
	case DeliveryDelivered:
		return 2
	case DeliveryRead:
		return 3
	case DeliveryFailed:
		return 4
	}
	return 0
}

// RecordDelivery applies a provider's report about outbox row id. state is
// one of the Delivery* constants; an unknown state or id is ignored (the
// row may have been purged or erased). For DeliveryFailed, outcome says
// what becomes of the row, classified as Channel.Send's errors are:
// ErrPermanent dead-letters it (OnDead flags the ticket), ErrHeld holds
// it, ErrNotReady or anything else queues it again; nil only records.
// Repeats and reports out of order change nothing.
func (o *Outbox) RecordDelivery(ctx context.Context, id, state string, outcome error) error {
	r := rankOf(state)
	if r == 0 || id == "" {
		return nil
	}
	return o.db.InTx(ctx, func(tx *store.Tx) error {
		var (
			m      Outbound
			status string
			cur    string
		)
		err := tx.QueryRow(ctx, `SELECT channel, recipient, COALESCE(ticket_id, 0), kind, status, delivery FROM outbox WHERE id = ?`, id).
			Scan(&m.Channel, &m.To, &m.TicketID, &m.Kind, &status, &cur)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("outbox: delivery of %s: %w", id, err)
		}
		if rankOf(cur) >= r {
			return nil // a repeat, or overtaken by a later state
		}
		m.ID = id
		if _, err := tx.Exec(ctx, `UPDATE outbox SET delivery = ? WHERE id = ? AND `+deliveryRank+` < ?`, state, id, r); err != nil {
			return fmt.Errorf("outbox: delivery of %s: %w", id, err)
		}
		if state != DeliveryFailed || outcome == nil || status == "dead" {
			return nil
		}
		reason := truncate(outcome.Error(), 500)
		switch {
		case errors.Is(outcome, ErrPermanent):
			if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'dead', last_error = ?, claimed_until = NULL WHERE id = ?`, reason, id); err != nil {
				return fmt.Errorf("outbox: dead-letter %s: %w", id, err)
			}
			o.dead.WithLabelValues(m.Channel).Inc()
			o.failed.WithLabelValues(m.Channel, "permanent").Inc()
			o.log.Warn("outbox message dead-lettered on the provider's report", "channel", m.Channel, "outbox_id", id, "ticket_id", m.TicketID)
			if o.OnDead != nil {
				return o.OnDead(ctx, tx, m, reason)
			}
		case errors.Is(outcome, ErrHeld):
			if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'held', last_error = ?, claimed_until = NULL WHERE id = ?`, reason, id); err != nil {
				return fmt.Errorf("outbox: hold %s: %w", id, err)
			}
			o.failed.WithLabelValues(m.Channel, "held").Inc()
		default:
			// Sent again under the same outbox ID after the usual backoff;
			// the delivery state starts over for the new attempt.
			next := o.Now().Add(o.backoff(1))
			if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'queued', delivery = '', last_error = ?, claimed_until = NULL, next_attempt_at = ? WHERE id = ?`, reason, next, id); err != nil {
				return fmt.Errorf("outbox: requeue %s: %w", id, err)
			}
			o.failed.WithLabelValues(m.Channel, "retry").Inc()
			tx.AfterCommit(func() { o.Wake(m.Channel) })
		}
		return nil
	})
}

// ReleaseHeld queues again the messages held for recipient on channel
// (the citizen wrote, so the reason they were held is gone) and returns
// how many.
func (o *Outbox) ReleaseHeld(ctx context.Context, channel, recipient string) (int64, error) {
	res, err := o.db.Exec(ctx, `UPDATE outbox SET status = 'queued', next_attempt_at = ?, last_error = '' WHERE channel = ? AND recipient = ? AND status = 'held'`,
		o.Now(), channel, recipient)
	if err != nil {
		return 0, fmt.Errorf("outbox: release held: %w", err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		o.Wake(channel)
	}
	return n, nil
}

// HeldReasons returns why each held row among ids is held, by id (the
// ticket shows it beside the reply).
func (o *Outbox) HeldReasons(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	err := store.InBatches(ids, func(part []string) error {
		in, args := store.InList(part)
		rows, err := o.db.Query(ctx, `SELECT id, last_error FROM outbox WHERE status = 'held' AND id IN (`+in+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, why string
			if err := rows.Scan(&id, &why); err != nil {
				return err
			}
			out[id] = why
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: held reasons: %w", err)
	}
	return out, nil
}
