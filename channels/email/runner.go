package email

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
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
//	→ in UID order, chunks of up to chunkMails/chunkBytes: one UID FETCH
//	  BODY.PEEK[] per chunk, each literal through the size limit (headers
//	  only when oversized) → Parse → sink.DeliverBatch (or Deliver one by
//	  one) → cursor to the end of the chunk's committed prefix → only then
//	  \Seen / MOVE of that prefix
//	→ after the search for new mail, never before it: retry of refused
//	  \Seen / MOVE (actions.go)
//	→ IDLE, ended after PollInterval (or poll) → next pass.
//
// Any error (a failed delivery included) but a server's refusal of \Seen
// or MOVE ends the connection; Run reconnects with exponential backoff
// (back to its start after a pass that completed) and the cursor makes the
// next pass start at the
// first message that was not committed, so nothing is skipped; what
// committed behind a failure is fetched again and dropped by the sink's
// dedupe, so nothing is doubled. A watchdog closes the connection when a
// command hangs, since go-imap/v2 has no read deadline between responses.
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
	// backlog is the mail the current pass found on the server that is not
	// committed yet; lastPass is when a pass last went through to the end.
	backlog  int64
	lastPass time.Time
	// failedUID/failures count consecutive Deliver failures of one message
	// across reconnects (poison-message detection).
	failedUID imap.UID
	failures  int

	acts actionState
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

// Progress reports the mail found on the server by the current pass and
// not committed yet, and when a pass last completed (zero: never).
func (r *Runner) Progress() (backlog int64, lastPass time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.backlog, r.lastPass
}

func (r *Runner) setBacklog(n int64) {
	r.mu.Lock()
	r.backlog = n
	r.mu.Unlock()
}

