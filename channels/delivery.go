package channels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
// A row whose content was already dropped cannot go again, so it is
// dead-lettered instead. delivered or read drops the content an erasure,
// export or code kept for a resend. Repeats and reports out of order
// change nothing.
func (o *Outbox) RecordDelivery(ctx context.Context, id, state string, outcome error) error {
	r := rankOf(state)
	if r == 0 || id == "" {
		return nil
	}
	return o.db.InTx(ctx, func(tx *store.Tx) error {
		var (
			m       Outbound
			status  string
			cur     string
			payload string
		)
		err := tx.QueryRow(ctx, `SELECT channel, recipient, COALESCE(ticket_id, 0), kind, status, delivery, payload FROM outbox WHERE id = ?`, id).
			Scan(&m.Channel, &m.To, &m.TicketID, &m.Kind, &status, &cur, &payload)
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
		if state == DeliveryDelivered || state == DeliveryRead {
			// The citizen has it: the content an erasure, export or code
			// kept while it might have to go again can go now. The
			// condition is read under the row's lock (taken by the
			// update above), so a send's answer recorded meanwhile is
			// seen; record drops it itself if this report came first.
			return dropContent(ctx, tx, m.Kind, id, ` AND status = 'sent'`)
		}
		if state != DeliveryFailed || outcome == nil || status == "dead" {
			return nil
		}
		reason := truncate(outcome.Error(), 500)
		if !errors.Is(outcome, ErrPermanent) && contentDropped(m.Kind, m.To, payload) {
			// Queued again it would go to "erased" with empty text, held
			// it would never be released (ReleaseHeld matches the
			// recipient): say plainly that it is lost.
			if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'dead', last_error = ?, claimed_until = NULL WHERE id = ?`,
				truncate(errContentDropped.Error()+": "+reason, 500), id); err != nil {
				return fmt.Errorf("outbox: dead-letter %s: %w", id, err)
			}
			o.dead.WithLabelValues(m.Channel).Inc()
			o.failed.WithLabelValues(m.Channel, "content_dropped").Inc()
			o.log.Error("outbox message failed after its content was dropped; dead-lettered", "channel", m.Channel, "outbox_id", id, "ticket_id", m.TicketID, "kind", m.Kind)
			if o.OnDead != nil {
				return o.OnDead(ctx, tx, m, errContentDropped.Error())
			}
			return nil
		}
		switch {
		case errors.Is(outcome, ErrPermanent):
			if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'dead', last_error = ?, claimed_until = NULL WHERE id = ?`, reason, id); err != nil {
				return fmt.Errorf("outbox: dead-letter %s: %w", id, err)
			}
			// Dead, it will not go again: nothing to keep it for.
			if err := dropContent(ctx, tx, m.Kind, id, ""); err != nil {
				return err
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

// OTPLifetime bounds how long any one-time code the gateway sends stays
// valid (self-service: 10 minutes, Sijejak: 5): a held code older than
// this is not worth sending.
const OTPLifetime = 10 * time.Minute

var errStaleOTP = errors.New("one-time code expired while held (outside the 24-hour window); the citizen must ask for a new one")

// ReleaseHeld queues again the messages held for recipient on channel
// (the citizen wrote, so the reason they were held is gone) and returns
// how many.
//
// A one-time code held longer than OTPLifetime is dead-lettered instead:
// it has expired, and arriving now it would only mislead the citizen.
func (o *Outbox) ReleaseHeld(ctx context.Context, channel, recipient string) (int64, error) {
	now := o.Now()
	var n, stale int64
	err := o.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE outbox SET status = 'dead', last_error = ?, payload = ?, claimed_until = NULL
			WHERE channel = ? AND recipient = ? AND status = 'held' AND kind = ? AND created_at < ?`,
			errStaleOTP.Error(), redactedOTP, channel, recipient, KindOTP, now.Add(-OTPLifetime))
		if err != nil {
			return err
		}
		stale, _ = res.RowsAffected()
		// The delivery state starts over for the new attempt, as when a
		// failure report queues a row again: a "failed" left from the
		// report that held it would outrank the new attempt's reports.
		res, err = tx.Exec(ctx, `UPDATE outbox SET status = 'queued', delivery = '', next_attempt_at = ?, last_error = '' WHERE channel = ? AND recipient = ? AND status = 'held'`,
			now, channel, recipient)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: release held: %w", err)
	}
	if stale > 0 {
		o.dead.WithLabelValues(channel).Add(float64(stale))
		o.failed.WithLabelValues(channel, "otp_expired").Add(float64(stale))
		o.log.Info("held one-time codes expired; dead-lettered, not released", "channel", channel, "messages", stale)
	}
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
