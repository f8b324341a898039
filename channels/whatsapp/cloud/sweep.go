package cloud

import (
	"context"
	"time"

	"lindungi/jobs"
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
