package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"sync"
	"time"
)

// Leader holds a named singleton role (the WhatsApp connection, one mailbox,
// the cron scheduler). On PostgreSQL it is a session advisory lock on a
// dedicated connection: if the holder dies its connection closes and the lock
// is free for another replica — no home-made consensus. On SQLite the one
// process is always the leader.
type Leader struct {
	db   *DB
	name string
	key  int64

	mu   sync.Mutex
	conn *sql.Conn
}

// NewLeader makes a lock for name; it is not taken until TryAcquire.
func (db *DB) NewLeader(name string) *Leader {
	h := fnv.New64a()
	h.Write([]byte("lindungi:" + name))
	return &Leader{db: db, name: name, key: int64(h.Sum64() >> 1)}
}

// Name is the role this lock guards.
func (l *Leader) Name() string { return l.name }

// TryAcquire takes the role if it is free; it reports whether this process
// holds it now (also true when it already held it and the connection lives).
func (l *Leader) TryAcquire(ctx context.Context) (bool, error) {
	if l.db.dialect != Postgres {
		return true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		// Still ours if the connection is alive.
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := l.conn.PingContext(pctx)
		cancel()
		if err == nil {
			return true, nil
		}
		l.conn.Close()
		l.conn = nil
	}
	conn, err := l.db.SQL.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("store: leader %s: %w", l.name, err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&ok); err != nil {
		conn.Close()
		return false, fmt.Errorf("store: leader %s: %w", l.name, err)
	}
	if !ok {
		conn.Close()
		return false, nil
	}
	l.conn = conn
	return true, nil
}

// Release gives the role up.
func (l *Leader) Release(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return
	}
	_, _ = l.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
	l.conn.Close()
	l.conn = nil
}

// Hold blocks until the role is taken (polling every interval), then returns
// a context that is cancelled when the role is lost or parent ends. The
// caller runs the singleton under that context and calls Hold again when it
// ends.
func (l *Leader) Hold(parent context.Context, interval time.Duration) (context.Context, context.CancelFunc, error) {
	for {
		ok, err := l.TryAcquire(parent)
		if err == nil && ok {
			break
		}
		select {
		case <-parent.Done():
			return nil, nil, parent.Err()
		case <-time.After(interval):
		}
	}
	ctx, cancel := context.WithCancel(parent)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				l.Release(context.Background())
				return
			case <-t.C:
				if ok, err := l.TryAcquire(ctx); err != nil || !ok {
					cancel()
				}
			}
		}
	}()
	return ctx, cancel, nil
}
