package selfservice

// Requests wait in the database, not in memory. The bot writes a request in
// the transaction that stores the citizen's message (Queue) and tells the
// citizen "we are checking"; Run carries it out and deletes it in the
// transaction that answers. A crash, a deploy or a registry outage between
// the two leaves the row, which the next pass (here or on another replica)
// takes again: the citizen is answered once, late rather than never.
//
// A worker takes a row by moving its not_before forward by a lease (one
// UPDATE that must find the row still due), so two replicas never carry out
// the same request at once. A request that keeps failing is retried with a
// growing pause and, after maxAttempts, answered as if the registry were
// down: "try later", or for "certificate missing" a ticket with what the
// citizen gave.
//
// Retrying is not free of effects: an attempt reserved against the sender
// before a crash stays counted. That errs towards the lock, never towards
// more guesses.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"lindungi/store"
)

// The work a pending row asks for.
const (
	OpLookup   = "lookup"   // a finished status/certificate flow (NIK and birth date)
	OpCode     = "code"     // "KODE 123456"
	OpAnnotate = "annotate" // add the registry's values to a filed ticket
	// opFulfil is a look-up whose one-time code was already accepted: the
	// code is used up when it is checked, so a retry must not check it
	// again.
	opFulfil = "fulfil"
)

const (
	maxAttempts = 5
	pollEvery   = 5 * time.Second
	workers     = 8
)

type pending struct {
	Op       string  `json:"op"`
	Request  Request `json:"request"`
	Code     string  `json:"code,omitempty"`
	TicketID int64   `json:"ticketId,omitempty"`
}

// pendingKey carries the ID of the row being carried out, so that the
// transaction that answers deletes it (done).
type pendingKey struct{}

// Queue records a request in tx, the transaction that stores the citizen's
// message. Call Nudge once tx has committed.
func (s *Service) Queue(ctx context.Context, tx *store.Tx, op string, r Request, code string, ticketID int64) error {
	switch op {
	case OpLookup, OpCode, OpAnnotate:
	default:
		return fmt.Errorf("selfservice: queue: unknown op %q", op)
	}
	raw, err := json.Marshal(pending{Op: op, Request: r, Code: code, TicketID: ticketID})
	if err != nil {
		return fmt.Errorf("selfservice: queue: %w", err)
	}
	now := s.now()
	if _, err := tx.Exec(ctx, `INSERT INTO selfservice_pending (contact_id, body, attempts, not_before, created_at) VALUES (?, ?, 0, ?, ?)`,
		r.ContactID, s.sealer.Seal(raw), now, now); err != nil {
		return fmt.Errorf("selfservice: queue: %w", err)
	}
	return nil
}

// Nudge wakes Run: a request was queued and committed.
func (s *Service) Nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run carries out pending requests until ctx ends, a few at a time, and
// waits for those in flight (they finish on their own timeout).
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, workers)
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		if err := s.drain(ctx, sem, &wg); err != nil && ctx.Err() == nil {
			s.log.Error("selfservice: read pending requests", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-t.C:
		}
	}
}

// drain takes the rows that are due and starts a worker on each, at most
// `workers` at a time.
func (s *Service) drain(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) error {
	rows, err := s.db.Query(ctx, `SELECT id FROM selfservice_pending WHERE not_before <= ? ORDER BY id LIMIT 64`, s.now())
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		attempts, body, ok, err := s.take(ctx, id)
		if err != nil || !ok {
			<-sem
			if err != nil {
				return err
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.carryOut(context.WithoutCancel(ctx), id, attempts, body)
		}()
	}
	return nil
}

// lease is how long a taken row is left to its worker: a request's own
// timeout and the answer's transaction, with room to spare.
func (s *Service) lease() time.Duration { return 2*s.cfg.LookupTimeout + time.Minute }

// take claims row id if it is still due.
func (s *Service) take(ctx context.Context, id int64) (attempts int, body []byte, ok bool, err error) {
	now := s.now()
	err = s.db.QueryRow(ctx, `UPDATE selfservice_pending SET not_before = ?, attempts = attempts + 1
		WHERE id = ? AND not_before <= ? RETURNING attempts, body`, now.Add(s.lease()), id, now).Scan(&attempts, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, fmt.Errorf("selfservice: take pending request: %w", err)
	}
	return attempts, body, true, nil
}

