package selfservice

import (
	"context"
	"time"
)

// SetClock replaces the service's clock (lease expiry in tests).
func SetClock(s *Service, now func() time.Time) { s.now = now }

// SetLookupTimeout shortens one registry call's time (a hanging registry).
func SetLookupTimeout(s *Service, d time.Duration) { s.cfg.LookupTimeout = d }

// Take claims a pending row as a worker would, without carrying it out: a
// worker that died holding it.
func Take(ctx context.Context, s *Service, id int64) (bool, error) {
	_, _, ok, err := s.take(ctx, id)
	return ok, err
}

// TakeThen claims row id as a worker, runs meanwhile (another replica, an
// erasure), then carries the row out.
func TakeThen(ctx context.Context, s *Service, id int64, meanwhile func()) (bool, error) {
	h, body, ok, err := s.take(ctx, id)
	if err != nil || !ok {
		return ok, err
	}
	meanwhile()
	s.carryOut(ctx, h, body)
	return true, nil
}
