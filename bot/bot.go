// Package bot owns the conversation pipeline: every inbound message from
// every channel passes through Bot.Deliver, which — in ONE transaction —
// dedupes it, stores it, runs the conversation engine (bot/conversation),
// applies the engine's actions to tickets, and enqueues replies in the
// outbox. Only after that commit may the channel acknowledge the message, so
// a crash at any point loses nothing and duplicates nothing.
//
// The engine itself is pure (no database, no channels): see
// bot/conversation, bot/intent and bot/catalog.
package bot

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"lindungi/bot/catalog"
	"lindungi/bot/conversation"
	"lindungi/bot/intent"
	"lindungi/channels"
	"lindungi/coded"
	"lindungi/store"
	"lindungi/tickets"
)

// Tracing is what the bot needs from Sijejak (tracing.Service satisfies it).
type Tracing interface {
	// ConfirmCode records that the citizen's own message "SIJEJAK <code>"
	// arrived from phone on channel (Sijejak decides which channel proves
	// that the sender holds the phone).
	ConfirmCode(ctx context.Context, tx *store.Tx, channel, phone, code string) error
	// PendingConsent reports whether a consent request awaits phone's answer
	// on channel.
	PendingConsent(ctx context.Context, tx *store.Tx, channel, phone string) (bool, error)
	// RecordConsent stores the answer with the text the citizen was shown.
	RecordConsent(ctx context.Context, tx *store.Tx, channel, phone string, yes bool, textShown string) error
}

// Privacy is what the bot needs for data-subject requests.
type Privacy interface {
	// Export renders everything held about the contact's person.
	Export(ctx context.Context, contactID int64) (string, error)
	// Delete removes or anonymises it; actor is recorded in the audit log.
	Delete(ctx context.Context, contactID int64, actor string) error
}

// Config tunes the pipeline.
type Config struct {
	StateTTL     time.Duration
	FloodLimit   int // messages per minute per sender before replies pause
	MaxTextBytes int // what the engine sees; the full text is stored
	AckRate      int // e-mail acknowledgements per sender per hour
}

// Bot is the pipeline. It implements channels.Sink.
type Bot struct {
	db      *store.DB
	tickets *tickets.Store
	outbox  *channels.Outbox
	engine  *conversation.Engine
	cfg     Config
	log     *slog.Logger

	// Optional collaborators, set before use.
	Tracing Tracing
	Privacy Privacy

	flood *floodGuard

	intake  *prometheus.CounterVec
	latency *prometheus.HistogramVec
	actions *prometheus.CounterVec
	// chunks counts mailbox chunks by how they were stored: staged, or
	// one by one after the staged request failed.
	chunks *prometheus.CounterVec
}

// New makes the pipeline.
func New(db *store.DB, ts *tickets.Store, ob *channels.Outbox, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Bot {
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 30 * time.Minute
	}
	if cfg.FloodLimit <= 0 {
		cfg.FloodLimit = 20
	}
	if cfg.MaxTextBytes <= 0 {
		cfg.MaxTextBytes = 4096
	}
	if cfg.AckRate <= 0 {
		cfg.AckRate = 3
	}
	b := &Bot{
		db: db, tickets: ts, outbox: ob, cfg: cfg, log: log,
		engine: conversation.New(conversation.Config{StateTTL: cfg.StateTTL}),
		flood:  newFloodGuard(cfg.FloodLimit, time.Minute),
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_intake_total", Help: "Inbound messages by channel and result (stored, duplicate, error, not_attempted)."}, []string{"channel", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lindungi_intake_seconds", Help: "Time to store an inbound message and its replies.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 3, 10)}, []string{"channel"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_bot_actions_total", Help: "Conversation engine actions applied, by kind."}, []string{"kind"}),
		chunks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_intake_chunks_total",
			Help: "Mailbox chunks by how they were stored: staged (one request) or one_by_one (the staged request failed, e.g. on a poison mail)."}, []string{"path"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{b.intake, b.latency, b.actions, b.chunks} {
			_ = reg.Register(c)
		}
	}
	ob.OnDead = b.onDead
	return b
}

