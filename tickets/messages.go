package tickets

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"lindungi/coded"
	"lindungi/store"
)

// Message is one entry of the conversation log.
type Message struct {
	ID          int64            `json:"id"`
	TicketID    int64            `json:"-"`
	ContactID   int64            `json:"-"`
	Direction   string           `json:"direction"` // in | out
	Channel     string           `json:"channel"`
	ExternalID  string           `json:"-"`
	From        string           `json:"from"`
	Subject     string           `json:"subject"`
	Text        string           `json:"text"`
	HTML        string           `json:"html,omitempty"`
	Attachments []AttachmentMeta `json:"attachments"`
	Delivery    string           `json:"delivery,omitempty"` // out: queued | sent | delivered | read | failed | held | dead
	// DeliveryNote says why an outgoing message is held (WhatsApp's
	// 24-hour window), so the operator knows it did not go out.
	DeliveryNote string `json:"deliveryNote,omitempty"`
	// DeliveryError is why a dead outgoing message was given up.
	DeliveryError string    `json:"deliveryError,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
}

// AttachmentMeta describes a stored attachment without its bytes.
type AttachmentMeta struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	Inline      bool   `json:"inline,omitempty"`
	// ContentID names an inline part the message's HTML shows (cid:).
	ContentID string `json:"contentId,omitempty"`
}

// NewAttachment is a file to store with a message.
type NewAttachment struct {
	Name, ContentType, ContentID string
	Inline                       bool
	Data                         []byte
}

// NewMessage is what AddMessage needs. TicketID 0 logs a conversation turn
// outside any ticket (a greeting, a menu).
type NewMessage struct {
	TicketID    int64
	ContactID   int64
	Direction   string
	Channel     string
	ExternalID  string
	Author      string
	Subject     string
	Text        string
	HTML        string
	Attachments []NewAttachment
	// Fresh says the ticket was created or touched earlier in this same
	// transaction, so its updated_at is already now and is not written again.
	Fresh bool
}

// DefaultMaxAttachmentBytes caps one stored attachment unless configured
// (tickets.max_attachment_bytes); larger files are replaced by
// a note so the message itself is never lost.
const DefaultMaxAttachmentBytes = 10 << 20

// AddMessage stores a message (and its attachments, sealed) in tx.
func (s *Store) AddMessage(ctx context.Context, tx *store.Tx, m NewMessage) (int64, error) {
	vals := s.messageRow(tx, &m)
	id, err := tx.InsertID(ctx, messageInsert, vals[1:]...)
	if err != nil {
		return 0, fmt.Errorf("tickets: add message: %w", err)
	}
	for _, a := range m.Attachments {
		data := a.Data
		name := SafeFileName(a.Name)
		ct := a.ContentType
		if len(data) > s.cfg.MaxAttachmentBytes {
			// Keep a trace instead of the file: the citizen is asked to send
			// it another way by the operator; nothing silently disappears.
			data = []byte(fmt.Sprintf("attachment %q of %d bytes exceeded the %d-byte limit and was not stored; sha256 %x",
				name, len(a.Data), s.cfg.MaxAttachmentBytes, sha256.Sum256(a.Data)))
			name += ".too-large.txt"
			ct = "text/plain"
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		if _, err := tx.Exec(ctx, `INSERT INTO attachments (message_id, name, content_type, size, inline, content_id, data_sealed) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id, name, ct, len(data), a.Inline, a.ContentID, s.sealer.Seal(data)); err != nil {
			return 0, fmt.Errorf("tickets: add attachment: %w", err)
		}
	}
	if m.TicketID != 0 && !m.Fresh {
		if err := s.Touch(ctx, tx, m.TicketID); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// messageInsertCols and messageRow are the one definition of a message's
// row, for AddMessage and Staged.Message; the id comes first, for the
// staged writer, which reserves it.
var messageInsertCols = []string{"id", "ticket_id", "contact_id", "direction", "channel", "external_id", "author", "subject", "body", "html", "created_at"}

// messageInsert is AddMessage's statement (the database picks the id).
var messageInsert = insertReturningID("messages", messageInsertCols[1:])

// messageRow cleans m's texts and returns its values in messageInsertCols
// order with a zero id. A citizen's message is noted for the search index,
// which is written just before the commit (IndexPending).
func (s *Store) messageRow(tx *store.Tx, m *NewMessage) []any {
	var tid any
	if m.TicketID != 0 {
		tid = m.TicketID
	}
	m.Text = CleanText(m.Text)
	m.Subject = CleanText(m.Subject)
	if tx.Dialect() == store.SQLite && m.Author != "bot" {
		tx.BeforeCommit("tickets.search_index", IndexPending)
	}
	return []any{int64(0), tid, m.ContactID, m.Direction, m.Channel, m.ExternalID, m.Author, m.Subject, m.Text, CleanText(m.HTML), s.Now()}
}

// IndexPending adds the messages noted in messages_fts_pending to the
// SQLite full-text index and clears the list (migration 0009 says why this
// waits for the commit). AddMessage registers it as a before-commit hook,
// which runs once per commit, so a failure here fails that whole commit
// (every message of a group commit), as a full disk would. The list and
// the index commit together, so a crash leaves nothing on it; a row
// written by hand rather than through AddMessage waits there for the next
// commit that adds a message, which indexes it too. Exported for tests
// that write rows by hand.
func IndexPending(ctx context.Context, tx *store.Tx) error {
	if _, err := tx.Exec(ctx, `INSERT INTO messages_fts(docid, body, subject)
		SELECT m.id, m.body, m.subject FROM messages_fts_pending p JOIN messages m ON m.id = p.id WHERE m.author <> 'bot' ORDER BY p.id`); err != nil {
		return fmt.Errorf("tickets: search index: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM messages_fts_pending`); err != nil {
		return fmt.Errorf("tickets: search index: %w", err)
	}
	return nil
}

// AttachToTicket moves conversation messages (logged before a ticket
// existed) onto the ticket, so the operator sees the whole exchange.
func (s *Store) AttachToTicket(ctx context.Context, tx *store.Tx, ticketID int64, messageIDs ...int64) error {
	for _, id := range messageIDs {
		if _, err := tx.Exec(ctx, `UPDATE messages SET ticket_id = ? WHERE id = ? AND ticket_id IS NULL`, ticketID, id); err != nil {
			return fmt.Errorf("tickets: attach message: %w", err)
		}
	}
	return nil
}

// CleanText makes text safe to store: valid UTF-8, no NUL bytes.
func CleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}

// SafeFileName keeps the base name and drops characters that could escape a
// directory or confuse a browser download.
func SafeFileName(name string) string {
	name = CleanText(name)
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ".")
	if name == "" || name == "_" {
		name = "attachment"
	}
	if len(name) > 120 {
		name = name[:120]
	}
	return name
}

