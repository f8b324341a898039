// Package bot owns the conversation pipeline: every inbound message from
// every channel passes through Bot.Deliver, which — in ONE transaction —
// dedupes it, stores it, runs the conversation engine (bot/conversation),
// applies the engine's actions to tickets, and enqueues replies in the
// outbox. Only after that commit may the channel acknowledge the message, so
// a crash at any point loses nothing and duplicates nothing.
//
// bot.go is the core every message shares (dedupe, contact, message, the
// group commit); chat.go and email.go are the two front ends it hands the
// stored message to, and emailstage.go writes a mailbox chunk of new
// complaints in one go.
//
// The engine itself is pure (no database, no channels): see
// bot/conversation, bot/intent and bot/catalog.
package bot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"lindungi/bot/conversation"
	"lindungi/channels"
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

	// Optional features the engine's actions go to; nil when off.
	tracing Tracing
	privacy Privacy
	self    SelfService

	flood *floodGuard

	intake  *prometheus.CounterVec
	latency *prometheus.HistogramVec
	actions *prometheus.CounterVec
	// chunks counts mailbox chunks by how they were stored: staged, or
	// one by one after the staged request failed.
	chunks *prometheus.CounterVec
}

// DefaultConfig is the pipeline's setup when nothing is configured;
// config.Default carries the same values (bot.state_ttl, bot.flood_limit,
// bot.max_text_bytes, email.ack_rate_per_hour; a test checks they agree).
func DefaultConfig() Config {
	return Config{StateTTL: 30 * time.Minute, FloodLimit: 20, MaxTextBytes: 4096, AckRate: 3}
}

// Features are the optional parts of the gateway the engine's actions go
// to: SIJEJAK codes and consent answers to Sijejak, data requests to
// privacy. A nil one answers those actions with "not available".
type Features struct {
	Tracing Tracing
	Privacy Privacy
	// SelfService answers status and certificate requests from the
	// vaccination registry; nil files them as tickets.
	SelfService SelfService
}

// New makes the pipeline; zero fields of cfg take DefaultConfig's values.
func New(db *store.DB, ts *tickets.Store, ob *channels.Outbox, with Features, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Bot {
	def := DefaultConfig()
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = def.StateTTL
	}
	if cfg.FloodLimit <= 0 {
		cfg.FloodLimit = def.FloodLimit
	}
	if cfg.MaxTextBytes <= 0 {
		cfg.MaxTextBytes = def.MaxTextBytes
	}
	if cfg.AckRate <= 0 {
		cfg.AckRate = def.AckRate
	}
	b := &Bot{
		db: db, tickets: ts, outbox: ob, tracing: with.Tracing, privacy: with.Privacy, self: with.SelfService, cfg: cfg, log: log,
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
	fresh, err := b.tickets.ClaimInboundKey(ctx, tx, in.Channel, in.ExternalID, store.Now())
	if err != nil {
		return err
	}
	if !fresh {
		j.dup = true
	} else {
		t := &turn{b: b, tx: tx, in: in, prep: j.prep}
		if err := t.run(ctx); err != nil {
			return err
		}
		j.after = t.after
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
	if err := b.tickets.LinkInboundKey(ctx, tx, in.Channel, in.ExternalID, t.msgID); err != nil {
		return err
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
