package tickets

import (
	"context"
	"fmt"
	"time"

	"lindungi/store"
)

// inbound_keys holds the channel-scoped external ID of every inbound
// message, written first in the transaction that stores the message: a
// redelivery finds its key and stores nothing. The key then points at the
// stored message, which is how e-mail threading finds a ticket by
// Message-ID (ByExternalMessage) and how erasure finds the keys of erased
// messages.

// ClaimInboundKey inserts the dedupe key (channel, externalID) received at
// at, and reports false when it was there already (a redelivery).
func (s *Store) ClaimInboundKey(ctx context.Context, tx *store.Tx, channel, externalID string, at time.Time) (bool, error) {
	res, err := tx.Exec(ctx, `INSERT INTO inbound_keys (channel, external_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		channel, externalID, at)
	if err != nil {
		return false, fmt.Errorf("tickets: dedupe: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// LinkInboundKey points the dedupe key at the message it stored.
func (s *Store) LinkInboundKey(ctx context.Context, tx *store.Tx, channel, externalID string, messageID int64) error {
	if _, err := tx.Exec(ctx, `UPDATE inbound_keys SET message_id = ? WHERE channel = ? AND external_id = ?`, messageID, channel, externalID); err != nil {
		return fmt.Errorf("tickets: dedupe link: %w", err)
	}
	return nil
}

// StoredInboundKeys returns which of externalIDs are stored for channel,
// one query per IN-list batch.
func (s *Store) StoredInboundKeys(ctx context.Context, tx *store.Tx, channel string, externalIDs []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := store.InBatches(externalIDs, func(part []string) error {
		in, args := store.InList(part)
		rows, err := tx.Query(ctx, `SELECT external_id FROM inbound_keys WHERE channel = ? AND external_id IN (`+in+`)`, append([]any{channel}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out[id] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("tickets: dedupe: %w", err)
	}
	return out, nil
}

// InboundKey stages the dedupe key of a message staged with Message
// (written at Flush, after the message).
func (st *Staged) InboundKey(channel, externalID string, at time.Time, messageID int64) {
	st.keys.Add(channel, externalID, at, messageID)
}