// Deliver stores one inbound message and everything it causes. It returns
// nil for a duplicate (already stored), so the channel can acknowledge it.
func (b *Bot) Deliver(ctx context.Context, in channels.Inbound) error {
	return b.DeliverBatch(ctx, []channels.Inbound{in})[0]
}

// DeliverBatch is Deliver for several messages at once (channels.BatchSink):
// they are processed strictly in the order given — a mail and its follow-up
// in the same batch thread correctly — and share group commits, so a
// mailbox import pays one commit per batch instead of one per mail. errs[i]
// is ins[i]'s outcome. Once a message fails, the ones after it are not
// attempted (channels.ErrNotAttempted): a follow-up committed behind its failed
// original would find no ticket and open a second one for the same
// conversation. The importer stops its cursor before the failure and
// retries from there, so the cost of a failing mail is a delay for the
// mail behind it, never a duplicate.
//
// A batch of several e-mails (a mailbox chunk) is first tried as one
// request that writes its new complaints table by table (stageEmail); only
// if that fails does it go one message per request as described above.
func (b *Bot) DeliverBatch(ctx context.Context, ins []channels.Inbound) []error {
	errs := make([]error, len(ins))
	jobs := make([]*job, len(ins))
	// firstFailed is the index of the earliest message that failed so far.
	// The writer runs the batch's requests one after another in queue
	// order, so when request i runs, every failure before i is known.
	var firstFailed atomic.Int64
	firstFailed.Store(math.MaxInt64)
	failedAt := func(i int) {
		for {
			cur := firstFailed.Load()
			if int64(i) >= cur || firstFailed.CompareAndSwap(cur, int64(i)) {
				return
			}
		}
	}
	// A request can also fail after its fn returned, when its shared
	// commit fails; the next request to run then sees a new transaction
	// while an earlier one never reported its commit. Only the writer runs
	// fns and after-commit hooks, one at a time, so these need no lock.
	var (
		curTx              *sql.Tx
		attempted, settled int
	)
	valid := func(i int, in channels.Inbound) bool {
		j := &job{in: in, start: time.Now()}
		jobs[i] = j
		if in.Channel == "" || in.ExternalID == "" || in.From == "" {
			errs[i] = fmt.Errorf("bot: inbound message without channel, ID or sender")
			failedAt(i)
			return false
		}
		j.in.Text = tickets.CleanText(in.Text)
		j.in.Name = tickets.CleanText(in.Name)
		if j.in.ReceivedAt.IsZero() {
			j.in.ReceivedAt = store.Now()
		}
		j.prep, j.prepared = in.Prepared.(prepared)
		return true
	}
	if len(ins) > 1 && allEmail(ins) {
		// A mailbox chunk: one request, rows staged and written table by
		// table (stageEmail). If anything in it fails, nothing of it was
		// written, and the mails go through one by one below, which finds
		// the failing one and keeps the order rules.
		ok := true
		for i, in := range ins {
			ok = valid(i, in) && ok
		}
		if ok {
			prepareAll(jobs)
			err := <-b.db.GroupTxAsync(ctx, func(tx *store.Tx) error { return b.stageEmail(ctx, tx, jobs) })
			if err == nil {
				b.chunks.WithLabelValues("staged").Inc()
				for _, j := range jobs {
					done := make(chan error, 1)
					done <- nil
					j.done = done
				}
				return b.settle(ctx, jobs, errs)
			}
			b.chunks.WithLabelValues("one_by_one").Inc()
			b.log.Debug("mail chunk stored one by one", "mails", len(ins), "err", err)
		}
	}
	for i, in := range ins {
		if jobs[i] == nil {
			valid(i, in)
		}
		if errs[i] != nil {
			continue
		}
		j := jobs[i]
		if !j.prepared {
			// Pure work happens here, on the caller's goroutine, while the
			// writer runs the messages queued before this one.
			j.prep, j.prepared = prepare(j.in), true
		}
		// Group commit: concurrent messages share one SQLite transaction,
		// each in its own savepoint, so a burst costs one commit.
		j.done = b.db.GroupTxAsync(ctx, func(tx *store.Tx) (err error) {
			if tx.Tx != curTx {
				curTx = tx.Tx
				if settled != attempted {
					failedAt(i - 1) // an earlier commit of this batch failed
				}
			}
			if firstFailed.Load() < int64(i) {
				return channels.ErrNotAttempted
			}
			defer func() {
				if err != nil {
					failedAt(i)
					return
				}
				attempted++
				tx.AfterCommit(func() { settled++ })
			}()
			return b.deliverOne(ctx, tx, j)
		})
	}
	return b.settle(ctx, jobs, errs)
}

