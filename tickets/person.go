package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"lindungi/store"
)

// A citizen's part of a data-subject request and of retention: privacy
// coordinates the owners (tickets, the outbox, the bot's state, Sijejak)
// and these are the tickets package's contributions, so that its tables
// are read and written here only.

// Querier is a *store.DB or a *store.Tx.
type Querier interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
}

// ErasedAddressPrefix marks an anonymised contact's address:
// "erased:<contact id>" (the column is UNIQUE per channel).
const ErasedAddressPrefix = "erased:"

// PersonContact is one contact (channel address) of a person.
type PersonContact struct {
	ID, PersonID                 int64
	Channel, Address, AltAddress string
}

// ContactExists reports whether contactID exists.
func ContactExists(ctx context.Context, q Querier, contactID int64) (bool, error) {
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM contacts WHERE id = ?`, contactID).Scan(&n); err != nil {
		return false, fmt.Errorf("tickets: contact: %w", err)
	}
	return n > 0, nil
}

// PersonContacts returns contactID and every contact linked to it by
// person_id, by id; PersonID of each is its person (its own id when
// unlinked).
func PersonContacts(ctx context.Context, q Querier, contactID int64) ([]PersonContact, error) {
	rows, err := q.Query(ctx, `SELECT id, COALESCE(person_id, id), channel, address, alt_address FROM contacts
		WHERE id = ? OR person_id = (SELECT person_id FROM contacts WHERE id = ?) ORDER BY id`, contactID, contactID)
	if err != nil {
		return nil, fmt.Errorf("tickets: contacts: %w", err)
	}
	defer rows.Close()
	var out []PersonContact
	for rows.Next() {
		var c PersonContact
		if err := rows.Scan(&c.ID, &c.PersonID, &c.Channel, &c.Address, &c.AltAddress); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ContactAddresses returns the contact's address and, if any, its
// alternative address (WhatsApp LID); nil when the contact is missing.
func ContactAddresses(ctx context.Context, q Querier, contactID int64) []string {
	var addr, alt string
	if err := q.QueryRow(ctx, `SELECT address, alt_address FROM contacts WHERE id = ?`, contactID).Scan(&addr, &alt); err != nil {
		return nil
	}
	out := []string{addr}
	if alt != "" {
		out = append(out, alt)
	}
	return out
}

// TicketIDsOf returns the ids of the contacts' tickets, in order.
func TicketIDsOf(ctx context.Context, q Querier, contactIDs []int64) ([]int64, error) {
	in, args := store.InList(contactIDs)
	return ids(ctx, q, `SELECT id FROM tickets WHERE contact_id IN (`+in+`) ORDER BY id`, args...)
}

// MessageIDsOf returns the ids of the contacts' messages, in order.
func MessageIDsOf(ctx context.Context, q Querier, contactIDs []int64) ([]int64, error) {
	in, args := store.InList(contactIDs)
	return ids(ctx, q, `SELECT id FROM messages WHERE contact_id IN (`+in+`) ORDER BY id`, args...)
}

func ids(ctx context.Context, q Querier, query string, args ...any) ([]int64, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ExportContact is one channel address in a data-subject export.
type ExportContact struct {
	ID         int64     `json:"id"`
	Channel    string    `json:"channel"`
	Address    string    `json:"address"`
	AltAddress string    `json:"altAddress,omitempty"`
	Name       string    `json:"name"`
	Lang       string    `json:"lang"`
	CreatedAt  time.Time `json:"createdAt"`
}

// ExportTicket is a complaint with its unsealed personal fields.
type ExportTicket struct {
	Number          string            `json:"number"`
	Channel         string            `json:"channel"`
	Subject         string            `json:"subject"`
	Category        string            `json:"category"`
	Status          string            `json:"status"`
	Fields          map[string]string `json:"fields,omitempty"`
	Rating          int               `json:"rating,omitempty"`
	CreatedAt       time.Time         `json:"createdAt"`
	FirstResponseAt *time.Time        `json:"firstResponseAt,omitempty"`
	ClosedAt        *time.Time        `json:"closedAt,omitempty"`
	AnonymisedAt    *time.Time        `json:"anonymisedAt,omitempty"`
	Messages        []ExportMessage   `json:"messages"`
}

// ExportMessage is one message in or out.
type ExportMessage struct {
	ID          int64              `json:"id"`
	Direction   string             `json:"direction"`
	Channel     string             `json:"channel"`
	Author      string             `json:"author,omitempty"`
	Subject     string             `json:"subject,omitempty"`
	Text        string             `json:"text"`
	Attachments []ExportAttachment `json:"attachments,omitempty"`
	CreatedAt   time.Time          `json:"createdAt"`
	ticketID    int64
}

// ExportAttachment is listed, not included: the citizen sent it and the
// operator can send a copy on request.
type ExportAttachment struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
}

// Export is the contacts' part of a data-subject export: the contacts,
// their tickets (sealed fields opened with sealer) with their messages,
// and the messages that joined no ticket.
func Export(ctx context.Context, db *store.DB, sealer *store.Sealer, contactIDs []int64) ([]ExportContact, []ExportTicket, []ExportMessage, error) {
	contacts, tks, loose := []ExportContact{}, []ExportTicket{}, []ExportMessage{}
	cin, cargs := store.InList(contactIDs)

	rows, err := db.Query(ctx, `SELECT id, channel, address, alt_address, name, lang, created_at FROM contacts WHERE id IN (`+cin+`) ORDER BY id`, cargs...)
	if err != nil {
		return contacts, tks, loose, fmt.Errorf("tickets: export contacts: %w", err)
	}
	for rows.Next() {
		var c ExportContact
		if err := rows.Scan(&c.ID, &c.Channel, &c.Address, &c.AltAddress, &c.Name, &c.Lang, &c.CreatedAt); err != nil {
			rows.Close()
			return contacts, tks, loose, err
		}
		c.CreatedAt = c.CreatedAt.UTC()
		contacts = append(contacts, c)
	}
	rows.Close()

	// Messages and their attachments.
	atts := map[int64][]ExportAttachment{}
	rows, err = db.Query(ctx, `SELECT a.message_id, a.name, a.content_type, a.size FROM attachments a JOIN messages m ON m.id = a.message_id
		WHERE m.contact_id IN (`+cin+`) ORDER BY a.id`, cargs...)
	if err != nil {
		return contacts, tks, loose, fmt.Errorf("tickets: export attachments: %w", err)
	}
	for rows.Next() {
		var mid int64
		var a ExportAttachment
		if err := rows.Scan(&mid, &a.Name, &a.ContentType, &a.Size); err != nil {
			rows.Close()
			return contacts, tks, loose, err
		}
		atts[mid] = append(atts[mid], a)
	}
	rows.Close()
	byTicket := map[int64][]ExportMessage{}
	rows, err = db.Query(ctx, `SELECT id, COALESCE(ticket_id, 0), direction, channel, author, subject, body, created_at FROM messages
		WHERE contact_id IN (`+cin+`) ORDER BY id`, cargs...)
	if err != nil {
		return contacts, tks, loose, fmt.Errorf("tickets: export messages: %w", err)
	}
	for rows.Next() {
		var m ExportMessage
		if err := rows.Scan(&m.ID, &m.ticketID, &m.Direction, &m.Channel, &m.Author, &m.Subject, &m.Text, &m.CreatedAt); err != nil {
			rows.Close()
			return contacts, tks, loose, err
		}
		m.CreatedAt = m.CreatedAt.UTC()
		m.Attachments = atts[m.ID]
		if m.ticketID == 0 {
			loose = append(loose, m)
		} else {
			byTicket[m.ticketID] = append(byTicket[m.ticketID], m)
		}
	}
	rows.Close()

	rows, err = db.Query(ctx, `SELECT id, number, channel, subject, category, status, fields_sealed, rating, created_at, first_response_at, closed_at, anonymised_at
		FROM tickets WHERE contact_id IN (`+cin+`) ORDER BY id`, cargs...)
	if err != nil {
		return contacts, tks, loose, fmt.Errorf("tickets: export tickets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t ExportTicket
		var id int64
		var sealed []byte
		var fr, cl, an sql.NullTime
		if err := rows.Scan(&id, &t.Number, &t.Channel, &t.Subject, &t.Category, &t.Status, &sealed, &t.Rating, &t.CreatedAt, &fr, &cl, &an); err != nil {
			return contacts, tks, loose, err
		}
		t.CreatedAt = t.CreatedAt.UTC()
		t.FirstResponseAt, t.ClosedAt, t.AnonymisedAt = utcPtr(fr), utcPtr(cl), utcPtr(an)
		if len(sealed) > 0 {
			b, err := sealer.Open(sealed)
			if err != nil {
				return contacts, tks, loose, fmt.Errorf("tickets: ticket %s fields: %w", t.Number, err)
			}
			if err := json.Unmarshal(b, &t.Fields); err != nil {
				return contacts, tks, loose, fmt.Errorf("tickets: ticket %s fields: %w", t.Number, err)
			}
		}
		t.Messages = byTicket[id]
		if t.Messages == nil {
			t.Messages = []ExportMessage{}
		}
		tks = append(tks, t)
	}
	return contacts, tks, loose, rows.Err()
}

func utcPtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// What anonymisation keeps, for statistics: a ticket's number, channel,
// category, status, flags, rating, assignee, the Ministry mailbox it came
// in through and every timestamp; a message's direction, channel, author
// (the operator or "bot") and time. What it removes: the sealed personal
// fields (name, NIK, date of birth, phone), the masked NIK, subjects,
// message text and HTML, external message IDs (e-mail Message-IDs carry
// addresses), attachments, inbound dedupe keys and the contact's name and
// addresses. (The outbox rows go through their owner, channels.)

// CloseForErasure closes the tickets that are not closed yet, as an
// erasure does before anonymising them.
func CloseForErasure(ctx context.Context, tx *store.Tx, ticketIDs []int64, now time.Time) error {
	tin, targs := store.InList(ticketIDs)
	if _, err := tx.Exec(ctx, `UPDATE tickets SET status = 'closed', handed_off = ?, closed_at = COALESCE(closed_at, ?), resolved_at = COALESCE(resolved_at, ?), updated_at = ?
		WHERE status <> 'closed' AND id IN (`+tin+`)`, append([]any{false, now, now, now}, targs...)...); err != nil {
		return fmt.Errorf("tickets: close for erasure: %w", err)
	}
	return nil
}

// AnonymiseTickets blanks the personal data of tickets and their messages
// and deletes the messages' attachments and dedupe keys.
func AnonymiseTickets(ctx context.Context, tx *store.Tx, ticketIDs []int64, now time.Time) error {
	if len(ticketIDs) == 0 {
		return nil
	}
	in, args := store.InList(ticketIDs)
	now = now.UTC()
	for _, q := range []string{
		`DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE ticket_id IN (` + in + `))`,
		`DELETE FROM inbound_keys WHERE message_id IN (SELECT id FROM messages WHERE ticket_id IN (` + in + `))`,
		`UPDATE messages SET subject = '', body = '', html = '', external_id = '' WHERE ticket_id IN (` + in + `)`,
		// Operators' notes quote the citizen often enough to go with them.
		`DELETE FROM ticket_notes WHERE ticket_id IN (` + in + `)`,
	} {
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("tickets: anonymise tickets: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE tickets SET subject = '', fields_sealed = NULL, nik_masked = '', thread_ref = '', csat_comment = '',
		anonymised_at = COALESCE(anonymised_at, ?) WHERE id IN (`+in+`)`, append([]any{now}, args...)...); err != nil {
		return fmt.Errorf("tickets: anonymise tickets: %w", err)
	}
	return nil
}

