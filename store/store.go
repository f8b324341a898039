// Package store owns the database: opening SQLite (the embedded default) or
// PostgreSQL (scale-out), the embedded versioned migrations for both dialects,
// the transaction helper every domain package writes through, and the leader
// lock that keeps singletons (WhatsApp connection, mailboxes, cron) on one
// replica.
//
// SQL is written once with `?` placeholders; Tx and DB rebind them to `$n` for
// PostgreSQL, so domain packages stay dialect-agnostic except where the two
// really differ (full-text search, SKIP LOCKED), where they ask Dialect().
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/mattn/go-sqlite3"
)

// SQLiteDriver is go-sqlite3 with the per-connection settings its DSN
// cannot express. temp_store=MEMORY keeps savepoint sub-journals in
// memory: group commit runs each message in a SAVEPOINT, and every page a
// savepoint changes that an earlier one in the batch already changed (the
// ticket counter, the last page of each table and index) is first copied
// to the sub-journal — a temporary file otherwise. wal_autocheckpoint=0:
// a DB checkpoints in the background instead of in its commits
// (checkpoint.go); whoever opens this driver without a DB gets SQLite's
// checkpoint when the last connection closes.
const SQLiteDriver = "sqlite3_lindungi"

func init() {
	sql.Register(SQLiteDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		for _, p := range []string{"PRAGMA temp_store = MEMORY", "PRAGMA wal_autocheckpoint = 0"} {
			if _, err := c.Exec(p, nil); err != nil {
				return err
			}
		}
		return nil
	}})
}

// Dialect names the SQL flavour. The values are the names whatsmeow's sqlstore
// expects, so they can be passed to it unchanged.
type Dialect string

const (
	SQLite   Dialect = "sqlite3"
	Postgres Dialect = "postgres"
)

// ErrNotFound is returned by lookups that find no row.
var ErrNotFound = errors.New("not found")

// DB is the gateway's one database handle.
type DB struct {
	SQL     *sql.DB
	dialect Dialect
	// Path is the SQLite file (empty on PostgreSQL).
	Path string

	rebindMu sync.RWMutex
	rebound  map[string]string

	// writeMu serialises SQLite writers inside the process. SQLite allows one
	// writer at a time anyway; queueing on a mutex instead of on SQLite's
	// busy handler (which sleeps and retries) is what keeps write latency
	// flat under concurrency.
	writeMu sync.Mutex
	// writer is the connection SQLite write transactions run on (under
	// writeMu), kept out of the pool: go-sqlite3 caches prepared
	// statements per connection, and a mailbox chunk's multi-row INSERTs
	// are large programs to compile. Taken from the pool in turn, the
	// writer compiled them again on every connection it was handed.
	writer *sql.Conn

	groupOnce   sync.Once
	group       chan *groupReq
	groupMu     sync.RWMutex // see GroupTxAsync
	groupClosed bool
	closeOnce   sync.Once
	closed      chan struct{}

	// SQLite WAL checkpoints (checkpoint.go).
	log      *slog.Logger
	ckptWake chan struct{}
	ckptDone chan struct{}
	ckpts    atomic.Int64 // checkpoints run (tests read it)
	walBig   atomic.Bool
	walLimit atomic.Int64 // walLimitPages; tests lower it

	joinWait atomic.Int64 // nanoseconds, see GroupTxWithNext
}

// Options for Open.
type Options struct {
	// URL is a postgres:// URL; empty means SQLite in DataDir.
	URL string
	// DataDir holds lindungi.db for SQLite.
	DataDir string
	// MaxOpenConns caps the pool (0: a sensible default per dialect).
	MaxOpenConns int
	// Log receives what goes wrong in the background (nil: slog.Default).
	Log *slog.Logger
}