// job is one message of a DeliverBatch.
type job struct {
	in       channels.Inbound
	prep     prepared
	prepared bool
	start    time.Time
	after    []func(context.Context)
	dup      bool
	done     <-chan error
}

// deliverOne stores one message in tx: dedupe, the turn, the channel's
// own write. It can run again for the same job after a rollback.
func (b *Bot) deliverOne(ctx context.Context, tx *store.Tx, j *job) error {
	in := j.in
	j.after, j.dup = nil, false
	res, err := tx.Exec(ctx, `INSERT INTO inbound_keys (channel, external_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		in.Channel, in.ExternalID, store.Now())
	if err != nil {
		return fmt.Errorf("bot: dedupe: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		j.dup = true
	} else {
		t := &turn{b: b, tx: tx, in: in, prep: j.prep}
		if err := t.run(ctx); err != nil {
			return err
		}
		j.after = t.after
	}
	if in.InTx != nil {
		if err := in.InTx(ctx, tx); err != nil {
			return fmt.Errorf("bot: channel cursor: %w", err)
		}
	}
	return nil
}

// settle waits for the jobs' outcomes, runs their after-commit work and
// counts them.
func (b *Bot) settle(ctx context.Context, jobs []*job, errs []error) []error {
	for i, j := range jobs {
		if j.done == nil {
			continue
		}
		if err := <-j.done; err != nil {
			outcome := "error"
			if errors.Is(err, channels.ErrNotAttempted) {
				outcome = "not_attempted"
			}
			b.intake.WithLabelValues(j.in.Channel, outcome).Inc()
			errs[i] = err
			continue
		}
		if j.dup {
			b.intake.WithLabelValues(j.in.Channel, "duplicate").Inc()
			continue
		}
		for _, f := range j.after {
			f(ctx)
		}
		b.intake.WithLabelValues(j.in.Channel, "stored").Inc()
		b.latency.WithLabelValues(j.in.Channel).Observe(time.Since(j.start).Seconds())
	}
	return errs
}

// prepared is what can be worked out from an inbound message alone, before
// it reaches the database writer (which every message queues behind).
// DeliverBatch fills it for every message, so turns can rely on it.
type prepared struct {
	category string // e-mail: the new ticket's category
	lang     string // e-mail: the acknowledgement's language
}

// Prepare does the pure part of delivering in ahead of time
// (channels.Preparer); DeliverBatch then skips it.
func (b *Bot) Prepare(in *channels.Inbound) {
	c := *in
	c.Text = tickets.CleanText(c.Text) // as DeliverBatch will see it
	in.Prepared = prepare(c)
}

// prepareAll prepares the jobs the caller did not (the importer does it
// in its parse workers, channels.Preparer).
func prepareAll(jobs []*job) {
	for _, j := range jobs {
		if !j.prepared {
			j.prep, j.prepared = prepare(j.in), true
		}
	}
}

// prepareText is how much of a mail's text prepare passes on.
const prepareText = 64 << 10

func prepare(in channels.Inbound) prepared {
	var p prepared
	if in.Channel == channels.Email {
		// Both read the first kilobytes only (intent.MaxInput, after
		// Categorise skips form lines); the cut keeps a long body from
		// being copied whole into each argument.
		text := in.Text[:min(len(in.Text), prepareText)]
		p.category = conversation.Categorise(in.Subject + "\n" + text)
		p.lang = "id"
		if conversation.LooksEnglish(in.Subject + " " + text) {
			p.lang = "en"
		}
	}
	return p
}

// turn is one inbound message being processed inside the transaction.
type turn struct {
	b       *Bot
	tx      *store.Tx
	in      channels.Inbound
	prep    prepared
	isNew   bool // e-mail: this message opened its ticket
	contact tickets.Contact
	ticket  *tickets.Ticket // the ticket this message belongs to, once known
	msgID   int64
	lang    string
	// after runs once the transaction has committed (data-subject requests
	// that must see committed state).
	after []func(context.Context)
	// instead replaces the engine's replies this turn when an action was
	// refused (e.g. a wrong SIJEJAK code): the citizen is told what really
	// happened, and the message is still stored.
	instead     string
	insteadSent bool
}

func (t *turn) run(ctx context.Context) error {
	b, tx, in := t.b, t.tx, t.in
	c, err := b.tickets.UpsertContact(ctx, tx, in.Channel, in.From, in.Name)
	if err != nil {
		return err
	}
	t.contact, t.lang = c, c.Lang
	atts := make([]tickets.NewAttachment, 0, len(in.Attachments)+1)
	for _, a := range in.Attachments {
		atts = append(atts, tickets.NewAttachment{Name: a.Name, ContentType: a.ContentType, ContentID: a.ContentID, Inline: a.Inline, Data: a.Data})
	}
	if in.Unparseable && len(in.Raw) > 0 {
		atts = append(atts, tickets.NewAttachment{Name: "original.eml", ContentType: "message/rfc822", Data: in.Raw})
	}
	nm := receivedMessage(in, c.ID)
	nm.Attachments = atts
	if in.Channel == channels.Email {
		// A mail always belongs to a ticket: find or open it first, so the
		// message is written with its ticket once instead of moved later.
		if err := t.emailTicket(ctx); err != nil {
			return err
		}
		nm.TicketID, nm.Fresh = t.ticket.ID, t.isNew
	}
	if t.msgID, err = b.tickets.AddMessage(ctx, tx, nm); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE inbound_keys SET message_id = ? WHERE channel = ? AND external_id = ?`, t.msgID, in.Channel, in.ExternalID); err != nil {
		return fmt.Errorf("bot: dedupe link: %w", err)
	}
	if in.Channel == channels.Email {
		return t.email(ctx)
	}
	return t.chat(ctx)
}

