package bot

// The hook to self-service (package selfservice, wired in internal/app):
// complaint flows that end with a NIK and a birth date — vaccination
// status, certificate download, certificate missing — are answered from the
// registry instead of becoming a ticket at once, and "KODE 123456" answers
// a one-time code. The request is written in the transaction that stores
// the citizen's message and carried out by self-service's own workers after
// the commit: registry calls are network I/O that must not hold a
// transaction or the serial WhatsApp intake, and a request written with the
// message outlives a crash.

import (
	"context"

	"lindungi/store"
)

// What a queued self-service request asks for.
const (
	SelfLookup   = "lookup"   // a finished status/certificate flow
	SelfCode     = "code"     // a one-time code answer
	SelfAnnotate = "annotate" // the registry's values beside a filed ticket
)

// SelfRequest is a citizen's request for their own record.
type SelfRequest struct {
	Kind      string // the complaint category
	Channel   string
	From      string
	ContactID int64
	Lang      string
	Fields    map[string]string // the flow's answers: nik, dob (YYYY-MM-DD), name …
}

// SelfService answers requests from the registry (selfservice.Service
// behind an adapter).
type SelfService interface {
	// Takes reports whether a finished complaint flow of category on
	// channel is answered from the registry rather than filed.
	Takes(channel, category string) bool
	// IsCode reports whether text on channel answers a one-time code.
	IsCode(channel, text string) (code string, ok bool)
	// Checking is the reply while the registry is asked.
	Checking(lang string) string
	// Annotates reports whether a ticket of category filed on channel gets
	// the registry's current values added (a change-of-data request).
	Annotates(channel, category string) bool
	// Queue records a request (op: SelfLookup, SelfCode, SelfAnnotate) in
	// tx; Nudge, after the commit, has it carried out now.
	Queue(ctx context.Context, tx *store.Tx, op string, r SelfRequest, code string, ticketID int64) error
	Nudge()
}

// queueSelf writes the request in the turn's transaction and wakes
// self-service once it committed.
func (t *turn) queueSelf(ctx context.Context, op string, r SelfRequest, code string, ticketID int64) error {
	if err := t.b.self.Queue(ctx, t.tx, op, r, code, ticketID); err != nil {
		return err
	}
	t.after = append(t.after, func(context.Context) { t.b.self.Nudge() })
	return nil
}

// selfRequest hands a finished flow to self-service when it takes it; the
// engine's "ticket created" reply is replaced by "we are checking".
func (t *turn) selfRequest(ctx context.Context, category string, fields map[string]string) (bool, error) {
	s := t.b.self
	if s == nil || !s.Takes(t.in.Channel, category) || fields["nik"] == "" || fields["dob"] == "" {
		return false, nil
	}
	r := SelfRequest{Kind: category, Channel: t.in.Channel, From: t.in.From, ContactID: t.contact.ID, Lang: t.lang, Fields: fields}
	if err := t.queueSelf(ctx, SelfLookup, r, "", 0); err != nil {
		return false, err
	}
	t.instead = s.Checking(t.lang)
	return true, nil
}

// selfAnnotate has self-service add the registry's values to a filed
// change-of-data ticket.
func (t *turn) selfAnnotate(ctx context.Context, ticketID int64, category string, fields map[string]string) error {
	s := t.b.self
	if s == nil || !s.Annotates(t.in.Channel, category) || fields["nik"] == "" {
		return nil
	}
	r := SelfRequest{Kind: category, Channel: t.in.Channel, From: t.in.From, ContactID: t.contact.ID, Lang: t.lang, Fields: fields}
	return t.queueSelf(ctx, SelfAnnotate, r, "", ticketID)
}

// selfCode takes "KODE 123456" before the engine sees it.
func (t *turn) selfCode(ctx context.Context, text string) (bool, error) {
	s := t.b.self
	if s == nil {
		return false, nil
	}
	code, ok := s.IsCode(t.in.Channel, text)
	if !ok {
		return false, nil
	}
	r := SelfRequest{Channel: t.in.Channel, From: t.in.From, ContactID: t.contact.ID, Lang: t.lang}
	return true, t.queueSelf(ctx, SelfCode, r, code, 0)
}
