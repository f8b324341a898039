// Package simulator owns the in-process channel behind `lindungi chat`, the
// simulator API routes and the end-to-end tests: inbound messages come from
// HTTP calls instead of a network, and what the gateway sends is recorded in
// the database (so it survives restarts and duplicates are countable).
package simulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"lindungi/channels"
	"lindungi/coded"
	"lindungi/store"
)

// Channel is the simulator.
type Channel struct {
	db *store.DB

	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

// New makes the simulator channel.
func New(db *store.DB) *Channel {
	return &Channel{db: db, waiters: map[string][]chan struct{}{}}
}

// Name implements channels.Channel.
func (c *Channel) Name() string { return channels.Simulator }

// State implements channels.Channel: always connected.
func (c *Channel) State() channels.State { return channels.StateUp }

// Send records the message as delivered. A resend of the same ID counts a
// second delivery instead of adding a row, which is how tests prove the
// at-least-once contract (duplicates only with the same ID).
func (c *Channel) Send(ctx context.Context, m channels.Outbound) error {
	now := store.Now()
	atts := ""
	if len(m.Attachments) > 0 {
		files := make([]SubmittedFile, 0, len(m.Attachments))
		for _, a := range m.Attachments {
			files = append(files, SubmittedFile{Name: a.Name, ContentType: a.ContentType, Data: a.Data})
		}
		b, err := json.Marshal(files)
		if err != nil {
			return fmt.Errorf("simulator: attachments: %w", err)
		}
		atts = string(b)
	}
	// Concurrent sends from the outbox's lanes share commits.
	err := c.db.InGroupTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO simulator_deliveries (id, recipient, kind, body, attachments, deliveries, delivered_at) VALUES (?, ?, ?, ?, ?, 1, ?)
		ON CONFLICT (id) DO UPDATE SET deliveries = simulator_deliveries.deliveries + 1`, m.ID, m.To, m.Kind, m.Text, atts, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("simulator: record delivery: %w", err)
	}
	c.mu.Lock()
	ws := c.waiters[m.To]
	delete(c.waiters, m.To)
	c.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
	return nil
}

// Message is what the gateway sent to a simulated contact.
type Message struct {
	Seq         int64     `json:"seq"`
	ID          string    `json:"id"`
	To          string    `json:"to"`
	Kind        string    `json:"kind"`
	Text        string    `json:"text"`
	Deliveries  int       `json:"deliveries"`
	DeliveredAt time.Time `json:"deliveredAt"`
	// Attachments are documents sent with the message (base64 in JSON).
	Attachments []SubmittedFile `json:"attachments,omitempty"`
}

// Sent lists messages delivered to `to` after sequence number `after`.
func (c *Channel) Sent(ctx context.Context, to string, after int64, limit int) ([]Message, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	q := `SELECT seq, id, recipient, kind, body, attachments, deliveries, delivered_at FROM simulator_deliveries WHERE seq > ?`
	args := []any{after}
	if to != "" {
		q += ` AND recipient = ?`
		args = append(args, to)
	}
	q += fmt.Sprintf(` ORDER BY seq LIMIT %d`, limit)
	rows, err := c.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("simulator: list: %w", err)
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		var m Message
		var atts string
		if err := rows.Scan(&m.Seq, &m.ID, &m.To, &m.Kind, &m.Text, &atts, &m.Deliveries, &m.DeliveredAt); err != nil {
			return nil, err
		}
		if atts != "" {
			if err := json.Unmarshal([]byte(atts), &m.Attachments); err != nil {
				return nil, fmt.Errorf("simulator: attachments of %s: %w", m.ID, err)
			}
		}
		m.DeliveredAt = m.DeliveredAt.UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// Wait blocks until something is sent to `to` or ctx ends (long polling for
// `lindungi chat`).
func (c *Channel) Wait(ctx context.Context, to string) {
	w := make(chan struct{})
	c.mu.Lock()
	c.waiters[to] = append(c.waiters[to], w)
	c.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-w:
	}
}

// Submission is a simulated inbound message.
type Submission struct {
	ID   string `json:"id"` // optional: a client-chosen ID makes retries idempotent
	From string `json:"from"`
	Name string `json:"name"`
	Text string `json:"text"`
	// Attachments stand in for WhatsApp photos and documents (base64 in JSON).
	Attachments []SubmittedFile `json:"attachments,omitempty"`
}

// SubmittedFile is an attachment of a simulated message.
type SubmittedFile struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Data        []byte `json:"data"`
}

// MaxText caps a simulated message (WhatsApp's own limit is 65,536 chars).
const MaxText = 65536

// Inbound validates a submission and turns it into an Inbound.
func Inbound(s Submission) (channels.Inbound, error) {
	s.From = strings.TrimSpace(s.From)
	if s.From == "" || len(s.From) > 64 || !utf8.ValidString(s.From) {
		return channels.Inbound{}, coded.New(coded.Invalid, "bad_from", "from must be 1–64 characters identifying the simulated contact")
	}
	if len(s.Text) > MaxText {
		return channels.Inbound{}, coded.New(coded.TooLarge, "text_too_long", "text is longer than %d bytes", MaxText)
	}
	if len(s.ID) > 128 {
		return channels.Inbound{}, coded.New(coded.Invalid, "bad_id", "id is longer than 128 characters")
	}
	if len(s.Name) > 100 {
		s.Name = s.Name[:100]
	}
	if s.ID == "" {
		b := make([]byte, 10)
		rand.Read(b)
		s.ID = "SIM" + strings.ToUpper(hex.EncodeToString(b))
	}
	in := channels.Inbound{
		Channel: channels.Simulator, ExternalID: s.ID, From: s.From, Name: strings.ToValidUTF8(s.Name, ""),
		Text: s.Text, ReceivedAt: store.Now(),
	}
	if len(s.Attachments) > 10 {
		return in, coded.New(coded.Invalid, "too_many_attachments", "at most 10 attachments per message")
	}
	for _, f := range s.Attachments {
		in.Attachments = append(in.Attachments, channels.Attachment{Name: f.Name, ContentType: f.ContentType, Data: f.Data})
	}
	return in, nil
}
