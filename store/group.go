package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// InGroupTx runs fn like InTx, but on SQLite it may share one transaction
// with other concurrent callers (group commit): SQLite's cost is the commit,
// not the statements, so committing a batch of independent writes once
// multiplies throughput. Each fn runs inside its own SAVEPOINT, so a failing
// fn rolls back only its own writes and gets its own error; the others
// commit. On PostgreSQL, where writers run in parallel, it is InTx.
//
// fn must not block on other callers (it holds the batch), and its
// after-commit hooks run only if the shared commit succeeds.
func (db *DB) InGroupTx(ctx context.Context, fn func(tx *Tx) error) error {
	return <-db.GroupTxAsync(ctx, fn)
}

// GroupTxAsync queues fn like InGroupTx but returns at once; the channel
// yields fn's outcome once its batch has committed (or failed). Requests
// queued from one goroutine run in the order they were queued, so a caller
// with many messages can hand them all over, keep their order and still
// have them share commits. On PostgreSQL fn runs (in its own transaction)
// before GroupTxAsync returns.
func (db *DB) GroupTxAsync(ctx context.Context, fn func(tx *Tx) error) <-chan error {
	return db.groupTx(ctx, fn, false)
}

// GroupTxWithNext queues fn like GroupTxAsync for a caller that is about
// to queue more: if fn reaches an idle writer, its batch waits up to
// joinWait for the next request before it commits, so the two share a
// commit (an fsync, ~2 ms here) instead of each paying one. The mail
// importer queues a chunk's cursor advance this way just before it hands
// over the next chunk: 10,000 mails went from 80 commits to 48.
func (db *DB) GroupTxWithNext(ctx context.Context, fn func(tx *Tx) error) <-chan error {
	return db.groupTx(ctx, fn, true)
}

// joinWait bounds how long a GroupTxWithNext request waits for company:
// far longer than the importer needs to queue its next chunk (under a
// millisecond), short enough that nobody notices when nothing follows.
// (DB.joinWait; tests lengthen it.)
const joinWait = 5 * time.Millisecond

func (db *DB) groupTx(ctx context.Context, fn func(tx *Tx) error, withNext bool) <-chan error {
	done := make(chan error, 1)
	if db.dialect != SQLite {
		done <- db.InTx(ctx, fn)
		return done
	}
	db.groupOnce.Do(func() {
		db.group = make(chan *groupReq, 512)
		go db.groupCommitter()
	})
	req := &groupReq{ctx: ctx, fn: fn, done: done, withNext: withNext}
	// Close flips groupClosed under the write lock before it stops the
	// committer, so a request is either refused here or queued early enough
	// for the committer to see it: none can slip in after its last drain
	// and wait forever.
	db.groupMu.RLock()
	defer db.groupMu.RUnlock()
	if db.groupClosed {
		done <- ErrClosed
		return done
	}
	select {
	case db.group <- req:
		// Once queued the request runs; its outcome is reported even if
		// ctx ends, so a caller never reports failure for a committed write.
	case <-ctx.Done():
		done <- ctx.Err()
	}
	return done
}

// ErrClosed is returned for writes queued after Close.
var ErrClosed = errors.New("store: database closed")

type groupReq struct {
	ctx      context.Context
	fn       func(tx *Tx) error
	done     chan error
	tx       *Tx
	withNext bool // GroupTxWithNext
}

// maxGroup caps a batch: large enough to amortise the commit (an fsync
// and the WAL pages of the batch, about 1.8 ms here), small enough that one
// batch holds the write lock for tens of milliseconds at most (an e-mail
// costs about 70 µs inside it). Batches only grow this large under a
// backlog, such as a mailbox import handing over its chunks; a chat
// message arriving then waits behind what is queued (one chunk per
// importing mailbox). 64 made commits a quarter of the import's write
// time.
const maxGroup = 256

func (db *DB) groupCommitter() {
	for {
		var first *groupReq
		select {
		case first = <-db.group:
		case <-db.closed:
			// Fail whatever is still queued rather than leave callers waiting.
			for {
				select {
				case r := <-db.group:
					r.done <- ErrClosed
				default:
					return
				}
			}
		}
		batch := []*groupReq{first}
		if first.withNext {
			t := time.NewTimer(time.Duration(db.joinWait.Load()))
			select {
			case r := <-db.group:
				batch = append(batch, r)
			case <-t.C:
			case <-db.closed:
				// Commit what is here; the next round fails the rest.
			}
			t.Stop()
		}
	fill:
		for len(batch) < maxGroup {
			select {
			case r := <-db.group:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.commitGroup(batch)
	}
}

func (db *DB) commitGroup(batch []*groupReq) {
	errs := make([]error, len(batch))
	var hooks [][]func()
	_, err := db.begin(context.Background(), func(tx *Tx) error {
		for i, r := range batch {
			if err := r.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			sp := fmt.Sprintf("g%d", i)
			if _, err := tx.Tx.ExecContext(context.Background(), "SAVEPOINT "+sp); err != nil {
				return err
			}
			sub := &Tx{Tx: tx.Tx, db: db}
			if err := r.fn(sub); err != nil {
				errs[i] = err
				if _, rerr := tx.Tx.ExecContext(context.Background(), "ROLLBACK TO "+sp); rerr != nil {
					// SQLite already rolled the whole transaction back (a
					// full disk, an I/O error): every request of the batch
					// fails, and each must learn the real cause, not the
					// missing savepoint.
					return fmt.Errorf("%w (the whole batch was rolled back: %v)", errs[i], rerr)
				}
			}
			if _, err := tx.Tx.ExecContext(context.Background(), "RELEASE "+sp); err != nil {
				return err
			}
			if errs[i] == nil {
				hooks = append(hooks, sub.afterCommit)
				for _, h := range sub.beforeCommit {
					tx.BeforeCommit(h.key, h.fn)
				}
			}
		}
		return nil
	})
	for i, r := range batch {
		if err != nil {
			r.done <- err
			continue
		}
		r.done <- errs[i]
	}
	if err == nil {
		for _, hs := range hooks {
			for _, h := range hs {
				h()
			}
		}
	}
}