// Run imports mail until ctx ends; it returns nil then.
func (r *Runner) Run(ctx context.Context, sink channels.Sink) error {
	// Once Run returns this process imports nothing from the mailbox (shut
	// down, or another replica leads it): it has no backlog to report.
	defer r.setBacklog(0)
	backoff := time.Second
	var outage channels.OutageLog
	for ctx.Err() == nil {
		start := time.Now()
		err := r.session(ctx, sink)
		r.setState(channels.StateDown)
		if ctx.Err() != nil {
			return nil
		}
		// A session that completed a pass, or lasted, was a recovery: the
		// next failure starts the backoff over and is warned about.
		if _, last := r.Progress(); last.After(start) || time.Since(start) > 2*time.Minute {
			backoff = time.Second
			outage.Recovered()
		}
		lvl, n := outage.Failed(err)
		r.log.Log(ctx, lvl, "email: mailbox connection ended, reconnecting", "error", err, "backoff", backoff, "failures", n)
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

	if err := r.prepareTarget(ctx, c); err != nil {
		return err
	}
	stop := watchdog(c, r.cfg.CommandTimeout)
	sel, err := c.Select(r.box.Folder, nil).Wait()
	stop()
	if err != nil {
		return fmt.Errorf("select: %w", err)
	}
	r.setState(channels.StateUp)
	idle := (c.Caps().Has(imap.CapIdle) || c.Caps().Has(imap.CapIMAP4rev2)) && !r.cfg.PollOnly && r.box.idle()
	r.log.Info("email: mailbox connected", "messages", sel.NumMessages, "idle", idle, "poll_interval", r.box.PollInterval)
	for first := true; ; first = false {
		if err := r.pass(ctx, c, sel.UIDValidity, sink, first); err != nil {
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

// wait blocks until the server reports new mail, the poll interval passes,
// or the connection dies. IDLE ends after the poll interval too: some
// servers announce new mail during IDLE late (Cyrus without idled checks
// once a minute) or never, and the next pass's UID SEARCH finds it anyway.
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
		case <-time.After(r.box.PollInterval):
		}
		stop := watchdog(c, r.cfg.CommandTimeout)
		defer stop()
		return c.Noop().Wait()
	}
	cmd, err := c.Idle()
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	t := time.NewTimer(min(r.box.PollInterval, r.cfg.IdleRestart))
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

// Body fetches are chunked: one UID FETCH, one parse fan-out and one sink
// batch per chunk, which the bot stores in one request, so a chunk costs
// one commit (with the cursor advance of the chunk before it,
// GroupTxWithNext). 512 mails: measured on 10,000 (four interleaved runs
// each), app/raw 0.51–0.55 against 0.48–0.51 with 256, and no better with
// 1,024; the commit (an fsync and the hot pages of every table and index)
// is what a bigger chunk spreads. A chunk the bot has to store one mail at
// a time takes two of the store's group commits (maxGroup). 8 MiB bounds
// what a chunk holds in memory (raw mail plus its parse) and, with the
// 64 KiB/s allowance, keeps one command's watchdog near two minutes on top
// of CommandTimeout. A mail larger than the budget gets a chunk of its
// own.
const (
	chunkMails = 512
	chunkBytes = 8 << 20
	// firstChunk is the first chunk of a pass; each next one doubles up
	// to chunkMails.
	firstChunk = 32
)

// item is one message of a chunk on its way to the sink.
type item struct {
	p         pending
	oversized bool      // RFC822.SIZE above MaxMessageBytes: headers only
	found     bool      // the server returned it (false: expunged meanwhile)
	truncated bool      // the body was longer than RFC822.SIZE said and the limit
	date      time.Time // INTERNALDATE: when the server received it
	raw       []byte
	in        channels.Inbound
}

// delivery is one chunk handed to the sink; done closes when every message
// of it has an outcome in errs.
type delivery struct {
	items []*item
	errs  []error
	done  chan struct{}
}

// pass imports every message above the cursor, in UID order, a chunk at a
// time. While the sink commits chunk n, chunk n+1 is fetched and parsed; it
// is handed over only once every message of chunk n has its outcome, so the
// sink sees UID order and a failure stops the pass before anything behind
// it is delivered.
//
// Refused post-import work is retried at the end, after the search for new
// mail (retryPending); first is the session's first pass, which also
// finishes mail committed before a crash or a lost connection.
func (r *Runner) pass(ctx context.Context, c *imapclient.Client, validity uint32, sink channels.Sink, first bool) error {
	last, err := r.cursor(ctx, validity)
	if err != nil {
		return err
	}
	uids, err := r.newUIDs(c, last)
	if err != nil {
		return err
	}
	r.setBacklog(int64(len(uids)))

	ip := &importPass{r: r, ctx: ctx, c: c, validity: validity, sink: sink}
	var todo []pending // sized, not yet fetched
	limit := firstChunk
	sizedFirst := false
	for len(todo) > 0 || len(uids) > 0 {
		if err := ctx.Err(); err != nil {
			return errors.Join(err, ip.finish())
		}
		// Sizes come in two FETCHes: the first chunkMails, then the rest.
		// The first chunks are on their way to the store after a small
		// FETCH, not after one that sizes the whole backlog (50 ms for
		// 10,000 mails here, with the store idle); that one runs while the
		// store writes them. (A FETCH per chunk costs more than it saves:
		// each is a few ms of Dovecot's time on the fetching path.)
		for len(todo) < limit && len(uids) > 0 {
			n := len(uids)
			if !sizedFirst {
				n, sizedFirst = min(n, chunkMails), true
			}
			sized, err := r.sizes(c, uids[:n])
			if err != nil {
				return errors.Join(err, ip.finish())
			}
			todo, uids = append(todo, sized...), uids[n:]
		}
		if len(todo) == 0 {
			break // the rest was expunged meanwhile
		}
		items, bytes := r.nextChunk(todo, limit)
		todo = todo[len(items):]
		// The first chunks are small and double: the store starts on the
		// first few mails while the next, bigger chunk is fetched.
		limit = min(2*limit, chunkMails)
		if ip.flight != nil && ip.flightBytes+bytes > 2*chunkBytes {
			// Big mail: settle the chunk at the sink before fetching
			// this one, so two of them are never in memory at once.
			if err := ip.settle(nil); err != nil {
				return errors.Join(err, ip.finish())
			}
		}
		if err := r.fetchChunk(c, items); err != nil {
			return errors.Join(fmt.Errorf("fetch bodies: %w", err), ip.finish())
		}
		r.parseChunk(items, validity, sink)
		if err := ip.settle(items); err != nil {
			return errors.Join(err, ip.finish())
		}
		ip.flightBytes = bytes
	}
	if err := ip.finish(); err != nil {
		return err
	}
	r.mu.Lock()
	r.backlog, r.lastPass = 0, time.Now()
	r.mu.Unlock()
	return r.retryPending(ctx, c, max(last, uint32(ip.upto)), first)
}

// importPass is one pass's pipeline: at most one chunk at the sink
// (flight) and the cursor advance for the chunk before it (adv). The next
// chunk is fetched while one is at the sink unless the two together exceed
// 2×chunkBytes (mail larger than the budget is not pipelined).
type importPass struct {
	r        *Runner
	ctx      context.Context
	c        *imapclient.Client
	validity uint32
	sink     channels.Sink
	flight   *delivery
	adv      <-chan error
	// flightBytes is the size of the chunk at the sink.
	flightBytes int64
	// upto is the highest UID this pass committed (with everything
	// before it).
	upto imap.UID
}

// settle waits for the chunk at the sink and makes its committed prefix
// final: the cursor moves to the highest UID up to which every message of
// the chunk committed (a duplicate counts: it was committed before; so
// does an expunged UID), and only those messages are flagged or moved.
// Committed mail behind a failure is not covered by the cursor: the next
// pass fetches it again and the sink drops it as a duplicate, so an earlier
// mail is never skipped because a later one committed. The first failure
// goes through the poison fallback when due; otherwise settle returns it
// and next is not delivered. Else next (nil at the end) goes to the sink at
// once, queued behind the cursor advance so the two share a group commit,
// and the flags are set while the sink works on it.
func (ip *importPass) settle(next []*item) error {
	r, d := ip.r, ip.flight
	ip.flight = nil
	if d == nil {
		if next != nil {
			ip.flight = r.deliver(ip.ctx, ip.sink, next)
		}
		return nil
	}
	<-d.done
	if ip.flightBytes >= chunkBytes/2 {
		// Big mail is garbage once stored. The service runs the collector
		// lazily (GOGC=400, gc.go), which would let several such chunks
		// pile up towards the memory limit before collecting; one
		// collection per big chunk keeps the peak where a single chunk
		// puts it (TestEmailLargeMessageRSSFlat), and costs milliseconds
		// against the seconds such a chunk takes.
		defer runtime.GC()
	}
	upto, done, failed := r.prefix(ip.ctx, ip.sink, d)
	if ip.adv != nil {
		// Queued before d went to the sink, so already committed.
		failed = errors.Join(failed, <-ip.adv)
		ip.adv = nil
	}
	if upto != 0 {
		// Not cancellable: the mail up to upto is committed, and a runner
		// that is stopping (shutdown, lost leadership) still records that
		// before it lets go, or the next leader fetches it all again.
		// WithNext: the writer is idle now and would commit the advance
		// alone, a moment before next arrives; this way they share one
		// commit.
		actx := context.WithoutCancel(ip.ctx)
		ip.adv = r.db.GroupTxWithNext(actx, func(tx *store.Tx) error { return r.advance(actx, tx, ip.validity, upto) })
	}
	if failed == nil && next != nil {
		ip.flight = r.deliver(ip.ctx, ip.sink, next)
	}
	if upto > ip.upto {
		ip.upto = upto
	}
	// Flagging needs only the messages' commits, not the cursor's: after a
	// crash before the cursor commits they are fetched again as duplicates.
	return errors.Join(failed, r.postImport(ip.ctx, ip.c, done))
}

// finish settles the last chunk and waits for the cursor to commit.
func (ip *importPass) finish() error {
	err := ip.settle(nil)
	if ip.adv != nil {
		err = errors.Join(err, <-ip.adv)
		ip.adv = nil
	}
	return err
}

// newUIDs lists the mailbox's UIDs above last, ascending: one UID SEARCH,
// answered as ranges where the server has ESEARCH (a few bytes for a
// backlog of thousands).
func (r *Runner) newUIDs(c *imapclient.Client, last uint32) ([]imap.UID, error) {
	var set imap.UIDSet
	set.AddRange(imap.UID(last+1), 0) // last+1:*
	var opts *imap.SearchOptions
	if c.Caps().Has(imap.CapESearch) || c.Caps().Has(imap.CapIMAP4rev2) {
		opts = &imap.SearchOptions{ReturnAll: true}
	}
	stop := watchdog(c, r.cfg.CommandTimeout)
	data, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, opts).Wait()
	stop()
	if err != nil {
		return nil, fmt.Errorf("search new mail: %w", err)
	}
	var uids []imap.UID
	for _, uid := range data.AllUIDs() {
		// "n:*" always matches the highest UID, even below n.
		if uint32(uid) > last {
			uids = append(uids, uid)
		}
	}
	slices.Sort(uids)
	return slices.Compact(uids), nil
}

// sizes fetches the sizes of uids (ascending; the size check comes before
// any body is read); a UID expunged meanwhile is left out. The arrival date
// comes with the body: asked here, Dovecot stats every maildir file once
// more.
func (r *Runner) sizes(c *imapclient.Client, uids []imap.UID) ([]pending, error) {
	stop := watchdog(c, r.cfg.CommandTimeout)
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	stop()
	if err != nil {
		return nil, fmt.Errorf("fetch sizes: %w", err)
	}
	todo := make([]pending, 0, len(msgs))
	for _, m := range msgs {
		// Only what was asked (a server may add unsolicited FETCH data
		// for other messages).
		if _, asked := slices.BinarySearch(uids, m.UID); asked {
			todo = append(todo, pending{uid: m.UID, size: m.RFC822Size})
		}
	}
	slices.SortFunc(todo, func(a, b pending) int { return cmp.Compare(a.uid, b.uid) })
	// Once each, should the server answer one twice.
	return slices.CompactFunc(todo, func(a, b pending) bool { return a.uid == b.uid }), nil
}

// nextChunk takes the next messages of todo up to limit mails and
// chunkBytes (at least one) and returns the bytes they will take.
func (r *Runner) nextChunk(todo []pending, limit int) (items []*item, bytes int64) {
	max := r.cfg.MaxMessageBytes
	for _, p := range todo {
		it := &item{p: p, oversized: p.size > max}
		size := p.size
		if it.oversized {
			size = headerMax // headers only, read through this cap
		}
		if len(items) > 0 && (len(items) >= limit || bytes+size > chunkBytes) {
			break
		}
		items = append(items, it)
		bytes += size
	}
	return items, bytes
}

// headerMax caps the header block read of an oversized mail. A mail that is
// all header (no blank line, or a padded header) would otherwise be read
// whole, and a chunk of such mail would hold chunkMails × MaxMessageBytes.
// Real header blocks are a few KiB; what is cut is padding.
const headerMax = 64 << 10

// fetchChunk fetches the chunk's bodies with one UID FETCH BODY.PEEK[] (and
// the headers of its oversized mail with one BODY.PEEK[HEADER]), each
// literal streamed through the size limit. A UID the server does not return
// was expunged meanwhile and stays !found.
func (r *Runner) fetchChunk(c *imapclient.Client, items []*item) error {
	max := r.cfg.MaxMessageBytes
	byUID := make(map[imap.UID]*item, len(items))
	var full, head []imap.UID
	var bytes int64
	for _, it := range items {
		byUID[it.p.uid] = it
		if it.oversized {
			head = append(head, it.p.uid)
		} else {
			full = append(full, it.p.uid)
			bytes += it.p.size
		}
	}
	for _, f := range []struct {
		uids    []imap.UID
		section *imap.FetchItemBodySection
		bytes   int64
		max     int64
	}{
		{full, &imap.FetchItemBodySection{Peek: true}, bytes, max},
		{head, &imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader}, int64(len(head)) * headerMax, min(headerMax, max)},
	} {
		if len(f.uids) == 0 {
			continue
		}
		// Allow slow links about 64 KiB/s on top of the command timeout.
		stop := watchdog(c, r.cfg.CommandTimeout+time.Duration(f.bytes/(64<<10))*time.Second)
		err := fetchSection(c, f.uids, f.section, f.max, byUID)
		stop()
		if err != nil {
			return err
		}
	}
	return nil
}