// EraseContacts anonymises the contacts and erases their messages outside
// tickets: ticket-less messages are deleted, the rest blanked, with their
// attachments and dedupe keys.
func EraseContacts(ctx context.Context, tx *store.Tx, contactIDs []int64, now time.Time) error {
	if len(contactIDs) == 0 {
		return nil
	}
	cin, cargs := store.InList(contactIDs)
	steps := []struct {
		q    string
		args []any
	}{
		{`DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE contact_id IN (` + cin + `))`, cargs},
		{`DELETE FROM inbound_keys WHERE message_id IN (SELECT id FROM messages WHERE contact_id IN (` + cin + `))`, cargs},
		{`DELETE FROM messages WHERE ticket_id IS NULL AND contact_id IN (` + cin + `)`, cargs},
		{`UPDATE messages SET subject = '', body = '', html = '', external_id = '' WHERE contact_id IN (` + cin + `)`, cargs},
		{`UPDATE contacts SET name = '', address = '` + ErasedAddressPrefix + `' || id, alt_address = '', person_id = id, updated_at = ? WHERE id IN (` + cin + `)`, append([]any{now.UTC()}, cargs...)},
	}
	for _, s := range steps {
		if _, err := tx.Exec(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("tickets: anonymise contacts: %w", err)
		}
	}
	return nil
}

