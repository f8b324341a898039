// Package email is the e-mail channel: IMAP ingest (go-imap/v2) of the
// complaint mailboxes with a UID cursor per (mailbox, folder, UIDVALIDITY),
// lenient MIME parsing (go-message) into channels.Inbound, loop and bounce
// classification, and SMTP sending (go-smtp) of outbox messages with stable
// Message-IDs that encode the ticket.
//
// One Runner per mailbox owns one IMAP connection and one goroutine; a slow
// or broken mailbox never holds up another. See ARCHITECTURE notes in
// runner.go.
package email

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"lindungi/channels"
	"lindungi/store"
)

// Channel serves every configured mailbox: Send for all of them, Run for
// the IMAP side, State for /readyz.
type Channel struct {
	cfg     Config
	db      *store.DB
	log     *slog.Logger
	limiter *replyLimiter
	now     func() time.Time
	runners []*Runner
}

var _ channels.Channel = (*Channel)(nil)
var _ channels.Runner = (*Channel)(nil)

// New validates cfg and builds the channel. db holds the IMAP cursors
// (table email_cursors); log gets no addresses, subjects or bodies.
func New(cfg Config, db *store.DB, log *slog.Logger) (*Channel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Channel{
		cfg: cfg, db: db, log: log, now: time.Now,
		limiter: &replyLimiter{limit: cfg.AutoReplyLimit, window: cfg.AutoReplyWindow, sent: map[string][]time.Time{}},
	}
	var own []string
	for _, m := range cfg.Mailboxes {
		own = append(own, m.Address)
	}
	for _, m := range cfg.Mailboxes {
		if m.IMAPURL == "" {
			continue
		}
		c.runners = append(c.runners, newRunner(m, cfg, own, db, log))
	}
	return c, nil
}

// Name is channels.Email.
func (c *Channel) Name() string { return channels.Email }

// Runners are the per-mailbox IMAP loops (for tests and status pages).
func (c *Channel) Runners() []*Runner { return c.runners }

// State is Up when every active mailbox is connected (or in standby on
// another replica), Down when one is not, Disabled with no IMAP mailboxes.
func (c *Channel) State() channels.State {
	if len(c.runners) == 0 {
		if len(c.cfg.Mailboxes) == 0 {
			return channels.StateDisabled
		}
		return channels.StateUp
	}
	st := channels.StateUp
	standby := 0
	for _, r := range c.runners {
		switch r.State() {
		case channels.StateUp:
		case channels.StateStandby:
			standby++
		default:
			st = channels.StateDown
		}
	}
	if st == channels.StateUp && standby == len(c.runners) {
		return channels.StateStandby
	}
	return st
}

// Run runs every mailbox's Runner in its own goroutine until ctx ends. On
// PostgreSQL each mailbox is a singleton held through store.Leader, so N
// replicas read each mailbox exactly once; on SQLite this process always
// leads.
func (c *Channel) Run(ctx context.Context, sink channels.Sink) error {
	var wg sync.WaitGroup
	for _, r := range c.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.lead(ctx, r, sink)
		}()
	}
	wg.Wait()
	return nil
}

func (c *Channel) lead(ctx context.Context, r *Runner, sink channels.Sink) {
	if c.db == nil || c.db.Dialect() != store.Postgres {
		r.Run(ctx, sink)
		return
	}
	l := c.db.NewLeader("email:" + r.box.Address + "/" + r.box.Folder)
	for ctx.Err() == nil {
		r.setState(channels.StateStandby)
		lctx, cancel, err := l.Hold(ctx, c.cfg.LeaderInterval)
		if err != nil {
			return
		}
		r.Run(lctx, sink)
		cancel()
	}
}
