package selfservice

// Requests wait in the database, not in memory. The bot writes a request in
// the transaction that stores the citizen's message (Queue) and tells the
// citizen "we are checking"; Run carries it out and deletes it in the
// transaction that answers. A crash or a deploy between the two leaves the
// row, which the next pass (here or on another replica) takes again: the
// citizen is answered once, late rather than never.
//
// A worker takes a row by moving its not_before forward by a lease and
// counting the attempt (one UPDATE that must find the row still due); the
// attempt number is the worker's claim. Every later write to the row, and
// the delete in the answering transaction, names that number too: a worker
// whose row was erased, or taken by another after the lease ran out, finds
// nothing, and its answer rolls back instead of going out twice.
//
// What is retried is the gateway's own failure (the database, a crash, the
// certificate): the registry being down or slow is answered at once, as
// the registry client has already retried ("try later"; "certificate
// missing" filed as a ticket). After maxAttempts the request is answered as
// an outage; a row that cannot even be answered is dropped after a few
// more, logged.
//
// The attempt a look-up counts against its sender (five wrong NIKs stop a
// sender) is marked on the row in the transaction that counts it, and
// cleared in the one that gives it back, so a retry neither counts it twice
// nor loses it.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
	dropAfter   = maxAttempts + 3 // even the outage answer kept failing
	pollEvery   = 5 * time.Second
	workers     = 8
	// writeTimeout bounds a bookkeeping write made outside the request's
	// own time (reschedule, drop).
	writeTimeout = 10 * time.Second
)

// errLeaseLost means the row is no longer this worker's: erased, or taken
// by another worker after the lease ran out.
var errLeaseLost = errors.New("selfservice: pending request no longer held")

type pending struct {
	Op       string  `json:"op"`
	Request  Request `json:"request"`
	Code     string  `json:"code,omitempty"`
	TicketID int64   `json:"ticketId,omitempty"`
}

// held is the row a worker carries out, in its context: the transactions
// that count, give back and answer write to it under the worker's claim.
type held struct {
	id       int64
	attempts int  // the worker's claim
	counted  bool // an earlier run counted the sender's attempt
}

type heldKey struct{}

func heldIn(ctx context.Context) (held, bool) {
	h, ok := ctx.Value(heldKey{}).(held)
	return h, ok
}

// retryCounted reports whether the request's attempt is already counted.
func retryCounted(ctx context.Context) bool {
	h, ok := heldIn(ctx)
	return ok && h.counted
}

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
		h, body, ok, err := s.take(ctx, id)
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
			s.carryOut(context.WithoutCancel(ctx), h, body)
		}()
	}
	return nil
}

// lease is how long a taken row is left to its worker: the request's time
// with room to spare (replicas' clocks differ by far less).
func (s *Service) lease() time.Duration { return s.budget() + 30*time.Second }

// take claims row id if it is still due.
func (s *Service) take(ctx context.Context, id int64) (h held, body []byte, ok bool, err error) {
	now := s.now()
	h.id = id
	var counted int
	err = s.db.QueryRow(ctx, `UPDATE selfservice_pending SET not_before = ?, attempts = attempts + 1
		WHERE id = ? AND not_before <= ? RETURNING attempts, counted, body`, now.Add(s.lease()), id, now).Scan(&h.attempts, &counted, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return held{}, nil, false, nil
	}
	if err != nil {
		return held{}, nil, false, fmt.Errorf("selfservice: take pending request: %w", err)
	}
	h.counted = counted != 0
	return h, body, true, nil
}

