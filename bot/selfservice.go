package bot

// The hook to self-service (package selfservice, wired in main): complaint
// flows that end with a NIK and a birth date — vaccination status,
// certificate download, certificate missing — are answered from the
// registry instead of becoming a ticket at once, and "KODE 123456"
// answers a one-time code. The registry is called after the message
// committed and off the intake goroutine: WhatsApp intake is serial, and
// one slow registry must not hold every citizen's message behind it.

import (
	"context"
	"sync"
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
	Handle(ctx context.Context, r SelfRequest)
	Code(ctx context.Context, r SelfRequest, code string)
	// Annotates reports whether a ticket of category filed on channel gets
	// the registry's current values added (a change-of-data request), which
	// Annotate does after the ticket committed.
	Annotates(channel, category string) bool
	Annotate(ctx context.Context, ticketID int64, r SelfRequest)
}

// selfWork runs self-service requests in the background, a few at a time.
type selfWork struct {
	sem chan struct{}
	wg  sync.WaitGroup
}

func newSelfWork() *selfWork { return &selfWork{sem: make(chan struct{}, 8)} }

func (w *selfWork) start(ctx context.Context, f func(context.Context)) {
	// The message's own context ends when Deliver returns; the request
	// outlives it (each call bounds itself with a timeout).
	ctx = context.WithoutCancel(ctx)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.sem <- struct{}{}
		defer func() { <-w.sem }()
		f(ctx)
	}()
}

// WaitSelfService waits for self-service requests in flight (shutdown).
func (b *Bot) WaitSelfService() { b.selfWork.wg.Wait() }

// selfRequest hands a finished flow to self-service when it takes it; the
// engine's "ticket created" reply is replaced by "we are checking".
func (t *turn) selfRequest(category string, fields map[string]string) bool {
	s := t.b.self
	if s == nil || !s.Takes(t.in.Channel, category) || fields["nik"] == "" || fields["dob"] == "" {
		return false
	}
	r := SelfRequest{Kind: category, Channel: t.in.Channel, From: t.in.From, ContactID: t.contact.ID, Lang: t.lang, Fields: fields}
	t.instead = s.Checking(t.lang)
	t.after = append(t.after, func(ctx context.Context) { t.b.selfWork.start(ctx, func(ctx context.Context) { s.Handle(ctx, r) }) })
	return true
}

// selfAnnotate has self-service add the registry's values to a filed
// change-of-data ticket once it committed.
func (t *turn) selfAnnotate(ticketID int64, category string, fields map[string]string) {
	s := t.b.self
	if s == nil || !s.Annotates(t.in.Channel, category) || fields["nik"] == "" {
		return
	}
	r := SelfRequest{Kind: category, Channel: t.in.Channel, From: t.in.From, ContactID: t.contact.ID, Lang: t.lang, Fields: fields}
	t.after = append(t.after, func(ctx context.Context) {
		t.b.selfWork.start(ctx, func(ctx context.Context) { s.Annotate(ctx, ticketID, r) })
	})
}

// selfCode takes "KODE 123456" before the engine sees it.
func (t *turn) selfCode(text string) bool {
	s := t.b.self
	if s == nil {
		return false
	}
	code, ok := s.IsCode(t.in.Channel, text)
	if !ok {
		return false
	}
	r := SelfRequest{Channel: t.in.Channel, From: t.in.From, ContactID: t.contact.ID, Lang: t.lang}
	t.after = append(t.after, func(ctx context.Context) { t.b.selfWork.start(ctx, func(ctx context.Context) { s.Code(ctx, r, code) }) })
	return true
}
