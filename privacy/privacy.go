// Package privacy owns data-subject rights under UU 27/2022 and ticket
// retention: Export (everything held about a citizen, readable), Delete
// (erase or anonymise it, keeping only statistics and PII-free audit rows),
// the dsr_requests register with its 3×24 h deadline, and the anonymisation
// of closed tickets past their retention period.
//
// A citizen is a person: every contact (channel address) linked by
// contacts.person_id. This package coordinates; the packages that own the
// data carry out their part: tickets (contacts, tickets, messages,
// attachments, dedupe keys), channels (the outbox), bot (conversation
// state) and the simulator's delivery log through their exported
// functions, optional features (Sijejak) through the Holder interface.
// dsr_requests is the only table it names itself.
package privacy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"lindungi/audit"
	"lindungi/store"
	"lindungi/tickets"
)

// Subject identifies one citizen's records across tables.
type Subject struct {
	PersonID   int64
	ContactIDs []int64
	// Addresses are every address the citizen is known by: channel
	// addresses, alternative addresses (WhatsApp LID) and WhatsApp JIDs of
	// phone numbers. Recipients in the outbox use these.
	Addresses []string
	// Phones are the E.164 numbers among the addresses (Sijejak registers
	// devices by phone).
	Phones     []string
	TicketIDs  []int64
	MessageIDs []int64
}

// Holder is another package's store of personal data (tracing, WhatsApp
// device store). Export returns something JSON-encodable and readable;
// Erase removes the subject's data inside the deletion transaction and
// returns the rows changed.
type Holder interface {
	Name() string
	Export(ctx context.Context, s Subject) (any, error)
	Erase(ctx context.Context, tx *store.Tx, s Subject) (int64, error)
}

// Service answers data-subject requests.
type Service struct {
	db      *store.DB
	sealer  *store.Sealer
	holders []Holder
	log     *slog.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// New makes a Service. sealer opens tickets' sealed fields for exports.
func New(db *store.DB, sealer *store.Sealer, log *slog.Logger, holders ...Holder) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{db: db, sealer: sealer, holders: holders, log: log.With("component", "privacy"), Now: store.Now}
}

// Request kinds and statuses in dsr_requests.
const (
	KindExport = "export"
	KindDelete = "delete"

	Pending   = "pending"
	Completed = "completed"
	FailedReq = "failed"
)

// Deadline is how long a data-subject request may stay open (UU 27/2022).
const Deadline = 72 * time.Hour

// ErrNoContact is returned for a contact ID that does not exist.
var ErrNoContact = errors.New("privacy: no such contact")

// Request records a data-subject request that will be answered later (an
// operator must first verify the requester) and returns its ID. Export and
// Delete record their own requests; use Complete for ones made here.
func (s *Service) Request(ctx context.Context, kind string, contactID int64, actor string) (int64, error) {
	if kind != KindExport && kind != KindDelete {
		return 0, fmt.Errorf("privacy: request kind must be export or delete")
	}
	exists, err := tickets.ContactExists(ctx, s.db, contactID)
	if err != nil {
		return 0, fmt.Errorf("privacy: request: %w", err)
	}
	if !exists {
		return 0, ErrNoContact
	}
	var id int64
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO dsr_requests (kind, contact_id, actor, status, requested_at) VALUES (?, ?, ?, 'pending', ?) RETURNING id`,
			kind, contactID, actor, s.Now().UTC()).Scan(&id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "privacy."+kind+".requested", "dsr_request", fmt.Sprint(id), fmt.Sprintf("contact %d", contactID))
	})
	if err != nil {
		return 0, fmt.Errorf("privacy: request: %w", err)
	}
	return id, nil
}

func (s *Service) finish(ctx context.Context, q audit.Execer, id int64, kind, actor string, failure error, detail string) error {
	status, msg := Completed, ""
	if failure != nil {
		status, msg = FailedReq, failure.Error()
	}
	if _, err := q.Exec(ctx, `UPDATE dsr_requests SET status = ?, completed_at = ?, error = ? WHERE id = ?`, status, s.Now().UTC(), audit.Redact(msg), id); err != nil {
		return fmt.Errorf("privacy: finish request: %w", err)
	}
	return audit.Record(ctx, q, actor, "privacy."+kind+"."+status, "dsr_request", fmt.Sprint(id), detail)
}

// DSRRequest is a row of dsr_requests.
type DSRRequest struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	ContactID   int64      `json:"contactId"`
	Actor       string     `json:"actor"`
	Status      string     `json:"status"`
	RequestedAt time.Time  `json:"requestedAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
	EscalatedAt *time.Time `json:"escalatedAt,omitempty"`
	Error       string     `json:"error,omitempty"`
	// ApprovedBy is the second person who approved an operator's erasure.
	ApprovedBy string     `json:"approvedBy,omitempty"`
	ApprovedAt *time.Time `json:"approvedAt,omitempty"`
}