// ClosedBefore returns up to limit closed tickets, not anonymised yet,
// whose closed_at is before cutoff (a ticket closed exactly at cutoff is
// kept), by id.
func ClosedBefore(ctx context.Context, tx *store.Tx, cutoff time.Time, limit int) ([]int64, error) {
	return ids(ctx, tx, `SELECT id FROM tickets WHERE status = 'closed' AND closed_at < ? AND anonymised_at IS NULL ORDER BY id LIMIT ?`, cutoff.UTC(), limit)
}

// ContactsOf returns the contacts of the tickets.
func ContactsOf(ctx context.Context, tx *store.Tx, ticketIDs []int64) ([]int64, error) {
	tin, targs := store.InList(ticketIDs)
	return ids(ctx, tx, `SELECT DISTINCT contact_id FROM tickets WHERE id IN (`+tin+`)`, targs...)
}

// IdleAmong returns those of contactIDs, not anonymised yet, with nothing
// left within retention: every ticket anonymised, no message at or after
// cutoff.
func IdleAmong(ctx context.Context, tx *store.Tx, contactIDs []int64, cutoff time.Time) ([]int64, error) {
	cin, cargs := store.InList(contactIDs)
	return ids(ctx, tx, `SELECT c.id FROM contacts c WHERE c.id IN (`+cin+`)
		AND c.address NOT LIKE '`+ErasedAddressPrefix+`%'
		AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.contact_id = c.id AND t.anonymised_at IS NULL)
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.contact_id = c.id AND m.created_at >= ?)`, append(cargs, cutoff.UTC())...)
}

