package channels

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"lindungi/store"
)

// Outbound kinds the outbox treats specially. Through a DeliveryReporter
// channel "sent" only means accepted: there they keep their content until
// delivered, read or dead.
const (
	// KindErasure confirms a deletion: once sent, the row forgets its
	// recipient and text, so the confirmation does not undo the erasure.
	KindErasure = "erasure"
	// KindExport carries a citizen's data export; once sent its payload is
	// dropped for the same reason.
	KindExport = "export"
	// KindOTP carries a one-time code: once sent (or given up on) its text
	// is replaced, so the outbox never keeps a code that could still be
	// valid in clear. Only the code's hash is kept, by its owner.
	KindOTP = "otp"
)

// redactedOTP is what a sent one-time code's payload becomes.
const redactedOTP = `{"text":"","meta":{"redacted":"otp"}}`

// errContentDropped is why a row whose content was already dropped is
// dead-lettered when its provider later reports it failed: there is
// nothing left to send again.
var errContentDropped = errors.New("the message's content was dropped once it left the gateway; it cannot be sent again")

// DeliveryReporter is implemented by a Channel whose provider reports by
// webhook what became of a message after Send returned (the WhatsApp
// Cloud API: its Send only means Meta accepted it). The outbox keeps such
// a row's content until the citizen has it (delivered, read) or the row
// is dead, since a later failure report queues it again (RecordDelivery).
type DeliveryReporter interface {
	ReportsDelivery() bool
}

func reportsDelivery(ch Channel) bool {
	r, ok := ch.(DeliveryReporter)
	return ok && r.ReportsDelivery()
}

// dropsContent says whether rows of kind forget their content once done.
func dropsContent(kind string) bool {
	return kind == KindErasure || kind == KindExport || kind == KindOTP
}

// dropContent forgets what a done row of an erasure, export or one-time
// code carried; cond (SQL, may be empty) narrows when it applies, so a
// caller can make it depend on the row's state as of its own lock.
func dropContent(ctx context.Context, tx *store.Tx, kind, id, cond string, args ...any) error {
	q := ``
	switch kind {
	case KindErasure, KindExport:
		q = `UPDATE outbox SET recipient = 'erased', payload = '{"text":""}' WHERE id = ?`
	case KindOTP:
		q = `UPDATE outbox SET payload = '` + redactedOTP + `' WHERE id = ?`
	default:
		return nil
	}
	if _, err := tx.Exec(ctx, q+cond, append([]any{id}, args...)...); err != nil {
		return fmt.Errorf("outbox: drop the content of %s: %w", id, err)
	}
	return nil
}

// contentDropped says whether a row's content is gone (dropContent ran).
func contentDropped(kind, recipient, payload string) bool {
	switch kind {
	case KindErasure, KindExport:
		return recipient == "erased"
	case KindOTP:
		return payload == redactedOTP
	}
	return false
}

// OutboxConfig tunes delivery.
type OutboxConfig struct {
	MaxAttempts int
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Rate is messages per second per channel name (0 or absent: unlimited).
	Rate      map[string]float64
	BatchSize int
	// ClaimTTL is how long a claimed row stays with one worker before another
	// worker (or this one after a crash) may take it again.
	ClaimTTL time.Duration
	// Poll is the fallback wake-up when no Enqueue signalled (other replicas'
	// rows, retries coming due).
	Poll time.Duration
	// SendTimeout bounds one Channel.Send.
	SendTimeout time.Duration
	// Concurrency is how many recipients a channel's worker sends to at
	// once (each recipient's messages stay in order).
	Concurrency int
}

// DefaultOutboxConfig is the delivery setup when nothing is configured;
// config.Default carries the same values for the keys it has (outbox.*,
// a test checks they agree). WhatsApp's rate is whatsapp.send_rate.
func DefaultOutboxConfig() OutboxConfig {
	return OutboxConfig{
		MaxAttempts: 8,
		BaseBackoff: 2 * time.Second,
		MaxBackoff:  10 * time.Minute,
		Rate:        map[string]float64{Email: 20},
		BatchSize:   64,
		ClaimTTL:    2 * time.Minute,
		Poll:        time.Second,
		SendTimeout: 90 * time.Second,
		Concurrency: 8,
	}
}