// requestCols are the columns queryRequests scans; a query may leave out
// the last two (approval), which only the register and approval need.
const requestCols = `id, kind, contact_id, actor, status, requested_at, completed_at, escalated_at, error, approved_by, approved_at`

// Requests lists requests, newest first; status "" means all.
func (s *Service) Requests(ctx context.Context, status string, limit int) ([]DSRRequest, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	q := `SELECT ` + requestCols + ` FROM dsr_requests`
	var args []any
	if status != "" {
		q += ` WHERE status = ?`
		args = append(args, status)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	return queryRequests(ctx, s.db, q, args...)
}

type querier interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func queryRequests(ctx context.Context, db querier, q string, args ...any) ([]DSRRequest, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("privacy: requests: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("privacy: requests: %w", err)
	}
	if len(cols) != 9 && len(cols) != 11 {
		return nil, fmt.Errorf("privacy: requests: query selects %d columns, want requestCols", len(cols))
	}
	out := []DSRRequest{}
	for rows.Next() {
		var r DSRRequest
		var c, e, a sql.NullTime
		dest := []any{&r.ID, &r.Kind, &r.ContactID, &r.Actor, &r.Status, &r.RequestedAt, &c, &e, &r.Error, &r.ApprovedBy, &a}
		if err := rows.Scan(dest[:len(cols)]...); err != nil {
			return nil, fmt.Errorf("privacy: requests: %w", err)
		}
		r.RequestedAt = r.RequestedAt.UTC()
		if c.Valid {
			t := c.Time.UTC()
			r.CompletedAt = &t
		}
		if e.Valid {
			t := e.Time.UTC()
			r.EscalatedAt = &t
		}
		if a.Valid {
			t := a.Time.UTC()
			r.ApprovedAt = &t
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// EscalateOverdue marks pending requests older than Deadline at now
// (requested_at < now − 72 h; a request exactly 72 h old is still on time)
// as escalated, with an audit row each, and returns their IDs. Each request
// is escalated once.
func (s *Service) EscalateOverdue(ctx context.Context, now time.Time) ([]DSRRequest, error) {
	cutoff := now.UTC().Add(-Deadline)
	var due []DSRRequest
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		due, err = queryRequests(ctx, tx, `SELECT id, kind, contact_id, actor, status, requested_at, completed_at, escalated_at, error
			FROM dsr_requests WHERE status = 'pending' AND escalated_at IS NULL AND requested_at < ? ORDER BY id`, cutoff)
		if err != nil {
			return err
		}
		for _, r := range due {
			if _, err := tx.Exec(ctx, `UPDATE dsr_requests SET escalated_at = ? WHERE id = ?`, now.UTC(), r.ID); err != nil {
				return err
			}
			if err := audit.Record(ctx, tx, "system:dsr-deadline", "privacy.request.overdue", "dsr_request", fmt.Sprint(r.ID),
				fmt.Sprintf("%s request for contact %d open since %s", r.Kind, r.ContactID, r.RequestedAt.Format(time.RFC3339))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("privacy: escalate: %w", err)
	}
	return due, nil
}

// subject gathers everything that identifies the person of contactID.
func subject(ctx context.Context, q tickets.Querier, contactID int64) (Subject, error) {
	var sub Subject
	contacts, err := tickets.PersonContacts(ctx, q, contactID)
	if err != nil {
		return sub, fmt.Errorf("privacy: %w", err)
	}
	seen := map[string]bool{}
	addAddr := func(a string) {
		if a != "" && !seen[a] {
			seen[a] = true
			sub.Addresses = append(sub.Addresses, a)
		}
	}
	for _, c := range contacts {
		if c.ID == contactID {
			sub.PersonID = c.PersonID
		}
		sub.ContactIDs = append(sub.ContactIDs, c.ID)
		addAddr(c.Address)
		addAddr(c.AltAddress)
		if phone, ok := e164(c.Address); ok {
			if !seen["phone:"+phone] {
				seen["phone:"+phone] = true
				sub.Phones = append(sub.Phones, phone)
			}
			addAddr(strings.TrimPrefix(phone, "+") + "@s.whatsapp.net")
			addAddr(phone)
		}
	}
	if len(sub.ContactIDs) == 0 {
		return sub, ErrNoContact
	}
	if sub.TicketIDs, err = tickets.TicketIDsOf(ctx, q, sub.ContactIDs); err != nil {
		return sub, fmt.Errorf("privacy: %w", err)
	}
	if sub.MessageIDs, err = tickets.MessageIDsOf(ctx, q, sub.ContactIDs); err != nil {
		return sub, fmt.Errorf("privacy: %w", err)
	}
	return sub, nil
}

// e164 recognises a phone address (+62…, or a WhatsApp JID of one).
func e164(addr string) (string, bool) {
	a := strings.TrimSuffix(addr, "@s.whatsapp.net")
	a = strings.TrimPrefix(a, "+")
	if len(a) < 8 || len(a) > 15 {
		return "", false
	}
	for _, c := range a {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return "+" + a, true
}
