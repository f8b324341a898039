package selfservice

import (
	"context"
	"time"
)

// SetClock replaces the service's clock (lease expiry in tests).
func SetClock(s *Service, now func() time.Time) { s.now = now }

// Take claims a pending row as a worker would, without carrying it out: a
// worker that died holding it.
func Take(ctx context.Context, s *Service, id int64) (bool, error) {
	_, _, ok, err := s.take(ctx, id)
	return ok, err
}