// defaults sets every unset field to DefaultOutboxConfig's (Rate stays as
// given: an empty map means unlimited).
func (c *OutboxConfig) defaults() {
	def := DefaultOutboxConfig()
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = def.MaxAttempts
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = def.BaseBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = def.MaxBackoff
	}
	if c.BatchSize <= 0 {
		c.BatchSize = def.BatchSize
	}
	if c.ClaimTTL <= 0 {
		c.ClaimTTL = def.ClaimTTL
	}
	if c.Poll <= 0 {
		c.Poll = def.Poll
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = def.SendTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = def.Concurrency
	}
}

// Outbox is the one durable queue every citizen-bound message goes through:
// rows are written in the same transaction as the ticket change that caused
// them, then a worker per channel claims and sends them, retrying with
// exponential backoff and jitter, rate-limited per channel, dead-lettering
// after MaxAttempts. Each row's ID is stable and travels to the channel as
// the wire message ID, so a resend after a crash is the same message.
type Outbox struct {
	db  *store.DB
	cfg OutboxConfig
	log *slog.Logger

	mu       sync.Mutex
	channels map[string]Channel
	wake     map[string]chan struct{}

	// OnDead, if set, runs in the transaction that dead-letters a row (the
	// bot flags the ticket so an operator sees the failure).
	OnDead func(ctx context.Context, tx *store.Tx, row Outbound, reason string) error
	// Now is the clock; tests replace it.
	Now func() time.Time

	sent, failed, dead *prometheus.CounterVec
	latency            *prometheus.HistogramVec
	depth              *prometheus.GaugeVec
}

// NewOutbox makes an outbox; register channels, then Run it.
func NewOutbox(db *store.DB, cfg OutboxConfig, log *slog.Logger, reg prometheus.Registerer) *Outbox {
	cfg.defaults()
	o := &Outbox{
		db: db, cfg: cfg, log: log, channels: map[string]Channel{}, wake: map[string]chan struct{}{}, Now: store.Now,
		sent:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_outbox_sent_total", Help: "Messages handed to a channel successfully."}, []string{"channel"}),
		failed:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_outbox_failures_total", Help: "Send attempts that failed, by reason (retry, not_ready, permanent)."}, []string{"channel", "reason"}),
		dead:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_outbox_dead_total", Help: "Messages dead-lettered."}, []string{"channel"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lindungi_outbox_queue_seconds", Help: "Time from enqueue to successful send.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"channel"}),
		depth:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lindungi_outbox_depth", Help: "Rows queued or sending, sampled by the worker."}, []string{"channel"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{o.sent, o.failed, o.dead, o.latency, o.depth} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					log.Warn("outbox metric not registered", "err", err)
				}
			}
		}
	}
	return o
}

// Register adds a channel the outbox delivers to.
func (o *Outbox) Register(ch Channel) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.channels[ch.Name()] = ch
	// Export zeroes from the start so dashboards and alerts see the series.
	o.sent.WithLabelValues(ch.Name())
	o.dead.WithLabelValues(ch.Name())
	o.depth.WithLabelValues(ch.Name())
	if _, ok := o.wake[ch.Name()]; !ok {
		o.wake[ch.Name()] = make(chan struct{}, 1)
	}
}

// Channel returns a registered channel.
func (o *Outbox) Channel(name string) (Channel, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch, ok := o.channels[name]
	return ch, ok
}

// Channels returns the registered channels.
func (o *Outbox) Channels() []Channel {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Channel
	for _, c := range o.channels {
		out = append(out, c)
	}
	return out
}

