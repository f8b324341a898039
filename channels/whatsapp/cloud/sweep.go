package cloud

import (
	"context"
	"fmt"
	"time"

	"lindungi/jobs"
	"lindungi/store"
)

// Sweeps are the provider's share of housekeeping. A window row past 48
// hours is read by nothing (the window is 24) and only says when a citizen
// last wrote, so it goes; a sent marker only guards a resend after a crash,
// which comes within the outbox's claim time, so it goes with the outbox's
// own retention.
func Sweeps(retention time.Duration) []jobs.Sweep {
	return []jobs.Sweep{
		{What: "WhatsApp Cloud API windows closed for a day", Run: func(ctx context.Context, b *jobs.Batcher, now time.Time) (int64, error) {
			return b.Delete(ctx, "whatsapp_cloud_windows", "wa_id", "last_inbound_at < ?", now.Add(-48*time.Hour).UTC())
		}},
		{What: "WhatsApp Cloud API send markers older than " + jobs.Human(retention), Run: func(ctx context.Context, b *jobs.Batcher, now time.Time) (int64, error) {
			return b.Delete(ctx, "whatsapp_cloud_sent", "outbox_id", "sent_at < ?", now.Add(-retention).UTC())
		}},
	}
}

// Erase forgets the provider's records of the citizens at addresses (E.164
// phones; others are ignored): when they last wrote and which messages
// went to them. privacy calls it in a data-subject deletion's transaction.
func Erase(ctx context.Context, tx *store.Tx, addresses []string) error {
	var ids []string
	for _, a := range addresses {
		if id, err := waID(a); err == nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return store.InBatches(ids, func(part []string) error {
		in, args := store.InList(part)
		if _, err := tx.Exec(ctx, `DELETE FROM whatsapp_cloud_windows WHERE wa_id IN (`+in+`)`, args...); err != nil {
			return fmt.Errorf("whatsapp cloud: erase: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM whatsapp_cloud_sent WHERE recipient IN (`+in+`)`, args...); err != nil {
			return fmt.Errorf("whatsapp cloud: erase: %w", err)
		}
		return nil
	})
}