// IdleBefore returns up to limit contacts, not anonymised yet, with
// nothing left within retention: not touched since cutoff, every ticket
// anonymised, no message at or after cutoff.
func IdleBefore(ctx context.Context, tx *store.Tx, cutoff time.Time, limit int) ([]int64, error) {
	cutoff = cutoff.UTC()
	return ids(ctx, tx, `SELECT c.id FROM contacts c WHERE c.address NOT LIKE '`+ErasedAddressPrefix+`%' AND c.updated_at < ?
		AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.contact_id = c.id AND t.anonymised_at IS NULL)
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.contact_id = c.id AND m.created_at >= ?)
		ORDER BY c.id LIMIT ?`, cutoff, cutoff, limit)
}

// DeleteLooseBefore deletes up to limit messages that never became part
// of a ticket (greetings, menu choices — often with a NIK typed into the
// bot) created before cutoff, with their attachments and dedupe keys, and
// returns how many.
func DeleteLooseBefore(ctx context.Context, tx *store.Tx, cutoff time.Time, limit int) (int64, error) {
	mids, err := ids(ctx, tx, `SELECT id FROM messages WHERE ticket_id IS NULL AND created_at < ? ORDER BY id LIMIT ?`, cutoff.UTC(), limit)
	if err != nil || len(mids) == 0 {
		return 0, err
	}
	in, args := store.InList(mids)
	for _, q := range []string{
		`DELETE FROM attachments WHERE message_id IN (` + in + `)`,
		`DELETE FROM inbound_keys WHERE message_id IN (` + in + `)`,
		`DELETE FROM messages WHERE id IN (` + in + `)`,
	} {
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return 0, fmt.Errorf("tickets: chatter retention: %w", err)
		}
	}
	return int64(len(mids)), nil
}

// OptimiseSearchIndex merges SQLite's full-text index into one segment.
// FTS4 keeps a deleted document's terms in older index segments (with a
// delete marker) until the segments are merged, so blanked message text
// would still be readable in messages_fts_segdir/_segments; "optimize"
// merges everything without them. It rewrites the whole index, so callers
// run it once per deletion or retention run, not per batch. On PostgreSQL
// the GIN index is maintained by the server (dead entries go with VACUUM)
// and this does nothing.
func OptimiseSearchIndex(ctx context.Context, db *store.DB) error {
	if db.Dialect() != store.SQLite {
		return nil
	}
	if _, err := db.Exec(ctx, `INSERT INTO messages_fts(messages_fts) VALUES ('optimize')`); err != nil {
		return fmt.Errorf("tickets: optimise full-text index: %w", err)
	}
	return nil
}