// NewID makes a stable outbound ID: "3EB0", the creation time in
// milliseconds (12 hex digits) and 48 random bits, upper-case hex. The
// shape is a valid WhatsApp message ID (whatsapp.MessageID passes it
// unchanged) and a valid Message-ID local part. Time first keeps the
// outbox's primary key and the acknowledgement rows' external IDs in
// insertion order: a random key dirties a different index page for every
// row of a batch, and each of those pages is written again at commit. 48
// random bits make two IDs of the same millisecond, on any replica, collide
// about once in 10^14 pairs.
func NewID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("channels: no randomness: " + err.Error())
	}
	return fmt.Sprintf("3EB0%012X%X", uint64(time.Now().UnixMilli())&(1<<48-1), b[:])
}

type payload struct {
	Subject     string            `json:"subject,omitempty"`
	Text        string            `json:"text"`
	InReplyTo   string            `json:"inReplyTo,omitempty"`
	References  []string          `json:"references,omitempty"`
	From        string            `json:"from,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	Attachments []Attachment      `json:"attachments,omitempty"`
}

// Enqueue writes m in tx and returns its ID; the channel's worker is woken
// once tx commits. m.ID may be preset (idempotent re-enqueue is a no-op).
func (o *Outbox) Enqueue(ctx context.Context, tx *store.Tx, m Outbound) (string, error) {
	vals, err := o.row(&m)
	if err != nil {
		return "", err
	}
	if _, err := tx.Exec(ctx, outboxInsert, vals...); err != nil {
		return "", fmt.Errorf("outbox: enqueue: %w", err)
	}
	o.wakeAfter(tx, m.Channel)
	return m.ID, nil
}

// NewRows starts a batch of outbox rows for Stage; the caller writes it
// with Flush in the same transaction.
func (o *Outbox) NewRows() *store.Rows {
	return store.NewRows("outbox", outboxConflict, outboxInsertCols...)
}

// Stage is Enqueue into rows (see NewRows): the row is written when rows
// is flushed, and the worker woken once tx commits.
func (o *Outbox) Stage(tx *store.Tx, rows *store.Rows, m Outbound) (string, error) {
	vals, err := o.row(&m)
	if err != nil {
		return "", err
	}
	rows.Add(vals...)
	o.wakeAfter(tx, m.Channel)
	return m.ID, nil
}

// outboxInsertCols, outboxConflict and row are the one definition of a
// queued message's row, for Enqueue and Stage.
var outboxInsertCols = []string{"id", "channel", "recipient", "ticket_id", "kind", "payload", "status", "attempts", "next_attempt_at", "created_at"}

const outboxConflict = " ON CONFLICT (id) DO NOTHING"

// outboxInsert is Enqueue's statement, built once.
var outboxInsert = "INSERT INTO outbox (" + strings.Join(outboxInsertCols, ", ") + ") VALUES (" +
	store.Placeholders(len(outboxInsertCols)) + ")" + outboxConflict

// row completes m (ID, kind) and returns its values in outboxInsertCols
// order.
func (o *Outbox) row(m *Outbound) ([]any, error) {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.Channel == "" || m.To == "" {
		return nil, fmt.Errorf("outbox: message needs a channel and a recipient")
	}
	if m.Kind == "" {
		m.Kind = "reply"
	}
	p, err := json.Marshal(payload{Subject: m.Subject, Text: m.Text, InReplyTo: m.InReplyTo, References: m.References, From: m.From, Meta: m.Meta, Attachments: m.Attachments})
	if err != nil {
		return nil, fmt.Errorf("outbox: encode: %w", err)
	}
	var tid any
	if m.TicketID != 0 {
		tid = m.TicketID
	}
	now := o.Now()
	return []any{m.ID, m.Channel, m.To, tid, m.Kind, string(p), "queued", 0, now, now}, nil
}

// wakeAfter wakes channel's worker once tx commits.
func (o *Outbox) wakeAfter(tx *store.Tx, channel string) {
	tx.AfterCommit(func() { o.Wake(channel) })
}

// Wake nudges a channel's worker.
func (o *Outbox) Wake(channel string) {
	o.mu.Lock()
	w := o.wake[channel]
	o.mu.Unlock()
	if w != nil {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// Run starts one worker per registered channel and blocks until ctx ends
// and every worker has finished its in-flight send.
func (o *Outbox) Run(ctx context.Context) error {
	// On SQLite this process is the only worker, so a row still "sending"
	// was abandoned by a crash of this same deployment: hand it back now
	// instead of waiting for its claim to expire. (On PostgreSQL another
	// replica may be mid-send; there the claim TTL decides.)
	if o.db.Dialect() == store.SQLite {
		if res, err := o.db.Exec(ctx, `UPDATE outbox SET status = 'queued', claimed_until = NULL WHERE status = 'sending'`); err != nil {
			o.log.Error("outbox recovery failed", "err", err)
		} else if n, _ := res.RowsAffected(); n > 0 {
			o.log.Info("outbox: re-queued rows abandoned by a previous run", "rows", n)
		}
	}
	var wg sync.WaitGroup
	for _, ch := range o.Channels() {
		wg.Add(1)
		go func(ch Channel) {
			defer wg.Done()
			o.work(ctx, ch)
		}(ch)
	}
	wg.Wait()
	return nil
}

type claimed struct {
	msg       Outbound
	attempts  int
	createdAt time.Time
}

func (o *Outbox) work(ctx context.Context, ch Channel) {
	name := ch.Name()
	var lim *rate.Limiter
	if r := o.cfg.Rate[name]; r > 0 {
		burst := int(r)
		if burst < 1 {
			burst = 1
		}
		lim = rate.NewLimiter(rate.Limit(r), burst)
	}
	o.mu.Lock()
	wake := o.wake[name]
	o.mu.Unlock()
	lastDepth := time.Time{}
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		if time.Since(lastDepth) > 10*time.Second {
			o.sampleDepth(ctx, name)
			lastDepth = time.Now()
		}
		batch, err := o.claim(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			o.log.Error("outbox claim failed", "channel", name, "err", err)
			backoff = min(max(backoff*2, 100*time.Millisecond), 10*time.Second)
			sleep(ctx, backoff)
			continue
		}
		backoff = 0
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-wake:
			case <-time.After(o.cfg.Poll):
			}
			continue
		}
		o.deliver(ctx, ch, lim, batch)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// claim takes up to BatchSize due rows for this channel. Rows left in
// "sending" by a crashed worker become due again when their claim expires.
func (o *Outbox) claim(ctx context.Context, channel string) ([]claimed, error) {
	now := o.Now()
	lock := ""
	if o.db.Dialect() == store.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var out []claimed
	err := o.db.InTx(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE outbox SET status = 'sending', claimed_until = ?
			WHERE id IN (SELECT id FROM outbox WHERE channel = ? AND ((status = 'queued' AND next_attempt_at <= ?) OR (status = 'sending' AND claimed_until < ?))
			             ORDER BY next_attempt_at, created_at LIMIT ?`+lock+`)
			RETURNING id, recipient, COALESCE(ticket_id, 0), kind, payload, attempts, created_at`,
			now.Add(o.cfg.ClaimTTL), channel, now, now, o.cfg.BatchSize)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c claimed
			var p string
			if err := rows.Scan(&c.msg.ID, &c.msg.To, &c.msg.TicketID, &c.msg.Kind, &p, &c.attempts, &c.createdAt); err != nil {
				return err
			}
			var pl payload
			if err := json.Unmarshal([]byte(p), &pl); err != nil {
				return fmt.Errorf("outbox: row %s payload: %w", c.msg.ID, err)
			}
			c.msg.Channel, c.msg.CreatedAt = channel, c.createdAt
			c.msg.Subject, c.msg.Text, c.msg.InReplyTo, c.msg.References = pl.Subject, pl.Text, pl.InReplyTo, pl.References
			c.msg.From, c.msg.Meta, c.msg.Attachments = pl.From, pl.Meta, pl.Attachments
			out = append(out, c)
		}
		return rows.Err()
	})
	// RETURNING gives no order guarantee; keep queue order so one citizen's
	// messages arrive in the order they were written.
	sortClaimed(out)
	return out, err
}

