package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"lindungi/bot"
	"lindungi/channels"
	"lindungi/store"
	"lindungi/tickets"
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

// The parts of an export are defined by the packages that hold them.
type (
	// Contact is one channel address.
	Contact = tickets.ExportContact
	// Ticket is a complaint with its unsealed personal fields.
	Ticket = tickets.ExportTicket
	// Message is one message in or out.
	Message = tickets.ExportMessage
	// Attachment is listed, not included.
	Attachment = tickets.ExportAttachment
	// OutboxItem is a message to the citizen in the delivery queue.
	OutboxItem = channels.OutboxItem
)

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
	if e.Contacts, e.Tickets, e.Messages, err = tickets.Export(ctx, s.db, s.sealer, sub.ContactIDs); err != nil {
		return e, fmt.Errorf("privacy: export: %w", err)
	}
	if e.Outbox, err = channels.ExportOutbox(ctx, s.db, sub.Addresses, sub.TicketIDs); err != nil {
		return e, fmt.Errorf("privacy: export: %w", err)
	}
	if e.BotState, err = bot.ExportStates(ctx, s.db, sub.ContactIDs); err != nil {
		return e, fmt.Errorf("privacy: export: %w", err)
	}

	cin, cargs := store.InList(sub.ContactIDs)
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
