package email

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"lindungi/channels"
)

// A message that cannot be sent because of our own configuration (the
// relay refuses our credentials, wants a login we do not have, offers
// none of our mechanisms; no mailbox can send) is kept queued by the
// outbox without spending attempts (ErrNotReady), so it goes out once the
// configuration is fixed. Such a wait must never be silent: each cause is
// logged at WARN once per minute per mailbox, counted, and /readyz shows
// how long the oldest such message has waited.

// configError is a send that failed for a configuration reason.
type configError struct {
	cause string // stable code for metrics and /readyz
	err   error
}

// Causes of configError.
const (
	causeAuthRejected  = "auth_rejected"  // the relay refused our login
	causeAuthRequired  = "auth_required"  // the relay wants a login we did not give
	causeAuthMechanism = "auth_mechanism" // the relay offers AUTH, but not ours
	causeSecret        = "secret"         // the password or token file cannot be read
	causeNoRelay       = "no_smtp_url"    // no mailbox has an smtp_url
)

func (e *configError) Error() string { return "email: " + e.err.Error() }

// Unwrap makes it ErrNotReady for the outbox (keep queued, no attempt
// spent) and keeps the relay's answer reachable.
func (e *configError) Unwrap() []error { return []error{e.err, channels.ErrNotReady} }

// sendWarnEvery is how often one cause of a stuck send is warned about
// again while it lasts (the outbox retries it every two seconds).
const sendWarnEvery = time.Minute

// stuckForget drops a stuck message the outbox has not retried for this
// long (deleted, erased, or sent by another replica).
const stuckForget = 10 * time.Minute

// sendHealth tracks configuration failures per sending mailbox.
type sendHealth struct {
	mu     sync.Mutex
	boxes  map[string]*sendState // by mailbox address ("" when none can send)
	warned causeLog
}

type sendState struct {
	cause, err string
	since      time.Time
	failures   map[string]int64 // by cause, since start
	stuck      map[string]stuckMsg
}

type stuckMsg struct{ created, seen time.Time }

// SendHealth is what /readyz and the metrics show about one mailbox's
// sending.
type SendHealth struct {
	Mailbox  string
	Cause    string // "" when the last attempt did not fail for configuration
	Error    string
	Since    time.Time
	Stuck    int           // messages waiting for the configuration to be fixed
	Oldest   time.Duration // how long the oldest of them has waited
	Failures map[string]int64
}

func (h *sendHealth) state(box string) *sendState {
	if h.boxes == nil {
		h.boxes = map[string]*sendState{}
	}
	st := h.boxes[box]
	if st == nil {
		st = &sendState{failures: map[string]int64{}, stuck: map[string]stuckMsg{}}
		h.boxes[box] = st
	}
	return st
}

// failed records msg as stuck behind ce and logs it (WARN once per cause
// per minute per mailbox, DEBUG in between).
func (h *sendHealth) failed(ctx context.Context, log *slog.Logger, box string, msg channels.Outbound, ce *configError, now time.Time) {
	h.mu.Lock()
	st := h.state(box)
	st.failures[ce.cause]++
	if st.cause == "" {
		st.since = now
	}
	st.cause, st.err = ce.cause, ce.err.Error()
	created := msg.CreatedAt
	if created.IsZero() {
		created = now
	}
	if len(st.stuck) < 10000 {
		st.stuck[msg.ID] = stuckMsg{created: created, seen: now}
	} else if m, ok := st.stuck[msg.ID]; ok {
		m.seen = now
		st.stuck[msg.ID] = m
	}
	n, oldest := st.prune(now)
	lvl := slog.LevelDebug
	if h.warned.due(box+"\x00"+ce.cause+"\x00"+st.err, now, sendWarnEvery) {
		lvl = slog.LevelWarn
	}
	h.mu.Unlock()
	log.Log(ctx, lvl, "email: cannot send for a configuration reason; the message stays queued until it is fixed",
		"channel", channels.Email, "mailbox_id", hashAddr(box), "cause", ce.cause, "error", ce.err.Error(),
		"outbox_id", msg.ID, "stuck", n, "oldest_waiting", oldest.Round(time.Second))
}

// ok records a message sent from box: its configuration works, nothing of
// it is stuck any more.
func (h *sendHealth) ok(box string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st := h.boxes[box]; st != nil && (st.cause != "" || len(st.stuck) > 0) {
		st.cause, st.err, st.since = "", "", time.Time{}
		clear(st.stuck)
	}
}

// prune forgets stuck messages the outbox no longer retries and returns
// how many are left and the age of the oldest.
func (st *sendState) prune(now time.Time) (n int, oldest time.Duration) {
	for id, m := range st.stuck {
		if now.Sub(m.seen) > stuckForget {
			delete(st.stuck, id)
			continue
		}
		oldest = max(oldest, now.Sub(m.created))
	}
	if len(st.stuck) == 0 {
		st.cause, st.err, st.since = "", "", time.Time{}
	}
	return len(st.stuck), oldest
}

// health reports every mailbox that has had a configuration failure.
func (h *sendHealth) health(now time.Time) []SendHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []SendHealth
	for box, st := range h.boxes {
		n, oldest := st.prune(now)
		f := make(map[string]int64, len(st.failures))
		for k, v := range st.failures {
			f[k] = v
		}
		out = append(out, SendHealth{Mailbox: box, Cause: st.cause, Error: st.err, Since: st.since, Stuck: n, Oldest: oldest, Failures: f})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Mailbox < out[j].Mailbox })
	return out
}
