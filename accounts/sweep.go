package accounts

import (
	"context"
	"time"

	"lindungi/jobs"
)

// SessionSweep is the housekeeping share of sessions: console sessions
// past their expiry, which no login can use any more.
func SessionSweep() jobs.Sweep {
	return jobs.Sweep{What: "expired sessions",
		Run: func(ctx context.Context, b *jobs.Batcher, now time.Time) (int64, error) {
			return b.Delete(ctx, "sessions", "token_hash", "expires_at < ?", now.UTC())
		}}
}
