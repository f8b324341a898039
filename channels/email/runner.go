package email

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"lindungi/channels"
	"lindungi/store"
)

// Runner reads one mailbox folder. It owns one goroutine (Run) and one IMAP
// connection at a time; go-imap's reader goroutine belongs to that
// connection. The loop (see notes/email-ingest.md):
//
//	connect → SELECT → cursor for (mailbox, folder, UIDVALIDITY)
//	→ UID FETCH last+1:* (UID RFC822.SIZE INTERNALDATE), UIDs ≤ last dropped
//	→ per message, in UID order: BODY.PEEK[] through a size limit (headers
//	  only when oversized) → Parse → sink.Deliver with InTx advancing the
//	  cursor in the sink's transaction → only then \Seen / MOVE
//	→ IDLE (re-issued every IdleRestart) or poll → next pass.
//
// Any error (a failed Deliver included) ends the connection; Run reconnects
// with exponential backoff and the cursor makes the next pass start at the
// first message that was not committed, so nothing is skipped or doubled.
// A watchdog closes the connection when a command hangs, since go-imap/v2
// has no read deadline between responses.
type Runner struct {
	box  MailboxConfig
	cfg  Config
	own  []string
	db   *store.DB
	log  *slog.Logger
	wake chan struct{}

	state atomic.Value // channels.State

	mu       sync.Mutex
	imported int64
	// failedUID/failures count consecutive Deliver failures of one message
	// across reconnects (poison-message detection).
	failedUID imap.UID
	failures  int
}

// poisonAfter is how many passes may fail on the same message before it is
// stored raw instead.
const poisonAfter = 3

// poisoned records a failure of uid and reports whether it has now failed
// poisonAfter times in a row.
func (r *Runner) poisoned(uid imap.UID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failedUID != uid {
		r.failedUID, r.failures = uid, 0
	}
	r.failures++
	return r.failures >= poisonAfter
}

func (r *Runner) clearFailures(uid imap.UID) {
	r.mu.Lock()
	if r.failedUID == uid {
		r.failures = 0
	}
	r.mu.Unlock()
}

func newRunner(box MailboxConfig, cfg Config, own []string, db *store.DB, log *slog.Logger) *Runner {
	r := &Runner{box: box, cfg: cfg, own: own, db: db, wake: make(chan struct{}, 1),
		log: log.With("channel", channels.Email, "mailbox_id", hashAddr(box.Address+"/"+box.Folder))}
	r.state.Store(channels.StateDown)
	return r
}

// NewRunner builds a Runner for one mailbox outside a Channel (tools, tests).
func NewRunner(box MailboxConfig, cfg Config, db *store.DB, log *slog.Logger) (*Runner, error) {
	cfg.Mailboxes = []MailboxConfig{box}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return newRunner(cfg.Mailboxes[0], cfg, []string{cfg.Mailboxes[0].Address}, db, log), nil
}

// State is the connection state.
func (r *Runner) State() channels.State { return r.state.Load().(channels.State) }

func (r *Runner) setState(s channels.State) { r.state.Store(s) }

// Imported counts messages delivered since start.
func (r *Runner) Imported() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.imported
}

// Run imports mail until ctx ends; it returns nil then.
func (r *Runner) Run(ctx context.Context, sink channels.Sink) error {
	backoff := time.Second
	for ctx.Err() == nil {
		start := time.Now()
		err := r.session(ctx, sink)
		r.setState(channels.StateDown)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 2*time.Minute {
			backoff = time.Second
		}
		r.log.Warn("email: mailbox connection ended, reconnecting", "error", err, "backoff", backoff)
		// Full jitter keeps replicas and mailboxes from reconnecting in step.
		d := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
		backoff = min(backoff*2, r.cfg.MaxBackoff)
	}
	return nil
}

// watchdog closes the client if the returned stop is not called within d.
func watchdog(c *imapclient.Client, d time.Duration) (stop func() bool) {
	t := time.AfterFunc(d, func() { c.Close() })
	return t.Stop
}