func (s *Service) carryOut(ctx context.Context, h held, body []byte) {
	ctx = context.WithValue(ctx, heldKey{}, h)
	ctx, cancel := context.WithTimeout(ctx, s.budget())
	defer cancel()
	var p pending
	plain, err := s.sealer.Open(body)
	if err == nil {
		err = json.Unmarshal(plain, &p)
	}
	if err != nil {
		// Another data key, or a damaged row: no retry can read it.
		s.log.Error("selfservice: unreadable pending request dropped", "id", h.id, "err", err)
		s.drop(h)
		return
	}
	if h.attempts > dropAfter {
		s.log.Error("selfservice: pending request dropped after repeated failures", "id", h.id, "op", p.Op,
			"kind", p.Request.Kind, "channel", p.Request.Channel, "contact_id", p.Request.ContactID, "attempts", h.attempts)
		s.drop(h)
		return
	}
	if h.attempts > maxAttempts {
		s.giveUp(ctx, h, p, errors.New("out of attempts"))
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
	switch {
	case err == nil:
		// Every path that answers deletes the row in its transaction; this
		// catches one that had nothing to write.
		s.drop(h)
		return
	case errors.Is(err, errLeaseLost):
		s.log.Warn("selfservice: pending request erased or taken over while carried out; nothing sent", "id", h.id)
		return
	}
	s.log.Error("selfservice: request failed", "op", p.Op, "kind", p.Request.Kind, "channel", p.Request.Channel,
		"contact_id", p.Request.ContactID, "attempt", h.attempts, "err", err)
	if h.attempts < maxAttempts {
		// 20 s, 80 s, 3 min, 5 min: the gateway's own trouble (a database
		// failover, say) passes without an operator.
		pause := min(time.Duration(h.attempts*h.attempts)*20*time.Second, 5*time.Minute)
		s.reschedule(h, pause)
		return
	}
	s.giveUp(ctx, h, p, err)
}

// giveUp answers as for a registry outage, which files a "certificate
// missing" report as a ticket and deletes the row; an annotation is
// dropped (the ticket is filed already).
func (s *Service) giveUp(ctx context.Context, h held, p pending, cause error) {
	if p.Op == OpAnnotate {
		s.drop(h)
		return
	}
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.unavailable(gctx, p.Request, s.personRef(p.Request.Fields["nik"]), cause); err != nil {
		s.log.Error("selfservice: give up on pending request", "id", h.id, "attempt", h.attempts, "err", err)
		// Taken again after its lease, up to dropAfter.
	}
}

func (s *Service) reschedule(h held, pause time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if _, err := s.db.Exec(ctx, `UPDATE selfservice_pending SET not_before = ? WHERE id = ? AND attempts = ?`, s.now().Add(pause), h.id, h.attempts); err != nil {
		s.log.Error("selfservice: reschedule pending request", "id", h.id, "err", err)
	}
}

// writeHeld runs one statement on the held row in tx, under the worker's
// claim; outside a worker (Handle, Code called directly) there is no row.
func writeHeld(ctx context.Context, tx *store.Tx, q string, args ...any) error {
	h, ok := heldIn(ctx)
	if !ok {
		return nil
	}
	res, err := tx.Exec(ctx, q+` WHERE id = ? AND attempts = ?`, append(args, h.id, h.attempts)...)
	if err != nil {
		return fmt.Errorf("selfservice: pending request: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errLeaseLost
	}
	return nil
}

// markCounted records in tx whether the sender's attempt for the held
// request is counted.
func markCounted(ctx context.Context, tx *store.Tx, counted bool) error {
	v := 0
	if counted {
		v = 1
	}
	return writeHeld(ctx, tx, `UPDATE selfservice_pending SET counted = ?`, v)
}

// done deletes the held row in tx, the transaction that answers the
// citizen: answered and forgotten together. A row that is no longer held
// rolls the answer back.
func done(ctx context.Context, tx *store.Tx) error {
	if _, ok := heldIn(ctx); !ok {
		return nil
	}
	return writeHeld(ctx, tx, `DELETE FROM selfservice_pending`)
}

// becomeFulfil rewrites the held row as an accepted look-up, in the
// transaction that uses up the one-time code.
func (s *Service) becomeFulfil(ctx context.Context, tx *store.Tx, orig Request) error {
	if _, ok := heldIn(ctx); !ok {
		return nil
	}
	raw, err := json.Marshal(pending{Op: opFulfil, Request: orig})
	if err != nil {
		return err
	}
	return writeHeld(ctx, tx, `UPDATE selfservice_pending SET body = ?`, s.sealer.Seal(raw))
}

func (s *Service) drop(h held) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if _, err := s.db.Exec(ctx, `DELETE FROM selfservice_pending WHERE id = ? AND attempts = ?`, h.id, h.attempts); err != nil {
		s.log.Error("selfservice: forget pending request", "id", h.id, "err", err)
	}
}

// WaitingRequest is a request of the citizen's still waiting for the
// registry, for a data export: what was asked and since when, never the
// NIK or birth date it carries.
type WaitingRequest struct {
	Since    time.Time `json:"since"`
	Attempts int       `json:"attempts"`
}

// ExportPending lists the waiting requests of the given contacts.
func (s *Service) ExportPending(ctx context.Context, contactIDs []int64) ([]WaitingRequest, error) {
	out := []WaitingRequest{}
	if len(contactIDs) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT created_at, attempts FROM selfservice_pending WHERE contact_id IN (`+placeholders(len(contactIDs))+`) ORDER BY id`, ids(contactIDs)...)
	if err != nil {
		return nil, fmt.Errorf("selfservice: export pending: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var w WaitingRequest
		if err := rows.Scan(&w.Since, &w.Attempts); err != nil {
			return nil, fmt.Errorf("selfservice: export pending: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// ErasePending deletes the waiting requests of the given contacts.
func (s *Service) ErasePending(ctx context.Context, tx *store.Tx, contactIDs []int64) (int64, error) {
	if len(contactIDs) == 0 {
		return 0, nil
	}
	res, err := tx.Exec(ctx, `DELETE FROM selfservice_pending WHERE contact_id IN (`+placeholders(len(contactIDs))+`)`, ids(contactIDs)...)
	if err != nil {
		return 0, fmt.Errorf("selfservice: erase pending: %w", err)
	}
	return res.RowsAffected()
}

func placeholders(n int) string { return "?" + strings.Repeat(", ?", n-1) }

func ids(v []int64) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = x
	}
	return out
}
