package privacy

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"lindungi/store"
)

// Export is everything the gateway holds about one citizen.
type Export struct {
	RequestID   int64     `json:"requestId"`
	GeneratedAt time.Time `json:"generatedAt"`
	Contacts    []Contact `json:"contacts"`
	Tickets     []Ticket  `json:"tickets"`
	// Messages not attached to any ticket (menu chatter with the bot).
	Messages []Message `json:"messages"`
	// Outgoing messages queued or recently sent to the citizen.
	Outbox []OutboxItem `json:"outbox"`
	// BotState is the conversation the bot remembers per contact.
	BotState map[int64]string `json:"botState,omitempty"`
	// Requests are the citizen's earlier data-subject requests.
	Requests []DSRRequest `json:"requests"`
	// Other holds what other parts of the system keep (Sijejak
	// registrations and consents …) by holder name.
	Other map[string]any `json:"other,omitempty"`
}

// Contact is one channel address.
type Contact struct {
	ID         int64     `json:"id"`
	Channel    string    `json:"channel"`
	Address    string    `json:"address"`
	AltAddress string    `json:"altAddress,omitempty"`
	Name       string    `json:"name"`
	Lang       string    `json:"lang"`
	CreatedAt  time.Time `json:"createdAt"`
}

// Ticket is a complaint with its unsealed personal fields.
type Ticket struct {
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
	Messages        []Message         `json:"messages"`
}

// Message is one message in or out.
type Message struct {
	ID          int64        `json:"id"`
	Direction   string       `json:"direction"`
	Channel     string       `json:"channel"`
	Author      string       `json:"author,omitempty"`
	Subject     string       `json:"subject,omitempty"`
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments,omitempty"`
	CreatedAt   time.Time    `json:"createdAt"`
	ticketID    int64
}

// Attachment is listed, not included: the citizen sent it and the operator
// can send a copy on request.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
}

// OutboxItem is a message to the citizen in the delivery queue.
type OutboxItem struct {
	ID        string     `json:"id"`
	Channel   string     `json:"channel"`
	Kind      string     `json:"kind"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"createdAt"`
	SentAt    *time.Time `json:"sentAt,omitempty"`
}

// Export gathers everything about the person of contactID, recording the
// request (actor citizen:ID) and its completion in dsr_requests and the
// audit log.
func (s *Service) Export(ctx context.Context, contactID int64) (Export, error) {
	return s.ExportFor(ctx, contactID, fmt.Sprintf("citizen:%d", contactID))
}

// ExportFor is Export on behalf of actor (an operator: "user:NAME").
func (s *Service) ExportFor(ctx context.Context, contactID int64, actor string) (Export, error) {
	id, err := s.Request(ctx, KindExport, contactID, actor)
	if err != nil {
		return Export{}, err
	}
	return s.CompleteExport(ctx, id)
}

// CompleteExport answers a pending export request made with Request.
func (s *Service) CompleteExport(ctx context.Context, requestID int64) (Export, error) {
	req, err := s.request(ctx, requestID, KindExport)
	if err != nil {
		return Export{}, err
	}
	e, err := s.gather(ctx, req.ContactID)
	e.RequestID = requestID
	detail := ""
	if err == nil {
		detail = fmt.Sprintf("%d contacts, %d tickets, %d messages", len(e.Contacts), len(e.Tickets), countMessages(e))
	}
	if ferr := s.finish(ctx, s.db, requestID, KindExport, req.Actor, err, detail); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		s.log.Error("export failed", "request", requestID, "contact_id", req.ContactID, "err", err)
		return Export{}, err
	}
	s.log.Info("export done", "request", requestID, "contact_id", req.ContactID)
	return e, nil
}

func countMessages(e Export) int {
	n := len(e.Messages)
	for _, t := range e.Tickets {
		n += len(t.Messages)
	}
	return n
}