// receivedMessage is the conversation-log entry of in (run, stageEmail),
// without attachments.
func receivedMessage(in channels.Inbound, contactID int64) tickets.NewMessage {
	return tickets.NewMessage{
		ContactID: contactID, Direction: "in", Channel: in.Channel, ExternalID: in.ExternalID,
		Subject: in.Subject, Text: in.Text, HTML: in.HTML,
	}
}

// chat runs the conversation engine (WhatsApp, simulator).
func (t *turn) chat(ctx context.Context) error {
	b, tx, in := t.b, t.tx, t.in
	st, err := b.loadState(ctx, tx, t.contact.ID)
	if err != nil {
		return err
	}
	if st.Lang == "" {
		st.Lang = t.contact.Lang
	}
	open, err := b.tickets.ActiveFor(ctx, tx, t.contact.ID)
	if err != nil {
		return err
	}
	input := conversation.Input{
		Text: truncateUTF8(in.Text, b.cfg.MaxTextBytes), HasAttachment: len(in.Attachments) > 0,
		Now: in.ReceivedAt, Channel: in.Channel, From: in.From, AutoGenerated: in.AutoGenerated,
	}
	if open != nil {
		input.OpenTicket = &conversation.Ticket{Number: open.Number, Status: open.Status, Category: open.Category, HandedOff: open.HandedOff}
	}
	// Only a message that could be a consent answer needs the lookup.
	if _, maybe := intent.Consent(in.Text, false); maybe && b.Tracing != nil {
		if input.PendingConsent, err = b.Tracing.PendingConsent(ctx, tx, in.Channel, in.From); err != nil {
			return err
		}
	}
	// A flooding sender's messages are all stored (and added to their open
	// ticket), but the bot answers only the first over the limit.
	if over, first := b.flood.hit(in.Channel+"\x00"+in.From, in.ReceivedAt); over {
		if open != nil {
			t.ticket = open
			if err := b.tickets.AttachToTicket(ctx, tx, open.ID, t.msgID); err != nil {
				return err
			}
		}
		if first {
			return t.reply(ctx, catalog.T(st.Lang, "flood_notice", nil), "notice")
		}
		return nil
	}
	next, actions := b.engine.Step(st, input)
	t.lang = next.Lang
	for _, a := range actions {
		b.actions.WithLabelValues(a.Kind).Inc()
		if err := t.apply(ctx, a, open); err != nil {
			return fmt.Errorf("bot: action %s: %w", a.Kind, err)
		}
	}
	if next.Lang != "" && next.Lang != t.contact.Lang {
		if err := b.tickets.SetContactLang(ctx, tx, t.contact.ID, next.Lang); err != nil {
			return err
		}
	}
	return b.saveState(ctx, tx, t.contact.ID, next)
}