func (r *Runner) dial(ctx context.Context) (*imapclient.Client, error) {
	su, err := parseServerURL(r.box.IMAPURL, "imap")
	if err != nil {
		return nil, err
	}
	opts := &imapclient.Options{
		TLSConfig: r.tlsConfig(su.Host),
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			// Runs on go-imap's reader goroutine: never issue commands
			// here, only nudge the loop.
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case r.wake <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", su.Addr)
	if err != nil {
		return nil, err
	}
	var c *imapclient.Client
	switch {
	case su.TLS:
		c = imapclient.New(tlsClient(conn, opts.TLSConfig), opts)
	case su.StartTLS:
		// The greeting and STARTTLS can hang too.
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(r.cfg.CommandTimeout):
				conn.Close()
			}
		}()
		c, err = imapclient.NewStartTLS(conn, opts)
		close(done)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	default:
		c = imapclient.New(conn, opts)
	}
	stop := watchdog(c, r.cfg.CommandTimeout)
	defer stop()
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	pass, tok, err := r.box.secret()
	if err != nil {
		c.Close()
		return nil, err
	}
	user := r.box.Username
	if su.User != "" {
		user = su.User
		if su.Pass != "" {
			pass = su.Pass
		}
	}
	if tok != "" {
		err = c.Authenticate(xoauth2{user, tok})
	} else {
		err = c.Login(user, pass).Wait()
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("login: %w", err)
	}
	return c, nil
}

func (r *Runner) session(ctx context.Context, sink channels.Sink) error {
	c, err := r.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	// Cancelling ctx closes the connection, which unblocks every wait.
	defer context.AfterFunc(ctx, func() { c.Close() })()

	stop := watchdog(c, r.cfg.CommandTimeout)
	if dest, ok := strings.CutPrefix(r.box.AfterImport, "move:"); ok {
		// Make sure the destination exists; "already exists" is fine.
		_ = c.Create(dest, nil).Wait()
	}
	sel, err := c.Select(r.box.Folder, nil).Wait()
	stop()
	if err != nil {
		return fmt.Errorf("select: %w", err)
	}
	r.setState(channels.StateUp)
	idle := (c.Caps().Has(imap.CapIdle) || c.Caps().Has(imap.CapIMAP4rev2)) && !r.cfg.PollOnly
	r.log.Info("email: mailbox connected", "messages", sel.NumMessages, "idle", idle)
	for {
		if err := r.pass(ctx, c, sel.UIDValidity, sink); err != nil {
			return err
		}
		if err := r.wait(ctx, c, idle); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// wait blocks until the server reports new mail, the IDLE restart or poll
// interval passes, or the connection dies.
func (r *Runner) wait(ctx context.Context, c *imapclient.Client, idle bool) error {
	// A wake-up left over from the pass is kept on purpose: the mail it
	// announced may have arrived after the pass's FETCH. The cost is one
	// extra, usually empty, pass.
	if !idle {
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-c.Closed():
			return errors.New("connection closed")
		case <-time.After(r.cfg.PollInterval):
		}
		stop := watchdog(c, r.cfg.CommandTimeout)
		defer stop()
		return c.Noop().Wait()
	}
	cmd, err := c.Idle()
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	t := time.NewTimer(r.cfg.IdleRestart)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-r.wake:
	case <-t.C:
	case <-c.Closed():
		return errors.New("connection closed during IDLE")
	}
	stop := watchdog(c, r.cfg.CommandTimeout)
	defer stop()
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("idle done: %w", err)
	}
	return cmd.Wait()
}

type pending struct {
	uid  imap.UID
	size int64
	date time.Time
}