func (s *Service) request(ctx context.Context, id int64, kind string) (DSRRequest, error) {
	rs, err := queryRequests(ctx, s.db, `SELECT id, kind, contact_id, actor, status, requested_at, completed_at, escalated_at, error FROM dsr_requests WHERE id = ?`, id)
	if err != nil {
		return DSRRequest{}, err
	}
	if len(rs) == 0 || rs[0].Kind != kind {
		return DSRRequest{}, fmt.Errorf("privacy: no %s request %d", kind, id)
	}
	if rs[0].Status == Completed {
		return DSRRequest{}, fmt.Errorf("privacy: request %d already completed", id)
	}
	return rs[0], nil
}

func (s *Service) gather(ctx context.Context, contactID int64) (Export, error) {
	e := Export{GeneratedAt: s.Now().UTC(), Contacts: []Contact{}, Tickets: []Ticket{}, Messages: []Message{}, Outbox: []OutboxItem{}, Requests: []DSRRequest{}}
	sub, err := subject(ctx, s.db, contactID)
	if err != nil {
		return e, err
	}
	cin, cargs := store.InList(sub.ContactIDs)

	rows, err := s.db.Query(ctx, `SELECT id, channel, address, alt_address, name, lang, created_at FROM contacts WHERE id IN (`+cin+`) ORDER BY id`, cargs...)
	if err != nil {
		return e, fmt.Errorf("privacy: export contacts: %w", err)
	}
	for rows.Next() {
		var c Contact
		if err := rows.Scan(&c.ID, &c.Channel, &c.Address, &c.AltAddress, &c.Name, &c.Lang, &c.CreatedAt); err != nil {
			rows.Close()
			return e, err
		}
		c.CreatedAt = c.CreatedAt.UTC()
		e.Contacts = append(e.Contacts, c)
	}
	rows.Close()

	// Messages and their attachments.
	atts := map[int64][]Attachment{}
	rows, err = s.db.Query(ctx, `SELECT a.message_id, a.name, a.content_type, a.size FROM attachments a JOIN messages m ON m.id = a.message_id
		WHERE m.contact_id IN (`+cin+`) ORDER BY a.id`, cargs...)
	if err != nil {
		return e, fmt.Errorf("privacy: export attachments: %w", err)
	}
	for rows.Next() {
		var mid int64
		var a Attachment
		if err := rows.Scan(&mid, &a.Name, &a.ContentType, &a.Size); err != nil {
			rows.Close()
			return e, err
		}
		atts[mid] = append(atts[mid], a)
	}
	rows.Close()
	byTicket := map[int64][]Message{}
	rows, err = s.db.Query(ctx, `SELECT id, COALESCE(ticket_id, 0), direction, channel, author, subject, body, created_at FROM messages
		WHERE contact_id IN (`+cin+`) ORDER BY id`, cargs...)
	if err != nil {
		return e, fmt.Errorf("privacy: export messages: %w", err)
	}
	for rows.Next() {
		var m Message
		if err := rows.Scan(&m.ID, &m.ticketID, &m.Direction, &m.Channel, &m.Author, &m.Subject, &m.Text, &m.CreatedAt); err != nil {
			rows.Close()
			return e, err
		}
		m.CreatedAt = m.CreatedAt.UTC()
		m.Attachments = atts[m.ID]
		if m.ticketID == 0 {
			e.Messages = append(e.Messages, m)
		} else {
			byTicket[m.ticketID] = append(byTicket[m.ticketID], m)
		}
	}
	rows.Close()

	rows, err = s.db.Query(ctx, `SELECT id, number, channel, subject, category, status, fields_sealed, rating, created_at, first_response_at, closed_at, anonymised_at
		FROM tickets WHERE contact_id IN (`+cin+`) ORDER BY id`, cargs...)
	if err != nil {
		return e, fmt.Errorf("privacy: export tickets: %w", err)
	}
	for rows.Next() {
		var t Ticket
		var id int64
		var sealed []byte
		var fr, cl, an sql.NullTime
		if err := rows.Scan(&id, &t.Number, &t.Channel, &t.Subject, &t.Category, &t.Status, &sealed, &t.Rating, &t.CreatedAt, &fr, &cl, &an); err != nil {
			rows.Close()
			return e, err
		}
		t.CreatedAt = t.CreatedAt.UTC()
		t.FirstResponseAt, t.ClosedAt, t.AnonymisedAt = tptr(fr), tptr(cl), tptr(an)
		if len(sealed) > 0 {
			b, err := s.sealer.Open(sealed)
			if err != nil {
				rows.Close()
				return e, fmt.Errorf("privacy: ticket %s fields: %w", t.Number, err)
			}
			if err := json.Unmarshal(b, &t.Fields); err != nil {
				rows.Close()
				return e, fmt.Errorf("privacy: ticket %s fields: %w", t.Number, err)
			}
		}
		t.Messages = byTicket[id]
		if t.Messages == nil {
			t.Messages = []Message{}
		}
		e.Tickets = append(e.Tickets, t)
	}
	rows.Close()

	ain, aargs := store.InList(sub.Addresses)
	tin, targs := store.InList(sub.TicketIDs)
	rows, err = s.db.Query(ctx, `SELECT id, channel, kind, status, created_at, sent_at FROM outbox
		WHERE recipient IN (`+ain+`) OR ticket_id IN (`+tin+`) ORDER BY created_at, id`, append(aargs, targs...)...)
	if err != nil {
		return e, fmt.Errorf("privacy: export outbox: %w", err)
	}
	for rows.Next() {
		var o OutboxItem
		var sent sql.NullTime
		if err := rows.Scan(&o.ID, &o.Channel, &o.Kind, &o.Status, &o.CreatedAt, &sent); err != nil {
			rows.Close()
			return e, err
		}
		o.CreatedAt, o.SentAt = o.CreatedAt.UTC(), tptr(sent)
		e.Outbox = append(e.Outbox, o)
	}
	rows.Close()

	rows, err = s.db.Query(ctx, `SELECT contact_id, state FROM bot_state WHERE contact_id IN (`+cin+`)`, cargs...)
	if err != nil {
		return e, fmt.Errorf("privacy: export bot state: %w", err)
	}
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			rows.Close()
			return e, err
		}
		if e.BotState == nil {
			e.BotState = map[int64]string{}
		}
		e.BotState[id] = st
	}
	rows.Close()

	reqs, err := queryRequests(ctx, s.db, `SELECT id, kind, contact_id, actor, status, requested_at, completed_at, escalated_at, error
		FROM dsr_requests WHERE contact_id IN (`+cin+`) ORDER BY id`, cargs...)
	if err != nil {
		return e, err
	}
	e.Requests = reqs

	for _, h := range s.holders {
		v, err := h.Export(ctx, sub)
		if err != nil {
			return e, fmt.Errorf("privacy: export %s: %w", h.Name(), err)
		}
		if v != nil {
			if e.Other == nil {
				e.Other = map[string]any{}
			}
			e.Other[h.Name()] = v
		}
	}
	return e, nil
}

