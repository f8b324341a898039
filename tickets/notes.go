package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"lindungi/coded"
	"lindungi/store"
)

// Note is an operator's internal remark on a ticket. Notes are a table of
// their own, never messages: nothing that sends or exports the
// conversation to the citizen reads them.
type Note struct {
	ID        int64     `json:"id"`
	Author    string    `json:"author"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"createdAt"`
}

// MaxNoteBytes bounds one note.
const MaxNoteBytes = 16 << 10

// AddNote stores a note by author on the ticket.
func (s *Store) AddNote(ctx context.Context, tx *store.Tx, ticketID int64, author, text string) (Note, error) {
	text = strings.TrimSpace(CleanText(text))
	if text == "" {
		return Note{}, coded.New(coded.Invalid, "empty_text", "text is empty")
	}
	if len(text) > MaxNoteBytes {
		return Note{}, coded.New(coded.TooLarge, "text_too_long", "text is longer than %d bytes", MaxNoteBytes)
	}
	n := Note{Author: author, Text: text, CreatedAt: s.Now().UTC()}
	var err error
	n.ID, err = tx.InsertID(ctx, `INSERT INTO ticket_notes (ticket_id, author, body, created_at) VALUES (?, ?, ?, ?) RETURNING id`, ticketID, author, text, n.CreatedAt)
	if err != nil {
		return n, fmt.Errorf("tickets: add note: %w", err)
	}
	return n, nil
}

// Notes returns a ticket's notes, oldest first.
func (s *Store) Notes(ctx context.Context, ticketID int64) ([]Note, error) {
	rows, err := s.db.Query(ctx, `SELECT id, author, body, created_at FROM ticket_notes WHERE ticket_id = ? ORDER BY id`, ticketID)
	if err != nil {
		return nil, fmt.Errorf("tickets: notes: %w", err)
	}
	defer rows.Close()
	out := []Note{}
	for rows.Next() {
		var n Note
		if err := rows.Scan(&n.ID, &n.Author, &n.Text, &n.CreatedAt); err != nil {
			return nil, fmt.Errorf("tickets: notes: %w", err)
		}
		n.CreatedAt = n.CreatedAt.UTC()
		out = append(out, n)
	}
	return out, rows.Err()
}

// PersonTickets returns the other tickets of the citizen behind t, over
// every channel their contacts are linked on (WhatsApp, e-mail, the 119
// call centre), newest first, at most limit.
func (s *Store) PersonTickets(ctx context.Context, t Ticket, limit int) ([]Ticket, error) {
	rows, err := s.db.Query(ctx, `SELECT `+ticketCols+` FROM tickets t JOIN contacts c ON c.id = t.contact_id
		WHERE c.person_id = (SELECT person_id FROM contacts WHERE id = ?) AND t.id <> ? ORDER BY t.id DESC LIMIT ?`, t.ContactID, t.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("tickets: person's tickets: %w", err)
	}
	defer rows.Close()
	out := []Ticket{}
	for rows.Next() {
		o, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("tickets: person's tickets: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Canned is a prepared answer a supervisor keeps for operators. Its text
// may hold {{nomor}} (the ticket number) and {{nama}} (the citizen's
// name), filled in by Expand.
type Canned struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	UpdatedBy string    `json:"updatedBy"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// CannedVariables are the placeholders Expand knows.
var CannedVariables = []string{"{{nomor}}", "{{nama}}"}

// Expand fills a canned text in for ticket t. A name never given reads
// "Bapak/Ibu", the polite address of a stranger.
func (c Canned) Expand(t Ticket) string {
	name := strings.TrimSpace(t.ContactName)
	if name == "" {
		name = "Bapak/Ibu"
	}
	return strings.NewReplacer("{{nomor}}", t.Number, "{{nama}}", name).Replace(c.Text)
}

// CannedReplies lists them by title.
func (s *Store) CannedReplies(ctx context.Context) ([]Canned, error) {
	rows, err := s.db.Query(ctx, `SELECT id, title, body, updated_by, updated_at FROM canned_replies ORDER BY title`)
	if err != nil {
		return nil, fmt.Errorf("tickets: canned replies: %w", err)
	}
	defer rows.Close()
	out := []Canned{}
	for rows.Next() {
		var c Canned
		if err := rows.Scan(&c.ID, &c.Title, &c.Text, &c.UpdatedBy, &c.UpdatedAt); err != nil {
			return nil, fmt.Errorf("tickets: canned replies: %w", err)
		}
		c.UpdatedAt = c.UpdatedAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// CannedReply finds one by id.
func (s *Store) CannedReply(ctx context.Context, id int64) (Canned, error) {
	c := Canned{ID: id}
	err := s.db.QueryRow(ctx, `SELECT title, body, updated_by, updated_at FROM canned_replies WHERE id = ?`, id).Scan(&c.Title, &c.Text, &c.UpdatedBy, &c.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return c, coded.New(coded.NotFound, "canned_not_found", "no canned reply %d", id)
	}
	if err != nil {
		return c, fmt.Errorf("tickets: canned reply: %w", err)
	}
	return c, nil
}

// SaveCanned creates a canned reply (id 0) or replaces one.
func (s *Store) SaveCanned(ctx context.Context, tx *store.Tx, c Canned, by string) (Canned, error) {
	c.Title, c.Text = strings.TrimSpace(CleanText(c.Title)), strings.TrimSpace(CleanText(c.Text))
	if c.Title == "" || c.Text == "" {
		return c, coded.New(coded.Invalid, "empty_text", "a canned reply needs a title and a text")
	}
	if utf8.RuneCountInString(c.Title) > 100 || len(c.Text) > MaxNoteBytes {
		return c, coded.New(coded.TooLarge, "text_too_long", "title (100 characters) or text (%d bytes) too long", MaxNoteBytes)
	}
	now := s.Now().UTC()
	c.UpdatedBy, c.UpdatedAt = by, now
	var err error
	if c.ID == 0 {
		c.ID, err = tx.InsertID(ctx, `INSERT INTO canned_replies (title, body, updated_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id`, c.Title, c.Text, by, now, now)
	} else {
		var res sql.Result
		res, err = tx.Exec(ctx, `UPDATE canned_replies SET title = ?, body = ?, updated_by = ?, updated_at = ? WHERE id = ?`, c.Title, c.Text, by, now, c.ID)
		if err == nil {
			if n, _ := res.RowsAffected(); n == 0 {
				return c, coded.New(coded.NotFound, "canned_not_found", "no canned reply %d", c.ID)
			}
		}
	}
	if err != nil {
		if store.IsUniqueViolation(err) {
			return c, coded.New(coded.Conflict, "canned_title_taken", "a canned reply is already called %q", c.Title)
		}
		return c, fmt.Errorf("tickets: save canned reply: %w", err)
	}
	return c, nil
}

// DeleteCanned removes one.
func (s *Store) DeleteCanned(ctx context.Context, tx *store.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM canned_replies WHERE id = ?`, id); err != nil {
		return fmt.Errorf("tickets: delete canned reply: %w", err)
	}
	return nil
}
