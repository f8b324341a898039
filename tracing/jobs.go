package tracing

import (
	"context"
	"fmt"
	"time"

	"lindungi/jobs"
)

// Jobs are Sijejak's scheduled jobs, which the scheduler runs on the
// leader replica: the purge of everything past its retention, the daily
// TempID key, and the matching of uploads a crash left unmatched.
func (s *Service) Jobs() []jobs.Job {
	return []jobs.Job{
		{Name: "purge-tracing", Spec: "0 0 * * * *", Timeout: 30 * time.Minute,
			Description: fmt.Sprintf("delete Sijejak data past its %s retention", jobs.Human(s.cfg.Retention)),
			Run: func(ctx context.Context, env jobs.Env) (int64, error) {
				perTable, err := s.Purge(ctx, env.Now)
				var n int64
				for _, v := range perTable {
					n += v
				}
				return n, err
			}},
		{Name: "rotate-tempid-keys", Spec: "0 5 0 * * *", Timeout: 5 * time.Minute,
			Description: "create the next TempID key, retire old ones",
			Run: func(ctx context.Context, env jobs.Env) (int64, error) {
				return 0, s.RotateKeys(ctx, env.Now)
			}},
		// Upload windows close by time alone (every check compares
		// closes_at with now), so there is nothing to expire; what a window
		// can leave behind is an upload stored but not matched.
		{Name: "match-pending-uploads", Formerly: []string{"expire-upload-windows"}, Spec: "0 */5 * * * *", Timeout: 5 * time.Minute,
			Description: "match Sijejak uploads stored but not matched yet",
			Run: func(ctx context.Context, env jobs.Env) (int64, error) {
				n, err := s.MatchPending(ctx)
				return int64(n), err
			}},
	}
}