func tptr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// JSON renders the export as indented JSON.
func (e Export) JSON() ([]byte, error) { return json.MarshalIndent(e, "", "  ") }

var wib = func() *time.Location {
	l, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		return time.FixedZone("WIB", 7*3600)
	}
	return l
}()

func ts(t time.Time) string { return t.In(wib).Format("2006-01-02 15:04 WIB") }

// Text renders the export as a plain-text document a citizen can read on a
// phone, headings in Indonesian and English.
func (e Export) Text() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("DATA PRIBADI ANDA / YOUR PERSONAL DATA\n")
	p("Layanan PeduliLindungi — Kementerian Kesehatan RI\n")
	p("Dibuat / generated: %s (permintaan / request #%d)\n\n", ts(e.GeneratedAt), e.RequestID)

	p("== Kontak / Contacts ==\n")
	for _, c := range e.Contacts {
		p("- %s: %s", c.Channel, c.Address)
		if c.AltAddress != "" {
			p(" (%s)", c.AltAddress)
		}
		if c.Name != "" {
			p(", nama/name: %s", c.Name)
		}
		p(", bahasa/language: %s, sejak/since %s\n", c.Lang, ts(c.CreatedAt))
	}
	p("\n== Tiket / Tickets (%d) ==\n", len(e.Tickets))
	for _, t := range e.Tickets {
		p("\n[%s] %s — %s, status %s, dibuat/created %s\n", t.Number, t.Channel, t.Category, t.Status, ts(t.CreatedAt))
		if t.Subject != "" {
			p("Perihal / subject: %s\n", t.Subject)
		}
		if len(t.Fields) > 0 {
			keys := make([]string, 0, len(t.Fields))
			for k := range t.Fields {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			p("Data yang Anda berikan / data you gave:\n")
			for _, k := range keys {
				p("  %s: %s\n", k, t.Fields[k])
			}
		}
		if t.Rating > 0 {
			p("Penilaian / rating: %d\n", t.Rating)
		}
		if t.AnonymisedAt != nil {
			p("Dianonimkan / anonymised: %s\n", ts(*t.AnonymisedAt))
		}
		writeMessages(&b, t.Messages)
	}
	if len(e.Messages) > 0 {
		p("\n== Pesan lain / Other messages (%d) ==\n", len(e.Messages))
		writeMessages(&b, e.Messages)
	}
	if len(e.Outbox) > 0 {
		p("\n== Pesan keluar dalam antrean / Outgoing queue ==\n")
		for _, o := range e.Outbox {
			p("- %s %s via %s, %s, %s\n", o.ID, o.Kind, o.Channel, o.Status, ts(o.CreatedAt))
		}
	}
	if len(e.BotState) > 0 {
		p("\n== Status percakapan / Conversation state ==\n")
		for id, st := range e.BotState {
			p("- kontak/contact %d: %s\n", id, st)
		}
	}
	if len(e.Other) > 0 {
		names := make([]string, 0, len(e.Other))
		for k := range e.Other {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, n := range names {
			js, _ := json.MarshalIndent(e.Other[n], "", "  ")
			p("\n== %s ==\n%s\n", n, js)
		}
	}
	p("\n== Permintaan data / Data requests ==\n")
	for _, r := range e.Requests {
		p("- #%d %s, %s, %s\n", r.ID, r.Kind, r.Status, ts(r.RequestedAt))
	}
	p("\nUntuk menghapus data Anda, kirim \"hapus data saya\". To delete your data, send \"hapus data saya\".\n")
	return b.String()
}

func writeMessages(b *strings.Builder, ms []Message) {
	for _, m := range ms {
		dir := "Anda / you"
		if m.Direction == "out" {
			dir = "Kami / us"
			if m.Author != "" {
				dir += " (" + m.Author + ")"
			}
		}
		fmt.Fprintf(b, "  %s, %s:", ts(m.CreatedAt), dir)
		if m.Subject != "" {
			fmt.Fprintf(b, " [%s]", m.Subject)
		}
		fmt.Fprintf(b, " %s\n", strings.ReplaceAll(strings.TrimSpace(m.Text), "\n", "\n    "))
		for _, a := range m.Attachments {
			fmt.Fprintf(b, "    lampiran/attachment: %s (%s, %d bytes)\n", a.Name, a.ContentType, a.Size)
		}
	}
}

// Documents adapts a Service to callers that want the export as a text
// document (the bot sends it as data-saya.txt).
type Documents struct{ S *Service }

// Export renders the person's data as text.
func (d Documents) Export(ctx context.Context, contactID int64) (string, error) {
	e, err := d.S.Export(ctx, contactID)
	if err != nil {
		return "", err
	}
	return e.Text(), nil
}

// Delete is Service.Delete.
func (d Documents) Delete(ctx context.Context, contactID int64, actor string) error {
	return d.S.Delete(ctx, contactID, actor)
}