// cursor returns the last committed UID for this UIDVALIDITY.
func (r *Runner) cursor(ctx context.Context, validity uint32) (uint32, error) {
	var last int64
	err := r.db.QueryRow(ctx, `SELECT last_uid FROM email_cursors WHERE mailbox = ? AND folder = ? AND uidvalidity = ?`,
		r.box.Address, r.box.Folder, int64(validity)).Scan(&last)
	if err == nil {
		return uint32(last), nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	var other int
	if err := r.db.QueryRow(ctx, `SELECT COUNT(*) FROM email_cursors WHERE mailbox = ? AND folder = ?`, r.box.Address, r.box.Folder).Scan(&other); err == nil && other > 0 {
		r.log.Warn("email: UIDVALIDITY changed, rescanning the folder (duplicates are dropped by content)")
	}
	return 0, nil
}

// advanceSQL never moves a cursor backwards.
const advanceSQL = `INSERT INTO email_cursors (mailbox, folder, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (mailbox, folder, uidvalidity) DO UPDATE SET
  last_uid = CASE WHEN excluded.last_uid > email_cursors.last_uid THEN excluded.last_uid ELSE email_cursors.last_uid END,
  updated_at = excluded.updated_at`

func (r *Runner) advance(ctx context.Context, tx *store.Tx, validity uint32, uid imap.UID) error {
	_, err := tx.Exec(ctx, advanceSQL, r.box.Address, r.box.Folder, int64(validity), int64(uid), store.Now())
	if err != nil {
		return fmt.Errorf("email: advance cursor: %w", err)
	}
	return nil
}

// pass imports every message above the cursor, in UID order.
func (r *Runner) pass(ctx context.Context, c *imapclient.Client, validity uint32, sink channels.Sink) error {
	last, err := r.cursor(ctx, validity)
	if err != nil {
		return err
	}
	if err := r.finishCommitted(c, last); err != nil {
		return err
	}
	var set imap.UIDSet
	set.AddRange(imap.UID(last+1), 0) // last+1:*
	stop := watchdog(c, r.cfg.CommandTimeout)
	msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true}).Collect()
	stop()
	if err != nil {
		return fmt.Errorf("fetch sizes: %w", err)
	}
	var todo []pending
	for _, m := range msgs {
		// "n:*" always matches the highest UID, even below n.
		if uint32(m.UID) <= last || m.UID == 0 {
			continue
		}
		todo = append(todo, pending{m.UID, m.RFC822Size, m.InternalDate})
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].uid < todo[j].uid })
	// Committed mail is flagged (or moved) in batches: one command per
	// flagBatch mails instead of a round trip each. A crash before the flag
	// is repaired by finishCommitted on the next pass.
	const flagBatch = 64
	var committed []imap.UID
	flush := func() error {
		err := r.afterImport(c, committed...)
		committed = committed[:0]
		return err
	}
	for _, p := range todo {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := r.importOne(ctx, c, validity, p, sink); err != nil {
			return err
		}
		if committed = append(committed, p.uid); len(committed) >= flagBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func (r *Runner) importOne(ctx context.Context, c *imapclient.Client, validity uint32, p pending, sink channels.Sink) error {
	max := r.cfg.MaxMessageBytes
	oversized := p.size > max
	section := &imap.FetchItemBodySection{Peek: true}
	if oversized {
		section.Specifier = imap.PartSpecifierHeader
	}
	// Allow slow links about 64 KiB/s on top of the command timeout.
	stop := watchdog(c, r.cfg.CommandTimeout+time.Duration(min(p.size, max)/(64<<10))*time.Second)
	raw, truncated, err := fetchBody(c, p.uid, section, max)
	stop()
	if err != nil {
		return fmt.Errorf("fetch body: %w", err)
	}
	if raw == nil {
		r.log.Info("email: message vanished before it was fetched", "uid", p.uid)
		return r.db.InTx(ctx, func(tx *store.Tx) error { return r.advance(ctx, tx, validity, p.uid) })
	}
	if truncated {
		// The server's RFC822.SIZE was smaller than the message.
		oversized = true
		hb, _ := splitHeader(raw)
		raw = append(hb[:len(hb):len(hb)], "\r\n"...)
	}
	popts := r.cfg.Parse
	popts.ReceivedAt = p.date
	popts.OwnAddresses = r.own
	in := Parse(raw, popts)
	if oversized {
		in.Meta[MetaOversized] = "1"
		in.Text = strings.TrimSpace(fmt.Sprintf("[Pesan ini terlalu besar (%s, batas %s); hanya header yang disimpan. Mohon kirim ulang dengan lampiran lebih kecil. / This message is too large (%s, limit %s); only its headers were imported.]\n\n%s",
			humanSize(int(p.size)), humanSize(int(max)), humanSize(int(p.size)), humanSize(int(max)), in.Text))
	}
	in.To = r.box.Address
	in.Meta[MetaMailbox] = r.box.Address
	in.Meta[MetaUIDValidity] = strconv.FormatUint(uint64(validity), 10)
	in.Meta[MetaUID] = strconv.FormatUint(uint64(p.uid), 10)
	if r.box.Retired {
		in.Meta[MetaRetired] = "1"
		if r.box.Notice != "" {
			in.Meta[MetaNotice] = r.box.Notice
		}
	}
	var advanced atomic.Bool
	in.InTx = func(ctx context.Context, tx *store.Tx) error {
		if err := r.advance(ctx, tx, validity, p.uid); err != nil {
			return err
		}
		advanced.Store(true)
		return nil
	}
	if err := sink.Deliver(ctx, in); err != nil {
		// A message that fails again and again while the database answers
		// is the message's fault, not the database's: store it as an
		// unparseable mail (raw kept, flagged for an operator) so it never
		// blocks the mail behind it.
		if !r.poisoned(p.uid) || r.db.SQL.PingContext(ctx) != nil {
			return fmt.Errorf("deliver: %w", err)
		}
		r.log.Error("mail keeps failing; storing it raw for an operator", "uid", uint32(p.uid), "err", err)
		fallback := channels.Inbound{Channel: in.Channel, ExternalID: in.ExternalID, From: in.From, To: in.To,
			Subject: in.Subject, Text: "(Pesan ini tidak dapat diproses otomatis; lihat lampiran asli. / This message could not be processed; see the original attached.)",
			ReceivedAt: in.ReceivedAt, Unparseable: true, AutoGenerated: true, Raw: in.Raw, Meta: in.Meta, InTx: in.InTx}
		if fallback.From == "" {
			fallback.From = "unknown@invalid"
		}
		if err2 := sink.Deliver(ctx, fallback); err2 != nil {
			return fmt.Errorf("deliver: %w", err)
		}
	}
	r.clearFailures(p.uid)
	if !advanced.Load() {
		// The sink found a duplicate and did not open a transaction.
		if err := r.db.InTx(ctx, func(tx *store.Tx) error { return r.advance(ctx, tx, validity, p.uid) }); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.imported++
	r.mu.Unlock()
	return nil
}

// fetchBody streams one section through a size limit.
func fetchBody(c *imapclient.Client, uid imap.UID, section *imap.FetchItemBodySection, max int64) (raw []byte, truncated bool, err error) {
	cmd := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	defer cmd.Close()
	found := false
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			b, ok := item.(imapclient.FetchItemDataBodySection)
			if !ok || b.Literal == nil || found {
				continue
			}
			found = true
			var buf bytes.Buffer
			n, err := io.Copy(&buf, io.LimitReader(b.Literal, max+1))
			if err != nil {
				return nil, false, err
			}
			raw, truncated = append([]byte{}, buf.Bytes()...), n > max
			if truncated {
				raw = raw[:max]
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, false, err
	}
	if !found {
		// Expunged between the two fetches: nothing to import, but the
		// cursor must still move past it.
		return nil, false, nil
	}
	return raw, truncated, nil
}

// finishCommitted repairs a crash between commit and flag: mail at or below
// the cursor is committed, so whatever of it is still unseen (or, for
// move:FOLDER, still here) gets its after-import treatment now. The cursor
// never re-imports it, so without this it would stay unflagged forever.
func (r *Runner) finishCommitted(c *imapclient.Client, last uint32) error {
	a := r.box.AfterImport
	if last == 0 || a == "keep" {
		return nil
	}
	var upto imap.UIDSet
	upto.AddRange(1, imap.UID(last))
	crit := &imap.SearchCriteria{UID: []imap.UIDSet{upto}}
	if !strings.HasPrefix(a, "move:") {
		crit.NotFlag = []imap.Flag{imap.FlagSeen}
	}
	stop := watchdog(c, r.cfg.CommandTimeout)
	data, err := c.UIDSearch(crit, nil).Wait()
	stop()
	if err != nil {
		return fmt.Errorf("search committed mail: %w", err)
	}
	var due []imap.UID
	for _, uid := range data.AllUIDs() {
		if uint32(uid) <= last {
			due = append(due, uid)
		}
	}
	return r.afterImport(c, due...)
}

// afterImport flags or moves a committed message. A failure here leaves the
// mail unflagged but never re-imported (the cursor has moved).
func (r *Runner) afterImport(c *imapclient.Client, uids ...imap.UID) error {
	if len(uids) == 0 {
		return nil
	}
	stop := watchdog(c, r.cfg.CommandTimeout)
	defer stop()
	set := imap.UIDSetNum(uids...)
	switch a := r.box.AfterImport; {
	case a == "keep":
		return nil
	case strings.HasPrefix(a, "move:"):
		if _, err := c.Move(set, strings.TrimPrefix(a, "move:")).Wait(); err != nil {
			return fmt.Errorf("move: %w", err)
		}
		return nil
	default:
		return c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	}
}