// fetchSection streams one section of several messages through the
// per-message size limit into their items.
func fetchSection(c *imapclient.Client, uids []imap.UID, section *imap.FetchItemBodySection, max int64, byUID map[imap.UID]*item) error {
	cmd := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{section}})
	defer cmd.Close()
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		var (
			uid       imap.UID
			raw       []byte
			got       bool
			truncated bool
			date      time.Time
		)
		for {
			fi := msg.Next()
			if fi == nil {
				break
			}
			switch fi := fi.(type) {
			case imapclient.FetchItemDataUID:
				uid = fi.UID
			case imapclient.FetchItemDataInternalDate:
				date = fi.Time
			case imapclient.FetchItemDataBodySection:
				if fi.Literal == nil || got {
					continue
				}
				got = true
				// A literal announces its length: read at most max bytes
				// of it into one buffer of exactly that size (a growing
				// buffer would double a 25 MB mail); go-imap discards the
				// rest of a longer one.
				size := fi.Literal.Size()
				raw = make([]byte, min(size, max))
				if _, err := io.ReadFull(fi.Literal, raw); err != nil {
					return err
				}
				truncated = size > max
			}
		}
		// Unsolicited FETCH data (a flag change) has no body; a UID we did
		// not ask for, or a second answer for one, is ignored.
		if it := byUID[uid]; it != nil && got && !it.found {
			it.raw, it.truncated, it.found, it.date = raw, truncated, true, date
		}
	}
	return cmd.Close()
}