// Open connects and pings, but does not migrate (see Migrate).
func Open(ctx context.Context, opt Options) (*DB, error) {
	if opt.URL != "" && !strings.HasPrefix(opt.URL, "sqlite:") {
		u, err := url.Parse(opt.URL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return nil, fmt.Errorf("store: database URL must start with postgres:// (got scheme %q)", schemeOf(opt.URL))
		}
		sdb, err := sql.Open("pgx", opt.URL)
		if err != nil {
			return nil, fmt.Errorf("store: open postgres: %w", err)
		}
		n := opt.MaxOpenConns
		if n == 0 {
			n = 20
		}
		sdb.SetMaxOpenConns(n)
		sdb.SetMaxIdleConns(n)
		sdb.SetConnMaxIdleTime(5 * time.Minute)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := sdb.PingContext(pctx); err != nil {
			sdb.Close()
			return nil, fmt.Errorf("store: cannot connect to PostgreSQL at %s: %w", redactURL(opt.URL), err)
		}
		return &DB{SQL: sdb, dialect: Postgres, rebound: map[string]string{}, closed: make(chan struct{})}, nil
	}

	path := strings.TrimPrefix(opt.URL, "sqlite:")
	if path == "" {
		if opt.DataDir == "" {
			opt.DataDir = "data"
		}
		if err := os.MkdirAll(opt.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create data directory %s: %w", opt.DataDir, err)
		}
		path = filepath.Join(opt.DataDir, "lindungi.db")
	}
	if err := checkWritable(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := ownerOnly(path); err != nil {
		return nil, err
	}
	// WAL lets readers (console, API) run beside the writer; immediate
	// transactions take the write lock at BEGIN so two writers queue on the
	// busy timeout instead of failing with SQLITE_BUSY on upgrade; foreign
	// keys are required by whatsmeow's store.
	dsn := "file:" + uriPath(path) + "?" + SQLiteParams
	sdb, err := sql.Open(SQLiteDriver, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	n := opt.MaxOpenConns
	if n == 0 {
		n = 8
	}
	sdb.SetMaxOpenConns(n)
	sdb.SetMaxIdleConns(n)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	db := &DB{SQL: sdb, dialect: SQLite, Path: path, rebound: map[string]string{}, closed: make(chan struct{}),
		log: opt.Log, ckptWake: make(chan struct{}, 1), ckptDone: make(chan struct{})}
	db.walLimit.Store(walLimitPages)
	db.joinWait.Store(int64(joinWait))
	if db.log == nil {
		db.log = slog.Default()
	}
	go db.checkpointer()
	return db, nil
}

func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".writecheck-*")
	if err != nil {
		return fmt.Errorf("store: data directory %s is not writable (set --data or LINDUNGI_DATA_DIR to a writable directory): %w", dir, err)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// ownerOnly makes the database file readable by its owner alone before
// SQLite opens it: SQLite creates a new file 0644 (less the umask), and its
// WAL and shared-memory files take the database file's mode, so creating
// the file 0600 ourselves keeps all three private. A file left 0644 by an
// older version is tightened, with its WAL and shared-memory files.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if m := st.Mode().Perm(); m&0o077 != 0 {
			if err := os.Chmod(p, m&^0o077); err != nil {
				return fmt.Errorf("store: make %s private (chmod go-rwx): %w", p, err)
			}
		}
	}
	return nil
}

func schemeOf(s string) string {
	if i := strings.Index(s, "://"); i > 0 {
		return s[:i]
	}
	return ""
}

// uriPath escapes what a SQLite URI filename would otherwise read as
// syntax: "?" starts the parameters and "#" a fragment, so a data
// directory like /tmp/TestX/sqlite#01 (a repeated subtest's t.TempDir)
// opened /tmp/TestX/sqlite instead, shared by every process that ran the
// same test.
func uriPath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// redactURL drops the password from a DSN for error messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// Dialect reports which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes the pool.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.groupMu.Lock()
		db.groupClosed = true
		db.groupMu.Unlock()
		close(db.closed)
	})
	if db.ckptDone != nil {
		<-db.ckptDone
	}
	db.writeMu.Lock()
	if db.writer != nil {
		db.writer.Close()
		db.writer = nil
	}
	db.writeMu.Unlock()
	return db.SQL.Close()
}

// Rebind turns `?` placeholders into `$1…` for PostgreSQL. Results are cached:
// the same few hundred query strings are rebound millions of times.
func (db *DB) Rebind(q string) string {
	if db.dialect != Postgres {
		return q
	}
	db.rebindMu.RLock()
	r, ok := db.rebound[q]
	db.rebindMu.RUnlock()
	if ok {
		return r
	}
	r = rebind(q)
	db.rebindMu.Lock()
	db.rebound[q] = r
	db.rebindMu.Unlock()
	return r
}

func rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	inStr := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			inStr = !inStr
		}
		if c == '?' && !inStr {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Exec runs a statement outside a transaction.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if db.dialect == SQLite {
		db.writeMu.Lock()
		defer db.writeMu.Unlock()
	}
	return db.SQL.ExecContext(ctx, db.Rebind(q), args...)
}

// Query runs a query outside a transaction.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.SQL.QueryContext(ctx, db.Rebind(q), args...)
}

// QueryRow runs a one-row query outside a transaction.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.SQL.QueryRowContext(ctx, db.Rebind(q), args...)
}

// Tx is a transaction that rebinds placeholders like DB.
type Tx struct {
	Tx *sql.Tx
	db *DB
	// afterCommit hooks run after a successful commit (e.g. waking the
	// outbox worker); never inside the transaction.
	afterCommit []func()
	// beforeCommit hooks run once, in registration order, after the
	// transaction's work (every request of a group) and before COMMIT.
	beforeCommit []namedHook
}

type namedHook struct {
	key string
	fn  func(ctx context.Context, tx *Tx) error
	ran bool
}

// Dialect reports which database this is.
func (tx *Tx) Dialect() Dialect { return tx.db.dialect }

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.Tx.ExecContext(tx.db.stmtCtx(ctx), tx.db.Rebind(q), args...)
}

// Query runs a query in the transaction.
func (tx *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.Tx.QueryContext(tx.db.stmtCtx(ctx), tx.db.Rebind(q), args...)
}

// QueryRow runs a one-row query in the transaction.
func (tx *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.Tx.QueryRowContext(tx.db.stmtCtx(ctx), tx.db.Rebind(q), args...)
}

