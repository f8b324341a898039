package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"lindungi/store"
)

// LatestTicketID returns the id of the contact's newest ticket, whatever
// its status, and false when the contact has none.
func (s *Store) LatestTicketID(ctx context.Context, tx *store.Tx, contactID int64) (int64, bool, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM tickets WHERE contact_id = ? ORDER BY id DESC LIMIT 1`, contactID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("tickets: latest ticket: %w", err)
	}
	return id, true, nil
}

// AdoptMessages attaches to ticketID the contact's messages created at or
// after since that belong to no ticket yet: the exchange with the bot that
// led to the ticket.
func (s *Store) AdoptMessages(ctx context.Context, tx *store.Tx, ticketID, contactID int64, since time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE messages SET ticket_id = ? WHERE contact_id = ? AND ticket_id IS NULL AND created_at >= ?`,
		ticketID, contactID, since)
	return err
}

// LatestInboundExternalID returns the external ID of the ticket's newest
// inbound message, and false when it has none.
func (s *Store) LatestInboundExternalID(ctx context.Context, tx *store.Tx, ticketID int64) (string, bool) {
	var ext string
	err := tx.QueryRow(ctx, `SELECT external_id FROM messages WHERE ticket_id = ? AND direction = 'in' ORDER BY id DESC LIMIT 1`, ticketID).Scan(&ext)
	return ext, err == nil
}

// ContactLang returns the language of the contact at (channel, address),
// or "" when there is none. q is a *store.DB or a *store.Tx.
func ContactLang(ctx context.Context, q interface {
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
}, channel, address string) (string, error) {
	var lang string
	err := q.QueryRow(ctx, `SELECT lang FROM contacts WHERE channel = ? AND address = ?`, channel, address).Scan(&lang)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return lang, err
}

// InboundOf returns the newest limit messages the contact at (channel,
// address) sent, oldest first (the console's "try the bot" page shows what
// the operator typed as its test citizen).
func (s *Store) InboundOf(ctx context.Context, channel, address string, limit int) ([]Message, error) {
	if limit <= 0 || limit > 200 {
		limit = 200
	}
	rows, err := s.db.Query(ctx, fmt.Sprintf(`SELECT m.id, m.body, m.created_at FROM messages m JOIN contacts c ON c.id = m.contact_id
		WHERE c.channel = ? AND c.address = ? AND m.direction = 'in' ORDER BY m.id DESC LIMIT %d`, limit), channel, address)
	if err != nil {
		return nil, fmt.Errorf("tickets: inbound of contact: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m := Message{Direction: "in", Channel: channel, From: address}
		if err := rows.Scan(&m.ID, &m.Text, &m.CreatedAt); err != nil {
			return nil, fmt.Errorf("tickets: inbound of contact: %w", err)
		}
		m.CreatedAt = m.CreatedAt.UTC()
		out = append(out, m)
	}
	slices.Reverse(out)
	return out, rows.Err()
}
