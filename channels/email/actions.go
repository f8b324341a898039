package email

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Post-import actions (after_import: seen or move:FOLDER) come after the
// mail is stored and never stand in its way. A server may refuse them for
// a long time (a folder it will not create: quota, ACL, a mail root it may
// not write to). Refused work is kept as pending for the mailbox, counted,
// logged with the server's answer and retried with its own backoff after
// each pass's search for new mail. The cursor already covers that mail, so
// it is never fetched again: what is pending is found again on the server
// (mail at or below the cursor still unseen, or still in the folder).

// actionState is one mailbox's refused post-import work. Guarded by mu.
type actionState struct {
	mu       sync.Mutex
	pending  int64            // committed mail whose action is outstanding
	failures map[string]int64 // refused commands since start, by action
	cause    string           // the server's answer to the last attempt; "" once one succeeds
	since    time.Time        // when cause first appeared
	retryAt  time.Time
	backoff  time.Duration
	// needCreate: the move's folder is missing (its CREATE was refused,
	// or a MOVE answered TRYCREATE); create it before the next move.
	needCreate bool
	warned     causeLog
}

// ActionHealth is what /readyz and the metrics show about a mailbox's
// post-import actions.
type ActionHealth struct {
	Action   string    // seen, move or keep
	Pending  int64     // committed mail not yet flagged or moved
	Failures int64     // refused commands since start
	Error    string    // the server's last refusal; "" when the last attempt succeeded
	Since    time.Time // when Error first appeared
}

// Degraded reports whether the server is refusing the action now.
func (h ActionHealth) Degraded() bool { return h.Error != "" || h.Pending > 0 }

// causeLog limits warnings to once per cause per period: a refusal that
// lasts for hours is visible at once, and again each period, not at every
// retry.
type causeLog struct {
	last map[string]time.Time
}

// due reports whether cause should be warned about now, and records it.
func (l *causeLog) due(cause string, now time.Time, every time.Duration) bool {
	if l.last == nil || len(l.last) > 1000 {
		l.last = map[string]time.Time{}
	}
	if t, ok := l.last[cause]; ok && now.Sub(t) < every {
		return false
	}
	l.last[cause] = now
	return true
}

// actionWarnEvery is how often one cause of refused post-import work is
// warned about again while it lasts.
const actionWarnEvery = time.Hour

// action names the mailbox's after-import action for logs and metrics.
func (r *Runner) action() string {
	if strings.HasPrefix(r.box.AfterImport, "move:") {
		return "move"
	}
	return r.box.AfterImport
}

// moveTarget is the folder of after_import move:FOLDER ("" otherwise).
func (r *Runner) moveTarget() string {
	dest, _ := strings.CutPrefix(r.box.AfterImport, "move:")
	if dest == r.box.AfterImport {
		return ""
	}
	return dest
}

// ActionHealth reports the mailbox's post-import actions.
func (r *Runner) ActionHealth() ActionHealth {
	a := &r.acts
	a.mu.Lock()
	defer a.mu.Unlock()
	return ActionHealth{Action: r.action(), Pending: a.pending, Failures: a.failures[r.action()], Error: a.cause, Since: a.since}
}

// refusedByServer reports whether err is the server's NO or BAD answer
// (the session is fine and the pass goes on), not a broken connection.
func refusedByServer(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie)
}

func hasCode(err error, code imap.ResponseCode) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Code == code
}

// prepareTarget runs at the start of a session: it makes sure the move
// folder exists, so a folder that cannot be created is reported at once,
// before any mail is stored. Only a broken connection is returned.
func (r *Runner) prepareTarget(ctx context.Context, c *imapclient.Client) error {
	dest := r.moveTarget()
	if dest == "" {
		return nil
	}
	err := r.createTarget(c, dest)
	switch {
	case err == nil:
		r.acts.mu.Lock()
		r.acts.needCreate = false
		r.acts.mu.Unlock()
		return nil
	case !refusedByServer(err):
		return err
	}
	r.acts.mu.Lock()
	r.acts.needCreate = true
	r.acts.mu.Unlock()
	r.refused(ctx, err, 0, false)
	return nil
}

// createTarget creates the move folder; one that already exists is fine,
// also when the server refuses the CREATE for another reason (an ACL that
// allows moving into an existing folder but not creating one).
func (r *Runner) createTarget(c *imapclient.Client, dest string) error {
	stop := watchdog(c, r.cfg.CommandTimeout)
	defer stop()
	err := c.Create(dest, nil).Wait()
	if err == nil || hasCode(err, imap.ResponseCodeAlreadyExists) {
		return nil
	}
	if !refusedByServer(err) {
		return err
	}
	if l, lerr := c.List("", dest, nil).Collect(); lerr == nil && len(l) > 0 {
		return nil
	}
	return fmt.Errorf("CREATE %q: %w", dest, err)
}