func (s *Service) carryOut(ctx context.Context, id int64, attempts int, body []byte) {
	ctx = context.WithValue(ctx, pendingKey{}, id)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.LookupTimeout)
	defer cancel()
	var p pending
	plain, err := s.sealer.Open(body)
	if err == nil {
		err = json.Unmarshal(plain, &p)
	}
	if err != nil {
		// Another data key, or a damaged row: no retry can read it.
		s.log.Error("selfservice: unreadable pending request dropped", "id", id, "err", err)
		s.drop(ctx, id)
		return
	}
	switch p.Op {
	case OpLookup:
		err = s.handle(ctx, p.Request)
	case OpCode:
		err = s.code(ctx, p.Request, p.Code)
	case opFulfil:
		err = s.lookUpAndFulfil(ctx, p.Request)
	case OpAnnotate:
		err = s.annotate(ctx, p.TicketID, p.Request)
	default:
		err = fmt.Errorf("unknown op %q", p.Op)
	}
	if err == nil {
		// Every path that answers deletes the row in its transaction; this
		// catches one that had nothing to write.
		s.drop(ctx, id)
		return
	}
	s.log.Error("selfservice: request failed", "op", p.Op, "kind", p.Request.Kind, "channel", p.Request.Channel,
		"contact_id", p.Request.ContactID, "attempt", attempts, "err", err)
	if attempts < maxAttempts {
		// 20 s, 80 s, 3 min, 5 min: a registry back within minutes
		// answers the citizen without an operator.
		pause := min(time.Duration(attempts*attempts)*20*time.Second, 5*time.Minute)
		if _, uerr := s.db.Exec(context.WithoutCancel(ctx), `UPDATE selfservice_pending SET not_before = ? WHERE id = ?`, s.now().Add(pause), id); uerr != nil {
			s.log.Error("selfservice: reschedule pending request", "id", id, "err", uerr)
		}
		return
	}
	// Out of attempts: answer as for a registry outage, which files a
	// "certificate missing" report as a ticket and deletes the row.
	gctx, gcancel := context.WithTimeout(context.WithValue(context.WithoutCancel(ctx), pendingKey{}, id), 30*time.Second)
	defer gcancel()
	if p.Op == OpAnnotate {
		s.drop(gctx, id)
		return
	}
	if uerr := s.unavailable(gctx, p.Request, s.personRef(p.Request.Fields["nik"]), err); uerr != nil {
		s.log.Error("selfservice: give up on pending request", "id", id, "err", uerr)
	}
}

// done deletes the row being carried out (if any) in tx, the transaction
// that answers the citizen: answered and forgotten together.
func done(ctx context.Context, tx *store.Tx) error {
	id, ok := ctx.Value(pendingKey{}).(int64)
	if !ok {
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM selfservice_pending WHERE id = ?`, id); err != nil {
		return fmt.Errorf("selfservice: forget pending request: %w", err)
	}
	return nil
}

// becomeFulfil rewrites the row being carried out as an accepted look-up,
// in the transaction that uses up the one-time code.
func (s *Service) becomeFulfil(ctx context.Context, tx *store.Tx, orig Request) error {
	id, ok := ctx.Value(pendingKey{}).(int64)
	if !ok {
		return nil
	}
	raw, err := json.Marshal(pending{Op: opFulfil, Request: orig})
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE selfservice_pending SET body = ? WHERE id = ?`, s.sealer.Seal(raw), id); err != nil {
		return fmt.Errorf("selfservice: accept code: %w", err)
	}
	return nil
}

func (s *Service) drop(ctx context.Context, id int64) {
	if _, err := s.db.Exec(context.WithoutCancel(ctx), `DELETE FROM selfservice_pending WHERE id = ?`, id); err != nil {
		s.log.Error("selfservice: forget pending request", "id", id, "err", err)
	}
}

// Pending counts requests waiting (readiness, tests).
func (s *Service) Pending(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM selfservice_pending`).Scan(&n); err != nil {
		return 0, fmt.Errorf("selfservice: count pending: %w", err)
	}
	return n, nil
}

// ErasePending deletes the waiting requests of the given contacts.
func (s *Service) ErasePending(ctx context.Context, tx *store.Tx, contactIDs []int64) (int64, error) {
	var n int64
	for _, id := range contactIDs {
		res, err := tx.Exec(ctx, `DELETE FROM selfservice_pending WHERE contact_id = ?`, id)
		if err != nil {
			return n, fmt.Errorf("selfservice: erase pending: %w", err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}
