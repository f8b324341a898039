package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"lindungi/coded"
	"lindungi/store"
)

// Call is a 119 ext. 9 call as an agent logs it.
type Call struct {
	Phone    string // the caller's number, E.164 (the caller normalises it)
	Name     string
	NIK      string // optional
	Category string
	Text     string // what was said
	Agent    string
	// AnswerVia is the channel the answer goes out on ("whatsapp", or the
	// simulator standing in for it; "email"), or "callback".
	AnswerVia   string
	Email       string     // with AnswerVia "email"
	CallbackDue *time.Time // with AnswerVia "callback"
}

// Callback is the answer route of a call the agent promised to return.
const Callback = "callback"

// LogCall makes a call a ticket on channel phone, and links the caller to
// the contacts they already have on chatChannels with the same number (and
// to the e-mail address they gave), so their history is one list.
func (s *Store) LogCall(ctx context.Context, tx *store.Tx, c Call, chatChannels []string) (Ticket, error) {
	c.Text = strings.TrimSpace(CleanText(c.Text))
	if c.Text == "" {
		return Ticket{}, coded.New(coded.Invalid, "empty_text", "text (what the caller said) is empty")
	}
	if len(c.Text) > MaxNoteBytes {
		return Ticket{}, coded.New(coded.TooLarge, "text_too_long", "text is longer than %d bytes", MaxNoteBytes)
	}
	if c.Category == "" {
		c.Category = Other
	}
	if !validCategory(c.Category) {
		return Ticket{}, coded.New(coded.Invalid, "bad_category", "unknown category %q; use one of %s", c.Category, strings.Join(Categories, ", "))
	}
	if c.NIK != "" && (len(c.NIK) != 16 || strings.Trim(c.NIK, "0123456789") != "") {
		return Ticket{}, coded.New(coded.Invalid, "bad_nik", "a NIK has 16 digits")
	}
	switch c.AnswerVia {
	case "email":
		if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email {
			return Ticket{}, coded.New(coded.Invalid, "bad_email", "an answer by e-mail needs the caller's address, like nama@contoh.id")
		}
	case Callback:
		if c.CallbackDue == nil {
			return Ticket{}, coded.New(coded.Invalid, "bad_callback_due", "a call-back needs a due time")
		}
	case "":
		return Ticket{}, coded.New(coded.Invalid, "bad_answer_via", "say how the answer reaches the caller: a chat channel, email or callback")
	}
	contact, err := s.UpsertContact(ctx, tx, Phone, c.Phone, c.Name)
	if err != nil {
		return Ticket{}, err
	}
	link := func(channel, address, name string) error {
		var other Contact
		if channel == c.AnswerVia || channel == "email" {
			other, err = s.UpsertContact(ctx, tx, channel, address, name)
		} else {
			other, err = s.contactIn(ctx, tx, channel, address)
		}
		if err != nil || other.ID == 0 || other.PersonID == contact.PersonID {
			return err
		}
		if err := s.LinkContacts(ctx, tx, contact.ID, other.ID); err != nil {
			return fmt.Errorf("tickets: link caller: %w", err)
		}
		return nil
	}
	for _, ch := range chatChannels {
		if err := link(ch, c.Phone, c.Name); err != nil {
			return Ticket{}, err
		}
	}
	if c.AnswerVia == "email" {
		if err := link("email", c.Email, c.Name); err != nil {
			return Ticket{}, err
		}
	}
	fields := map[string]string{"name": c.Name, "phone": c.Phone, "description": c.Text, "answer_via": c.AnswerVia}
	if c.NIK != "" {
		fields["nik"] = c.NIK
	}
	if c.Email != "" {
		fields["email"] = c.Email
	}
	subject := c.Text
	if i := strings.IndexByte(subject, '\n'); i >= 0 {
		subject = subject[:i]
	}
	if r := []rune(subject); len(r) > 120 {
		subject = string(r[:120])
	}
	t, err := s.Create(ctx, tx, NewTicket{ContactID: contact.ID, Channel: Phone, Subject: subject, Category: c.Category, Fields: fields})
	if err != nil {
		return t, err
	}
	var due any
	if c.CallbackDue != nil {
		due = c.CallbackDue.UTC()
	}
	if _, err := tx.Exec(ctx, `UPDATE tickets SET answer_via = ?, callback_due = ? WHERE id = ?`, c.AnswerVia, due, t.ID); err != nil {
		return t, fmt.Errorf("tickets: log call: %w", err)
	}
	t.AnswerVia, t.CallbackDue = c.AnswerVia, c.CallbackDue
	if _, err := s.AddMessage(ctx, tx, NewMessage{TicketID: t.ID, ContactID: contact.ID, Direction: "in", Channel: Phone,
		ExternalID: "call:" + t.Number, Author: c.Agent, Text: c.Text, Fresh: true}); err != nil {
		return t, err
	}
	t.Contact, t.ContactName = c.Phone, c.Name
	return t, nil
}

// contactIn is the contact of (channel, address), or a zero Contact.
func (s *Store) contactIn(ctx context.Context, tx *store.Tx, channel, address string) (Contact, error) {
	c := Contact{Channel: channel, Address: address}
	err := tx.QueryRow(ctx, `SELECT id, name, lang, COALESCE(person_id, 0) FROM contacts WHERE channel = ? AND address = ?`, channel, address).
		Scan(&c.ID, &c.Name, &c.Lang, &c.PersonID)
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, nil
	}
	if err != nil {
		return c, fmt.Errorf("tickets: find contact: %w", err)
	}
	return c, nil
}

// AnswerAddress is where an operator's reply to a phone ticket goes: the
// address of the caller's linked contact on the ticket's answer channel.
func (s *Store) AnswerAddress(ctx context.Context, tx *store.Tx, t Ticket) (channel, address string, err error) {
	switch t.AnswerVia {
	case "", Callback:
		return "", "", coded.New(coded.Conflict, "answer_by_callback", "the caller of %s asked for a call back: call them and log the call as an internal note", t.Number)
	}
	err = tx.QueryRow(ctx, `SELECT address FROM contacts WHERE channel = ? AND person_id = (SELECT person_id FROM contacts WHERE id = ?) ORDER BY id DESC LIMIT 1`,
		t.AnswerVia, t.ContactID).Scan(&address)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", coded.New(coded.Conflict, "no_answer_address", "the caller of %s has no %s address on record", t.Number, t.AnswerVia)
	}
	if err != nil {
		return "", "", fmt.Errorf("tickets: answer address: %w", err)
	}
	return t.AnswerVia, address, nil
}