func (t *turn) apply(ctx context.Context, a conversation.Action, open *tickets.Ticket) error {
	b, tx := t.b, t.tx
	switch a.Kind {
	case "reply":
		if t.instead != "" {
			if t.insteadSent {
				return nil
			}
			t.insteadSent = true
			return t.reply(ctx, t.instead, "reply")
		}
		return t.reply(ctx, a.Text, "reply")
	case "create_ticket":
		subject := a.Fields["description"]
		if i := strings.IndexByte(subject, '\n'); i >= 0 {
			subject = subject[:i]
		}
		nt, err := b.tickets.Create(ctx, tx, tickets.NewTicket{
			ContactID: t.contact.ID, Channel: t.in.Channel, Subject: truncateUTF8(subject, 120),
			Category: a.Category, Fields: a.Fields, HandedOff: a.Category == "handoff",
		})
		if err != nil {
			return err
		}
		t.ticket = &nt
		// The whole exchange that led here belongs to the ticket.
		_, err = tx.Exec(ctx, `UPDATE messages SET ticket_id = ? WHERE contact_id = ? AND ticket_id IS NULL AND created_at >= ?`,
			nt.ID, t.contact.ID, b.tickets.Now().Add(-2*b.cfg.StateTTL))
		return err
	case "append_to_ticket", "reopen_ticket":
		if open == nil {
			return nil
		}
		t.ticket = open
		if err := b.tickets.AttachToTicket(ctx, tx, open.ID, t.msgID); err != nil {
			return err
		}
		if len(a.Fields) > 0 {
			if err := b.tickets.UpdateFields(ctx, tx, open.ID, a.Fields); err != nil {
				return err
			}
		}
		if open.Status == tickets.Resolved || open.Status == tickets.Pending {
			return b.tickets.SetStatus(ctx, tx, open, tickets.Open)
		}
		return nil
	case "handoff":
		if open == nil {
			nt, err := b.tickets.Create(ctx, tx, tickets.NewTicket{ContactID: t.contact.ID, Channel: t.in.Channel,
				Subject: "Permintaan bicara dengan petugas", Category: orDefault(a.Category, "other"), Fields: a.Fields, HandedOff: true})
			if err != nil {
				return err
			}
			t.ticket = &nt
			return b.tickets.AttachToTicket(ctx, tx, nt.ID, t.msgID)
		}
		t.ticket = open
		if err := b.tickets.AttachToTicket(ctx, tx, open.ID, t.msgID); err != nil {
			return err
		}
		return b.tickets.SetHandedOff(ctx, tx, open.ID, true)
	case "close_ticket":
		if open == nil {
			return nil
		}
		t.ticket = open
		if err := b.tickets.AttachToTicket(ctx, tx, open.ID, t.msgID); err != nil {
			return err
		}
		return b.tickets.SetStatus(ctx, tx, open, tickets.Closed)
	case "rate_ticket":
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM tickets WHERE contact_id = ? ORDER BY id DESC LIMIT 1`, t.contact.ID).Scan(&id)
		if err != nil {
			return nil // nothing to rate
		}
		if err := b.tickets.AttachToTicket(ctx, tx, id, t.msgID); err != nil {
			return err
		}
		return b.tickets.SetRating(ctx, tx, id, a.Rating)
	case "sijejak_register":
		if b.Tracing == nil {
			return nil
		}
		err := b.Tracing.ConfirmCode(ctx, tx, t.in.Channel, t.in.From, a.Code)
		if _, ok := coded.As(err); ok {
			t.instead = catalog.T(t.lang, "sijejak_code_invalid", nil)
			return nil
		}
		return err
	case "sijejak_consent":
		if b.Tracing == nil {
			return nil
		}
		// The consent record keeps the text the tracing service actually
		// sent (empty textShown), not the catalogue's copy of it.
		err := b.Tracing.RecordConsent(ctx, tx, t.in.Channel, t.in.From, a.Consent, "")
		if _, ok := coded.As(err); ok {
			t.instead = catalog.T(t.lang, "not_understood", nil)
			return nil
		}
		return err
	case "export_data":
		if b.Privacy == nil {
			return nil
		}
		contactID, ch, to, lang := t.contact.ID, t.in.Channel, t.in.From, t.lang
		t.after = append(t.after, func(ctx context.Context) { b.exportAfter(ctx, contactID, ch, to, lang) })
		return nil
	case "delete_data":
		if b.Privacy == nil {
			return nil
		}
		contactID, ch, to, lang := t.contact.ID, t.in.Channel, t.in.From, t.lang
		t.after = append(t.after, func(ctx context.Context) { b.deleteAfter(ctx, contactID, ch, to, lang) })
		return nil
	default:
		b.log.Warn("bot: unknown engine action", "kind", a.Kind)
		return nil
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// reply enqueues text to the sender and logs it on the conversation.
func (t *turn) reply(ctx context.Context, text, kind string) error {
	var tid int64
	number := ""
	if t.ticket != nil {
		tid, number = t.ticket.ID, t.ticket.Number
	}
	text = strings.ReplaceAll(text, "{ticket}", number)
	return t.b.send(ctx, t.tx, t.contact.ID, channels.Outbound{
		Channel: t.in.Channel, To: t.in.From, TicketID: tid, Kind: kind, Text: text,
		Meta: map[string]string{"ticket_number": number},
	}, "bot", false)
}

// send enqueues m and records it in the conversation log, in tx. touched
// says the ticket's updated_at was already set in tx (the citizen's message
// being answered was just stored on it), so it is not written twice.
func (b *Bot) send(ctx context.Context, tx *store.Tx, contactID int64, m channels.Outbound, author string, touched bool) error {
	id, err := b.outbox.Enqueue(ctx, tx, m)
	if err != nil {
		return err
	}
	_, err = b.tickets.AddMessage(ctx, tx, sentMessage(contactID, id, m, author, touched))
	return err
}

// sentMessage is the conversation-log entry of an outbound message queued
// as outboxID (send, stageEmail).
func sentMessage(contactID int64, outboxID string, m channels.Outbound, author string, touched bool) tickets.NewMessage {
	return tickets.NewMessage{
		TicketID: m.TicketID, ContactID: contactID, Direction: "out", Channel: m.Channel,
		ExternalID: outboxID, Author: author, Subject: m.Subject, Text: m.Text, Fresh: touched,
	}
}

func (b *Bot) loadState(ctx context.Context, tx *store.Tx, contactID int64) (conversation.State, error) {
	var st conversation.State
	var raw string
	err := tx.QueryRow(ctx, `SELECT state FROM bot_state WHERE contact_id = ?`, contactID).Scan(&raw)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return st, nil
		}
		return st, fmt.Errorf("bot: load state: %w", err)
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		// A state written by an older engine is not worth failing a
		// citizen's message over: start them at the menu again.
		b.log.Warn("bot: discarding unreadable conversation state", "contact_id", contactID)
		return conversation.State{}, nil
	}
	return st, nil
}

func (b *Bot) saveState(ctx context.Context, tx *store.Tx, contactID int64, st conversation.State) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO bot_state (contact_id, state, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (contact_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`, contactID, string(raw), store.Now())
	return err
}