func sortClaimed(cs []claimed) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].createdAt.Before(cs[j-1].createdAt); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

type result struct {
	c      claimed
	err    error
	sentAt time.Time
}

func (o *Outbox) deliver(ctx context.Context, ch Channel, lim *rate.Limiter, batch []claimed) {
	name := ch.Name()
	// One lane per recipient keeps each citizen's messages in order; lanes
	// run concurrently (a WhatsApp send waits on the network for its ack, so
	// one-at-a-time sending would cap a channel at a few messages a second).
	var lanes [][]claimed
	laneOf := map[string]int{}
	for _, c := range batch {
		i, ok := laneOf[c.msg.To]
		if !ok {
			i = len(lanes)
			laneOf[c.msg.To] = i
			lanes = append(lanes, nil)
		}
		lanes[i] = append(lanes[i], c)
	}
	var (
		mu       sync.Mutex
		results  = make([]result, 0, len(batch))
		notReady atomic.Bool
		wg       sync.WaitGroup
		next     = make(chan []claimed)
	)
	workers := min(o.cfg.Concurrency, len(lanes))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lane := range next {
				for i, c := range lane {
					if ctx.Err() != nil || notReady.Load() || (lim != nil && lim.Wait(ctx) != nil) {
						// Not attempted: hand the rest back untouched.
						mu.Lock()
						for _, rest := range lane[i:] {
							results = append(results, result{c: rest, err: ErrNotReady})
						}
						mu.Unlock()
						break
					}
					// A send in flight finishes even during shutdown:
					// cancelling it half-way would leave the citizen
					// guessing whether it arrived.
					sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.SendTimeout)
					err := ch.Send(sctx, c.msg)
					cancel()
					mu.Lock()
					results = append(results, result{c: c, err: err, sentAt: o.Now()})
					mu.Unlock()
					if errors.Is(err, ErrNotReady) {
						notReady.Store(true)
					}
					if err != nil {
						// Later messages to this citizen wait for this one.
						mu.Lock()
						for _, rest := range lane[i+1:] {
							results = append(results, result{c: rest, err: ErrNotReady})
						}
						mu.Unlock()
						break
					}
				}
			}
		}()
	}
	for _, lane := range lanes {
		next <- lane
	}
	close(next)
	wg.Wait()
	// Record outcomes even when shutting down.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := o.record(rctx, name, reportsDelivery(ch), results); err != nil {
		o.log.Error("outbox record failed; rows will be retried after their claim expires", "channel", name, "err", err)
	}
	if notReady.Load() {
		sleep(ctx, 2*time.Second)
	}
}