// postImport runs the action on mail this pass just committed. While an
// earlier refusal waits for its retry the mail joins the pending work
// untried. A refusal is recorded, not returned: only a broken connection
// ends the pass.
func (r *Runner) postImport(ctx context.Context, c *imapclient.Client, uids []imap.UID) error {
	if len(uids) == 0 || r.box.AfterImport == "keep" {
		return nil
	}
	a := &r.acts
	a.mu.Lock()
	held := a.cause != "" && time.Now().Before(a.retryAt)
	if held {
		a.pending += int64(len(uids))
	}
	a.mu.Unlock()
	if held {
		return nil
	}
	return r.act(ctx, c, uids, false)
}

// retryPending runs after a pass's import: at the first pass of a session
// (mail committed before a crash or a lost connection, not yet flagged or
// moved) and whenever refused work is due for its retry. upto is the
// highest UID known to be committed.
func (r *Runner) retryPending(ctx context.Context, c *imapclient.Client, upto uint32, first bool) error {
	if r.box.AfterImport == "keep" {
		return nil
	}
	a := &r.acts
	a.mu.Lock()
	due := (a.cause != "" || a.pending > 0) && !time.Now().Before(a.retryAt)
	a.mu.Unlock()
	if !first && !due {
		return nil
	}
	uids, err := r.committedUnactioned(c, upto)
	if err != nil {
		return err
	}
	return r.act(ctx, c, uids, true)
}

// act flags or moves uids (creating the move folder first when it is
// missing). retry: uids is all the outstanding work, found on the server,
// so it replaces the pending count instead of adding to it.
func (r *Runner) act(ctx context.Context, c *imapclient.Client, uids []imap.UID, retry bool) error {
	a := &r.acts
	a.mu.Lock()
	create := a.needCreate
	a.mu.Unlock()
	var err error
	if dest := r.moveTarget(); dest != "" && create {
		err = r.createTarget(c, dest)
	}
	if err == nil {
		err = r.afterImport(c, uids...)
	}
	switch {
	case err == nil:
		a.mu.Lock()
		if retry {
			a.pending = 0
		}
		// Mail of this pass went through; a refusal still pending for
		// older mail is cleared by its retry, after the import.
		if a.pending == 0 {
			if a.cause != "" {
				r.log.Info("email: after-import action works again", "action", r.action(), "failing_for", time.Since(a.since).Round(time.Second))
			}
			a.cause, a.since, a.backoff, a.retryAt = "", time.Time{}, 0, time.Time{}
		}
		a.needCreate = false
		a.mu.Unlock()
		return nil
	case !refusedByServer(err):
		return err
	}
	if hasCode(err, imap.ResponseCodeTryCreate) {
		a.mu.Lock()
		a.needCreate = true
		a.mu.Unlock()
	}
	r.refused(ctx, err, int64(len(uids)), retry)
	return nil
}

// refused records a refused action (n mail affected), schedules its retry
// and warns once per cause and hour.
func (r *Runner) refused(ctx context.Context, err error, n int64, retry bool) {
	now := time.Now()
	a := &r.acts
	a.mu.Lock()
	if a.failures == nil {
		a.failures = map[string]int64{}
	}
	a.failures[r.action()]++
	if retry {
		a.pending = n
	} else {
		a.pending += n
	}
	cause := err.Error()
	if a.cause == "" {
		a.since = now
	}
	a.cause = cause
	base := r.cfg.ActionRetry
	if base <= 0 {
		base = r.box.PollInterval
	}
	a.backoff = min(max(2*a.backoff, base), 8*base)
	a.retryAt = now.Add(a.backoff)
	pending, backoff := a.pending, a.backoff
	lvl := slog.LevelDebug
	if a.warned.due(cause, now, actionWarnEvery) {
		lvl = slog.LevelWarn
	}
	a.mu.Unlock()
	r.log.Log(ctx, lvl, "email: the server refused the after-import action; new mail is still imported and the action is retried",
		"action", r.action(), "error", cause, "pending", pending, "retry_in", backoff)
}

// committedUnactioned lists the committed mail (UIDs up to upto) that
// still waits for its action: unseen, or for move:FOLDER still here.
func (r *Runner) committedUnactioned(c *imapclient.Client, upto uint32) ([]imap.UID, error) {
	if upto == 0 {
		return nil, nil
	}
	var set imap.UIDSet
	set.AddRange(1, imap.UID(upto))
	crit := &imap.SearchCriteria{UID: []imap.UIDSet{set}}
	if r.moveTarget() == "" {
		crit.NotFlag = []imap.Flag{imap.FlagSeen}
	}
	stop := watchdog(c, r.cfg.CommandTimeout)
	data, err := c.UIDSearch(crit, nil).Wait()
	stop()
	if err != nil {
		return nil, fmt.Errorf("search committed mail: %w", err)
	}
	var due []imap.UID
	for _, uid := range data.AllUIDs() {
		// "1:n" with n above the highest UID matches that UID too.
		if uint32(uid) <= upto {
			due = append(due, uid)
		}
	}
	return due, nil
}