// parseChunk turns the fetched mail into Inbound values, on up to four
// goroutines; each result stays in its item, so UID order is kept. A sink
// that has pure work of its own (channels.Preparer) gets it done here too,
// while it is still storing the chunk before.
func (r *Runner) parseChunk(items []*item, validity uint32, sink channels.Sink) {
	prep, _ := sink.(channels.Preparer)
	workers := min(runtime.GOMAXPROCS(0), 4, len(items))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(items) {
					return
				}
				if it := items[i]; it.found {
					it.in = r.inbound(it, validity)
					it.raw = nil // in.Raw holds what is kept
					if prep != nil {
						prep.Prepare(&it.in)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// inbound parses one fetched message and adds the mailbox's facts.
func (r *Runner) inbound(it *item, validity uint32) channels.Inbound {
	max := r.cfg.MaxMessageBytes
	raw, oversized := it.raw, it.oversized
	if it.truncated {
		// The server's RFC822.SIZE was smaller than the message.
		oversized = true
		hb, _ := splitHeader(raw)
		raw = append(hb[:len(hb):len(hb)], "\r\n"...)
	}
	popts := r.cfg.Parse
	popts.ReceivedAt = it.date
	popts.OwnAddresses = r.own
	in := Parse(raw, popts)
	if oversized {
		in.Oversized = true
		in.Text = strings.TrimSpace(fmt.Sprintf("[Pesan ini terlalu besar (%s, batas %s); hanya header yang disimpan. Mohon kirim ulang dengan lampiran lebih kecil. / This message is too large (%s, limit %s); only its headers were imported.]\n\n%s",
			humanSize(int(it.p.size)), humanSize(int(max)), humanSize(int(it.p.size)), humanSize(int(max)), in.Text))
	}
	in.To = r.box.Address
	in.Meta[MetaMailbox] = r.box.Address
	in.Meta[MetaUIDValidity] = strconv.FormatUint(uint64(validity), 10)
	in.Meta[MetaUID] = strconv.FormatUint(uint64(it.p.uid), 10)
	in.Retired, in.Notice = r.box.Retired, r.box.Notice
	// The cursor is advanced once the chunk is settled, to the end of its
	// committed prefix (see settle), not with each mail.
	return in
}

// deliver hands the chunk's fetched mail to the sink in the background
// (see handOver); settle reads the outcomes.
func (r *Runner) deliver(ctx context.Context, sink channels.Sink, items []*item) *delivery {
	d := &delivery{items: items, errs: make([]error, len(items)), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		handOver(ctx, sink, items, d.errs)
	}()
	return d
}

// handOver delivers the fetched mail among items to the sink in UID order:
// as one DeliverBatch when the sink takes batches (shared commits), else
// Deliver one by one. errs[i] gets items[i]'s outcome. A batch sink may
// leave the mail behind a failure untried (channels.ErrNotAttempted).
func handOver(ctx context.Context, sink channels.Sink, items []*item, errs []error) {
	var ins []channels.Inbound
	var idx []int
	for i, it := range items {
		if it.found {
			ins = append(ins, it.in)
			idx = append(idx, i)
		}
	}
	if len(ins) == 0 {
		return
	}
	var out []error
	if b, ok := sink.(channels.BatchSink); ok {
		out = b.DeliverBatch(ctx, ins)
	} else {
		out = make([]error, len(ins))
		for k, in := range ins {
			out[k] = sink.Deliver(ctx, in)
		}
	}
	for k, i := range idx {
		if k < len(out) {
			errs[i] = out[k]
		} else {
			errs[i] = errors.New("email: sink returned no outcome")
		}
	}
}

// prefix reads a settled chunk's outcomes in UID order and returns the end
// of its committed prefix, the committed mail in it to flag or move, and
// the failure that ends it (nil when the whole chunk committed).
func (r *Runner) prefix(ctx context.Context, sink channels.Sink, d *delivery) (upto imap.UID, done []imap.UID, failed error) {
	var n, settled int64 // stored now; off the backlog (stored or vanished)
	for i, it := range d.items {
		uid := it.p.uid
		if !it.found {
			r.log.Info("email: message vanished before it was fetched", "uid", uint32(uid))
			upto = uid
			settled++
			continue
		}
		if errors.Is(d.errs[i], channels.ErrNotAttempted) {
			// Every mail before this one is stored (a failed one was
			// rescued, or the loop would have stopped there): hand the
			// rest of the chunk over again, in order, now.
			handOver(ctx, sink, d.items[i:], d.errs[i:])
		}
		if err := d.errs[i]; err != nil && !r.rescue(ctx, sink, it, err) {
			failed = fmt.Errorf("deliver: %w", err)
			break
		}
		r.clearFailures(uid)
		upto = uid
		done = append(done, uid)
		n++
		settled++
	}
	r.mu.Lock()
	r.imported += n
	r.backlog = max(0, r.backlog-settled)
	r.mu.Unlock()
	return upto, done, failed
}

// rescue handles a failed delivery: a message that fails again and again
// while the database answers is the message's fault, not the database's, so
// it is stored as an unparseable mail (raw kept, flagged for an operator)
// and never blocks the mail behind it. It reports whether the message is
// now stored.
func (r *Runner) rescue(ctx context.Context, sink channels.Sink, it *item, err error) bool {
	// A full disk is the database's fault, not the mail's, though the
	// database still answers pings: the mail waits, unflagged, for space.
	if ctx.Err() != nil || store.IsStorageFull(err) || !r.poisoned(it.p.uid) || r.db.SQL.PingContext(ctx) != nil {
		return false
	}
	r.log.Error("mail keeps failing; storing it raw for an operator", "uid", uint32(it.p.uid), "err", err)
	in := it.in
	fallback := channels.Inbound{Channel: in.Channel, ExternalID: in.ExternalID, From: in.From, To: in.To,
		Subject: in.Subject, Text: "(Pesan ini tidak dapat diproses otomatis; lihat lampiran asli. / This message could not be processed; see the original attached.)",
		ReceivedAt: in.ReceivedAt, Unparseable: true, AutoGenerated: true, Raw: in.Raw, Meta: in.Meta}
	if fallback.From == "" {
		fallback.From = "unknown@invalid"
	}
	return sink.Deliver(ctx, fallback) == nil
}

// afterImport flags or moves committed mail. A failure here leaves the
// mail unflagged but never re-imported (the cursor has moved): it is
// pending work (actions.go).
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