// record applies the outcomes of a batch's sends. reported says the
// channel reports delivery by webhook: then a sent row keeps its content
// until RecordDelivery hears it arrived (or the row dies).
func (o *Outbox) record(ctx context.Context, channel string, reported bool, results []result) error {
	now := o.Now()
	return o.db.InTx(ctx, func(tx *store.Tx) error {
		for _, r := range results {
			id := r.c.msg.ID
			switch {
			case r.err == nil:
				// Only a row still being sent: a channel whose provider
				// reports delivery by webhook (the WhatsApp Cloud API) may
				// have dead-lettered it already, on a failure status that
				// overtook the send's answer.
				if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ? AND status = 'sending'`, r.sentAt, id); err != nil {
					return err
				}
				cond := ""
				if reported {
					// Accepted is not arrived: a failure report may
					// still queue it again. Drop now only if the
					// arrival report overtook the send's answer.
					cond = ` AND delivery IN ('delivered', 'read')`
				}
				if err := dropContent(ctx, tx, r.c.msg.Kind, id, cond); err != nil {
					return err
				}
				o.sent.WithLabelValues(channel).Inc()
				o.latency.WithLabelValues(channel).Observe(r.sentAt.Sub(r.c.createdAt).Seconds())
			case errors.Is(r.err, ErrNotReady):
				if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'queued', claimed_until = NULL, next_attempt_at = ? WHERE id = ?`, now.Add(2*time.Second), id); err != nil {
					return err
				}
				o.failed.WithLabelValues(channel, "not_ready").Inc()
			case errors.Is(r.err, ErrDeferred):
				if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'queued', claimed_until = NULL, last_error = ?, next_attempt_at = ? WHERE id = ?`,
					truncate(r.err.Error(), 500), now.Add(o.cfg.MaxBackoff), id); err != nil {
					return err
				}
				o.failed.WithLabelValues(channel, "deferred").Inc()
			case errors.Is(r.err, ErrHeld):
				if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'held', attempts = attempts + 1, last_error = ?, claimed_until = NULL WHERE id = ?`, truncate(r.err.Error(), 500), id); err != nil {
					return err
				}
				o.failed.WithLabelValues(channel, "held").Inc()
				o.log.Info("outbox message held", "channel", channel, "outbox_id", id, "ticket_id", r.c.msg.TicketID)
			case errors.Is(r.err, ErrPermanent) || r.c.attempts+1 >= o.cfg.MaxAttempts:
				reason := "permanent"
				if !errors.Is(r.err, ErrPermanent) {
					reason = "attempts_exhausted"
				}
				msg := truncate(r.err.Error(), 500)
				if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ?, claimed_until = NULL WHERE id = ?`, msg, id); err != nil {
					return err
				}
				if err := redactOTP(ctx, tx, r.c.msg); err != nil {
					return err
				}
				if reported && r.c.msg.Kind != KindOTP {
					// Kept past "sent" only in case it had to go again;
					// dead, it never will.
					if err := dropContent(ctx, tx, r.c.msg.Kind, id, ""); err != nil {
						return err
					}
				}
				o.failed.WithLabelValues(channel, reason).Inc()
				o.dead.WithLabelValues(channel).Inc()
				o.log.Warn("outbox message dead-lettered", "channel", channel, "outbox_id", id, "ticket_id", r.c.msg.TicketID, "reason", reason, "attempts", r.c.attempts+1)
				if o.OnDead != nil {
					if err := o.OnDead(ctx, tx, r.c.msg, msg); err != nil {
						return err
					}
				}
			default:
				next := now.Add(o.backoff(r.c.attempts + 1))
				if _, err := tx.Exec(ctx, `UPDATE outbox SET status = 'queued', attempts = attempts + 1, last_error = ?, claimed_until = NULL, next_attempt_at = ? WHERE id = ?`,
					truncate(r.err.Error(), 500), next, id); err != nil {
					return err
				}
				o.failed.WithLabelValues(channel, "retry").Inc()
				o.log.Info("outbox send failed; will retry", "channel", channel, "outbox_id", id, "attempt", r.c.attempts+1, "next_in", next.Sub(now).Round(time.Millisecond), "err", r.err)
			}
		}
		return nil
	})
}

// redactOTP drops the code from a one-time-code row that is done with.
func redactOTP(ctx context.Context, tx *store.Tx, m Outbound) error {
	if m.Kind != KindOTP {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE outbox SET payload = ? WHERE id = ?`, redactedOTP, m.ID); err != nil {
		return fmt.Errorf("outbox: redact one-time code: %w", err)
	}
	return nil
}

// backoff is exponential with full jitter in [d/2, d], so a burst of failures
// does not retry in lock-step.
func (o *Outbox) backoff(attempt int) time.Duration {
	d := o.cfg.BaseBackoff
	for i := 1; i < attempt && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.cfg.MaxBackoff)
	half := d / 2
	return half + time.Duration(mrand.Int64N(int64(half)+1))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (o *Outbox) sampleDepth(ctx context.Context, channel string) {
	var n int64
	if err := o.db.QueryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE channel = ? AND status IN ('queued', 'sending')`, channel).Scan(&n); err == nil {
		o.depth.WithLabelValues(channel).Set(float64(n))
	}
}

// Unsent counts the rows of every channel not yet sent (queued, sending or
// dead): the process-level crash tests wait for it to reach zero.
func Unsent(ctx context.Context, db *store.DB) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE status <> 'sent'`).Scan(&n)
	return n, err
}

// Stats counts rows by status for one channel (readiness and the console).
func (o *Outbox) Stats(ctx context.Context, channel string) (map[string]int64, error) {
	rows, err := o.db.Query(ctx, `SELECT status, COUNT(*) FROM outbox WHERE channel = ? GROUP BY status`, channel)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}
