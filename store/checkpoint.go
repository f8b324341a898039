package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Checkpointing the SQLite WAL.
//
// SQLite's default (wal_autocheckpoint) has the connection that commits
// copy the WAL back into the database file whenever the WAL passes 1,000
// pages, inside that commit: in a mailbox import that was ~100 ms of a
// 10,000-mail import's ~1,400 ms spent by the single writer, which
// everything else waits for (BenchmarkEmailImport, commit time measured
// with and without). Here every connection runs with wal_autocheckpoint=0
// (SQLiteDriver) and a goroutine of the DB checkpoints instead, on its own
// connection, beside the writer: a PASSIVE checkpoint never blocks a
// writer or a reader, and its fsyncs wait on the disk, not on the write
// lock.
//
// During a long burst a background checkpoint rarely finishes between two
// commits, so the WAL cannot start over and grows. Past walLimitPages the
// writers go back to checkpointing after each commit themselves (what
// autocheckpoint does), which lets the WAL restart; once it has, they stop.
// Durability is untouched: a commit is durable in the WAL (synchronous=FULL)
// whether or not it has been copied into the database file.

const (
	// checkpointEvery spaces background checkpoints: each one costs two
	// fsyncs, so a burst of small commits is copied in a few goes.
	checkpointEvery = 200 * time.Millisecond
	// walLimitPages bounds the WAL (64 MiB of 4 KiB pages) before the
	// writers checkpoint themselves.
	walLimitPages = 16384
	// checkpointIdle: a checkpoint also runs this often without a wake,
	// for commits made on the pool outside DB.begin (whatsmeow's store
	// writes through the same *sql.DB).
	checkpointIdle = time.Minute
)

// wakeCheckpointer tells the checkpointer that a commit added to the WAL.
func (db *DB) wakeCheckpointer() {
	select {
	case db.ckptWake <- struct{}{}:
	default:
	}
}

// checkpointer runs background checkpoints until Close (started by Open
// for SQLite).
func (db *DB) checkpointer() {
	defer close(db.ckptDone)
	for {
		select {
		case <-db.closed:
			return
		case <-db.ckptWake:
		case <-time.After(checkpointIdle):
		}
		if err := db.checkpoint(context.Background(), nil); err != nil {
			db.log.Warn("background WAL checkpoint failed", "err", err)
		}
		select {
		case <-db.closed:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// checkpoint runs a PASSIVE checkpoint, on conn when the caller holds one
// (a writer after its commit) or else on a pooled connection, and updates
// walBig: whether the WAL is past walLimitPages and not yet restartable.
func (db *DB) checkpoint(ctx context.Context, q queryRower) error {
	if q == nil {
		q = db.SQL
	}
	var busy, logPages, done int64
	if err := q.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &done); err != nil {
		return fmt.Errorf("store: checkpoint: %w", err)
	}
	db.ckpts.Add(1)
	if busy != 0 || logPages < 0 {
		// Another checkpoint was running (the writer's and the
		// background one can meet): this one says nothing of the WAL.
		return nil
	}
	// Complete (done == logPages): the next write starts the WAL over.
	db.walBig.Store(logPages > db.walLimit.Load() && done < logPages)
	return nil
}

// queryRower is a pool or one connection of it.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