var ticketTag = regexp.MustCompile(`PL-\d{4}-\d{6}`)

// emailTicket threads a mail onto its ticket, or opens one: our own
// Message-IDs carry the ticket number; then earlier messages by ID; then
// the tag in the subject. A reply to a closed ticket opens a new one.
func (t *turn) emailTicket(ctx context.Context) error {
	b, tx, in := t.b, t.tx, t.in
	refs := append([]string{in.ReplyTo}, in.References...)
	var tk *tickets.Ticket
	var err error
	for _, r := range refs {
		if n := ticketTag.FindString(r); n != "" {
			if tk, err = b.tickets.ByNumberTx(ctx, tx, n); err != nil {
				return err
			}
			if tk != nil {
				break
			}
		}
	}
	if tk == nil {
		ids := make([]string, 0, len(refs))
		for _, r := range refs {
			ids = append(ids, strings.Trim(strings.TrimSpace(r), "<>"))
		}
		if tk, err = b.tickets.ByExternalMessage(ctx, tx, channels.Email, ids...); err != nil {
			return err
		}
	}
	if tk == nil {
		if n := ticketTag.FindString(in.Subject); n != "" {
			if tk, err = b.tickets.ByNumberTx(ctx, tx, n); err != nil {
				return err
			}
		}
	}
	if tk != nil && tk.Status == tickets.Closed && in.Meta["bounce"] != "1" {
		tk = nil
	}
	if tk == nil {
		nt, err := b.tickets.Create(ctx, tx, newEmailTicket(in, t.contact.ID, t.prep))
		if err != nil {
			return err
		}
		nt.Contact, nt.ContactName = t.contact.Address, t.contact.Name
		tk, t.isNew = &nt, true
	}
	t.ticket = tk
	return nil
}