// Messages returns a ticket's messages in order, with attachment metadata.
// The delivery state of outbound ones is the outbox's to tell
// (channels.Outbox.DeliveryStates, keyed by their external ID).
func (s *Store) Messages(ctx context.Context, ticketID int64) ([]Message, error) {
	rows, err := s.db.Query(ctx, `SELECT m.id, m.contact_id, m.direction, m.channel, m.external_id, m.author, c.address, m.subject, m.body, m.html, m.created_at
		FROM messages m JOIN contacts c ON c.id = m.contact_id
		WHERE m.ticket_id = ? ORDER BY m.id`, ticketID)
	if err != nil {
		return nil, fmt.Errorf("tickets: messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	idx := map[int64]int{}
	for rows.Next() {
		var m Message
		var author, addr string
		if err := rows.Scan(&m.ID, &m.ContactID, &m.Direction, &m.Channel, &m.ExternalID, &author, &addr, &m.Subject, &m.Text, &m.HTML, &m.CreatedAt); err != nil {
			return nil, fmt.Errorf("tickets: messages: %w", err)
		}
		m.TicketID = ticketID
		m.CreatedAt = m.CreatedAt.UTC()
		m.From = addr
		if m.Direction == "out" {
			m.From = author
		}
		m.Attachments = []AttachmentMeta{}
		idx[m.ID] = len(out)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(out) == 0 {
		return []Message{}, nil
	}
	arows, err := s.db.Query(ctx, `SELECT a.id, a.message_id, a.name, a.content_type, a.size, a.inline, COALESCE(a.content_id, '') FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.ticket_id = ? ORDER BY a.id`, ticketID)
	if err != nil {
		return nil, fmt.Errorf("tickets: attachments: %w", err)
	}
	defer arows.Close()
	for arows.Next() {
		var a AttachmentMeta
		var mid int64
		if err := arows.Scan(&a.ID, &mid, &a.Name, &a.ContentType, &a.Size, &a.Inline, &a.ContentID); err != nil {
			return nil, err
		}
		if i, ok := idx[mid]; ok {
			out[i].Attachments = append(out[i].Attachments, a)
		}
	}
	return out, arows.Err()
}

// Attachment returns one attachment's bytes, checking it belongs to ticketID.
func (s *Store) Attachment(ctx context.Context, ticketID, attachmentID int64) (AttachmentMeta, []byte, error) {
	var a AttachmentMeta
	var sealed []byte
	err := s.db.QueryRow(ctx, `SELECT a.id, a.name, a.content_type, a.size, a.inline, a.data_sealed FROM attachments a JOIN messages m ON m.id = a.message_id
		WHERE a.id = ? AND m.ticket_id = ?`, attachmentID, ticketID).Scan(&a.ID, &a.Name, &a.ContentType, &a.Size, &a.Inline, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return a, nil, coded.New(coded.NotFound, "attachment_not_found", "no such attachment on this ticket")
	}
	if err != nil {
		return a, nil, fmt.Errorf("tickets: attachment: %w", err)
	}
	data, err := s.sealer.Open(sealed)
	return a, data, err
}
