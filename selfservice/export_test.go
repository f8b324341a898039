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

// The synchronous entry points the tests drive the service through; the
// gateway queues every request instead (Queue, Run).

func (s *Service) Handle(ctx context.Context, r Request) {
	ctx, cancel := context.WithTimeout(ctx, s.budget())
	defer cancel()
	if err := s.handle(ctx, r); err != nil {
		s.log.Error("selfservice: request failed", "kind", r.Kind, "err", err)
	}
}

func (s *Service) Code(ctx context.Context, r Request, code string) {
	ctx, cancel := context.WithTimeout(ctx, s.budget())
	defer cancel()
	if err := s.code(ctx, r, code); err != nil {
		s.log.Error("selfservice: code failed", "err", err)
	}
}

func (s *Service) Annotate(ctx context.Context, ticketID int64, r Request) {
	ctx, cancel := context.WithTimeout(ctx, s.budget())
	defer cancel()
	if err := s.annotate(ctx, ticketID, r); err != nil {
		s.log.Error("selfservice: annotate failed", "err", err)
	}
}

// Pending counts requests waiting.
func (s *Service) Pending(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM selfservice_pending`).Scan(&n)
	return n, err
}