// newEmailTicket is the ticket a mail opens (emailTicket, stageEmail).
func newEmailTicket(in channels.Inbound, contactID int64, prep prepared) tickets.NewTicket {
	var flags []string
	if in.Unparseable {
		flags = append(flags, "unparseable")
	}
	if in.Meta["oversized"] == "1" {
		flags = append(flags, "oversized")
	}
	return tickets.NewTicket{
		ContactID: contactID, Channel: channels.Email, Subject: truncateUTF8(in.Subject, 200),
		Category: prep.category, Flags: flags, ThreadRef: in.ExternalID, Mailbox: in.To,
	}
}

// email finishes a mail stored on its ticket: reopens a waiting ticket,
// marks bounces, and acknowledges new tickets unless the mail is automatic
// (loop guard).
func (t *turn) email(ctx context.Context) error {
	b, tx, in, tk := t.b, t.tx, t.in, t.ticket
	if !t.isNew && (tk.Status == tickets.Resolved || tk.Status == tickets.Pending) && in.Meta["bounce"] != "1" {
		if err := b.tickets.SetStatus(ctx, tx, tk, tickets.Open); err != nil {
			return err
		}
	}
	if in.Meta["bounce"] == "1" {
		if err := b.tickets.AddFlag(ctx, tx, tk.ID, "delivery_failed"); err != nil {
			return err
		}
	}
	if in.AutoGenerated || in.Meta["bounce"] == "1" {
		return nil
	}
	lang := t.prep.lang
	// The mail being answered is this one: no need to look it up.
	latest := in.ExternalID
	if in.Meta["retired"] == "1" {
		// A sender first seen in this mail has not had the notice yet.
		var n int
		if !t.contact.Created {
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE channel = 'email' AND recipient = ? AND kind = 'notice'`, in.From).Scan(&n); err != nil {
				return err
			}
		}
		if n == 0 {
			notice := in.Meta["notice"]
			if notice == "" {
				notice = catalog.T(lang, "email_retired_notice", nil)
			}
			if err := b.emailReply(ctx, tx, tk, in, "notice", notice, latest); err != nil {
				return err
			}
		}
	}
	if !t.isNew {
		return nil
	}
	// Per-sender acknowledgement limit: a sender who writes many mails gets
	// tickets for all of them but not a flood of acknowledgements. A
	// sender first seen in this very mail has been sent nothing yet.
	if !t.contact.Created {
		recent := map[string]int{}
		if err := recentAcks(ctx, tx, []string{in.From}, recent); err != nil {
			return err
		}
		if recent[in.From] >= b.cfg.AckRate {
			return nil
		}
	}
	return b.emailReply(ctx, tx, tk, in, "ack", ackText(lang, tk), latest)
}

// ackText is the acknowledgement of a new e-mail ticket.
func ackText(lang string, tk *tickets.Ticket) string {
	return catalog.T(lang, "email_ack", map[string]string{"ticket": tk.Number})
}

// ackWindow is the span of AckRate: at most that many acknowledgements to
// one sender per window.
const ackWindow = time.Hour

// emailReply sends an automatic e-mail on a ticket, threaded under the
// citizen's message (in), from the mailbox the citizen wrote to (the
// channel answers a retired one from its first active mailbox).
func (b *Bot) emailReply(ctx context.Context, tx *store.Tx, tk *tickets.Ticket, in channels.Inbound, kind, text, latest string) error {
	m, err := b.emailReplyMsg(ctx, tx, tk, in, kind, text, latest)
	if err != nil {
		return err
	}
	// Only called while storing the mail being answered, which touched tk.
	return b.send(ctx, tx, tk.ContactID, m, "bot", true)
}

// emailReplyMsg is the automatic e-mail of emailReply, not yet sent.
func (b *Bot) emailReplyMsg(ctx context.Context, tx *store.Tx, tk *tickets.Ticket, in channels.Inbound, kind, text, latest string) (channels.Outbound, error) {
	// To the sender of this mail: a notice is owed to whoever wrote to the
	// retired address, even when their mail joined someone else's ticket.
	m := channels.Outbound{Channel: channels.Email, To: in.From, TicketID: tk.ID, Kind: kind, Text: text,
		Subject: tk.Subject, From: in.To, Meta: map[string]string{"ticket_number": tk.Number}}
	err := b.threadEmail(ctx, tx, tk, &m, latest)
	return m, err
}

// threadEmail fills In-Reply-To/References from the ticket's latest
// inbound mail.
//
// latest, when known, is the external ID of the ticket's latest inbound
// mail (the one being answered right now); empty means look it up.
func (b *Bot) threadEmail(ctx context.Context, tx *store.Tx, tk *tickets.Ticket, m *channels.Outbound, latest string) error {
	ext := latest
	if ext == "" {
		err := tx.QueryRow(ctx, `SELECT external_id FROM messages WHERE ticket_id = ? AND direction = 'in' ORDER BY id DESC LIMIT 1`, tk.ID).Scan(&ext)
		if err != nil {
			return nil // no inbound mail (ticket opened on another channel)
		}
	}
	if i := strings.LastIndexByte(ext, ':'); i > 0 {
		ext = ext[:i]
	}
	m.InReplyTo = ext
	if tk.ThreadRef != "" {
		root := tk.ThreadRef
		if i := strings.LastIndexByte(root, ':'); i > 0 {
			root = root[:i]
		}
		if root != ext {
			m.References = append(m.References, root)
		}
	}
	m.References = append(m.References, ext)
	return nil
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// floodGuard counts messages per sender in a sliding minute.
type floodGuard struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	hits   map[string][]time.Time
	warned map[string]time.Time
}

func newFloodGuard(limit int, window time.Duration) *floodGuard {
	return &floodGuard{limit: limit, window: window, hits: map[string][]time.Time{}, warned: map[string]time.Time{}}
}

// hit records a message; over says the sender is above the limit, first
// that this is the first message over it in the current window.
func (f *floodGuard) hit(key string, at time.Time) (over, first bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.hits) > 100000 {
		// Bound memory under a flood of distinct senders.
		f.hits, f.warned = map[string][]time.Time{}, map[string]time.Time{}
	}
	h := f.hits[key]
	cut := 0
	for cut < len(h) && at.Sub(h[cut]) > f.window {
		cut++
	}
	h = append(h[cut:], at)
	f.hits[key] = h
	if len(h) <= f.limit {
		return false, false
	}
	if w, ok := f.warned[key]; ok && at.Sub(w) < f.window {
		return true, false
	}
	f.warned[key] = at
	return true, true
}