// stmtCtx is the context a statement inside a write transaction runs
// under. On SQLite it drops cancellation: database/sql and go-sqlite3 each
// start a watcher goroutine per statement and per transaction for a
// cancellable context, which cost more than the statement itself (profiled:
// a third of the pipeline's CPU went to waking them). Nothing is lost —
// SQLite statements here are index lookups and single-row writes that
// finish in microseconds, the writer holds the only write lock, and callers
// still check ctx between steps. PostgreSQL keeps cancellation, where a
// statement can wait on the network.
func (db *DB) stmtCtx(ctx context.Context) context.Context {
	if db.dialect == SQLite {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// InsertID runs an INSERT whose text ends in "RETURNING id" and returns the
// new row's id. On SQLite it drops the RETURNING clause and reads the
// connection's last insert rowid instead, which skips a result set (about a
// third of a single-row insert's cost, measured); PostgreSQL has no such
// rowid, so it scans the RETURNING row.
func (tx *Tx) InsertID(ctx context.Context, q string, args ...any) (int64, error) {
	if tx.db.dialect == SQLite {
		if stripped, ok := strings.CutSuffix(strings.TrimSpace(q), "RETURNING id"); ok {
			res, err := tx.Exec(ctx, stripped, args...)
			if err != nil {
				return 0, err
			}
			return res.LastInsertId()
		}
	}
	var id int64
	err := tx.QueryRow(ctx, q, args...).Scan(&id)
	return id, err
}

// AfterCommit registers f to run once the transaction has committed.
func (tx *Tx) AfterCommit(f func()) { tx.afterCommit = append(tx.afterCommit, f) }

// BeforeCommit registers fn to run in the transaction just before it
// commits. A second registration under a key whose hook has not run yet
// is ignored, so a hook that does work for many writes (indexing every
// message a group commit added) runs once per commit, not once per write;
// registered again by a hook that runs after it, it runs again. In a group
// commit the hooks of every request that succeeded run after the last
// request, outside any request's SAVEPOINT; an error from a hook fails the
// whole commit.
func (tx *Tx) BeforeCommit(key string, fn func(ctx context.Context, tx *Tx) error) {
	for _, h := range tx.beforeCommit {
		if h.key == key && !h.ran {
			return
		}
	}
	tx.beforeCommit = append(tx.beforeCommit, namedHook{key: key, fn: fn})
}

// runBeforeCommit runs the registered hooks in order; a hook may register
// more, which run after it.
func (tx *Tx) runBeforeCommit(ctx context.Context) error {
	for i := 0; i < len(tx.beforeCommit); i++ {
		tx.beforeCommit[i].ran = true
		if err := tx.beforeCommit[i].fn(ctx, tx); err != nil {
			return fmt.Errorf("store: before commit (%s): %w", tx.beforeCommit[i].key, err)
		}
	}
	return nil
}

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise. On SQLite the transaction is IMMEDIATE (write lock at
// BEGIN), which is what every write path here wants.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := db.begin(ctx, fn)
	if err != nil {
		return err
	}
	for _, f := range tx.afterCommit {
		f()
	}
	return nil
}

// beginOn starts a transaction: on SQLite on the writer connection (the
// caller holds writeMu), taken from the pool the first time and again
// after a failure to begin on it; on PostgreSQL on a pooled connection,
// which release returns.
func (db *DB) beginOn(ctx context.Context) (conn *sql.Conn, stx *sql.Tx, release func(), err error) {
	if db.dialect != SQLite {
		if conn, err = db.SQL.Conn(ctx); err != nil {
			return nil, nil, nil, err
		}
		if stx, err = conn.BeginTx(db.stmtCtx(ctx), nil); err != nil {
			conn.Close()
			return nil, nil, nil, err
		}
		return conn, stx, func() { conn.Close() }, nil
	}
	for attempt := 0; ; attempt++ {
		if db.writer == nil {
			if db.writer, err = db.SQL.Conn(ctx); err != nil {
				return nil, nil, nil, err
			}
		}
		stx, err = db.writer.BeginTx(db.stmtCtx(ctx), nil)
		if err == nil || attempt > 0 {
			return db.writer, stx, func() {}, err
		}
		// A connection that cannot begin (closed under us, broken) is
		// replaced once.
		db.writer.Close()
		db.writer = nil
	}
}

// begin runs fn in a transaction and commits it, holding the SQLite write
// lock only for that span (after-commit hooks run outside it).
func (db *DB) begin(ctx context.Context, fn func(tx *Tx) error) (*Tx, error) {
	if db.dialect == SQLite {
		db.writeMu.Lock()
		defer db.writeMu.Unlock()
	}
	// Waiting for a pooled connection honours ctx (readers may hold them
	// all); the transaction itself then runs without cancellation watchers.
	conn, stx, release, err := db.beginOn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	defer release()
	tx := &Tx{Tx: stx, db: db}
	if err := fn(tx); err != nil {
		_ = stx.Rollback()
		return nil, err
	}
	if err := tx.runBeforeCommit(ctx); err != nil {
		_ = stx.Rollback()
		return nil, err
	}
	if err := stx.Commit(); err != nil {
		return nil, fmt.Errorf("store: commit: %w", err)
	}
	if db.dialect == SQLite {
		if db.walBig.Load() {
			// Still under the write lock, so nothing is appended while
			// this checkpoint runs and it can finish (checkpoint.go).
			if err := db.checkpoint(context.WithoutCancel(ctx), conn); err != nil {
				db.log.Warn("WAL checkpoint after commit failed", "err", err)
			}
		} else {
			db.wakeCheckpointer()
		}
	}
	return tx, nil
}

// SQLiteParams are the connection settings of every SQLite database this
// service opens (exported so benchmarks measure their ceiling with the very
// same settings). synchronous=FULL fsyncs the WAL at each commit: channels
// acknowledge a message (WhatsApp forgets it, the mailbox flags it \Seen)
// as soon as our commit returns, so a commit that a power cut could still
// undo would lose a complaint for good. NORMAL survives a process crash but
// not that. Group commit (InGroupTx) is what makes the fsync affordable:
// one per batch of messages instead of one per message. secure_delete
// zeroes what a deletion frees, so an erased citizen's words do not linger
// in free pages of the file.
const SQLiteParams = "_journal_mode=WAL&_foreign_keys=on&_busy_timeout=15000&_txlock=immediate&_synchronous=FULL&_secure_delete=true&cache=private&_stmt_cache_size=256"

// Now is the database clock's notion of "now" for rows: UTC, truncated to
// microseconds so SQLite and PostgreSQL round-trip the same value.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// IsUniqueViolation reports whether err is a unique-constraint failure.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505")
}
