package store_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"lindungi/store"
	"lindungi/store/storetest"
)

// A GroupTxWithNext request that reaches an idle writer waits for the next
// request and commits with it; alone, it still commits.
func TestGroupTxWithNextSharesCommit(t *testing.T) {
	db := storetest.SQLite(t)
	// Long enough that a loaded machine cannot make the second request
	// miss the first's batch; the lone request below waits it out.
	store.SetJoinWait(db, time.Second)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE cursor (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	var first, second *sql.Tx
	a := db.GroupTxWithNext(ctx, func(tx *store.Tx) error {
		first = tx.Tx
		_, err := tx.Exec(ctx, `INSERT INTO cursor (v) VALUES (1)`)
		return err
	})
	b := db.GroupTxAsync(ctx, func(tx *store.Tx) error {
		second = tx.Tx
		_, err := tx.Exec(ctx, `INSERT INTO cursor (v) VALUES (2)`)
		return err
	})
	if err := <-a; err != nil {
		t.Fatal(err)
	}
	if err := <-b; err != nil {
		t.Fatal(err)
	}
	if first == nil || first != second {
		t.Errorf("the two requests committed in different transactions")
	}

	alone := db.GroupTxWithNext(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO cursor (v) VALUES (3)`)
		return err
	})
	if err := <-alone; err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM cursor`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d rows (%v), want 3", n, err)
	}
}

// Commits do not checkpoint (wal_autocheckpoint=0); the DB's own goroutine
// copies the WAL into the database file soon after.
func TestBackgroundCheckpoint(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	var auto int
	if err := db.QueryRow(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("wal_autocheckpoint = %d (%v), want 0", auto, err)
	}
	if _, err := db.Exec(ctx, `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO notes (body) VALUES (?)`, strings.Repeat("x", 3000))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The database file alone (immutable: SQLite ignores the WAL, and
	// caches what it read, hence a new handle each time) holds every row
	// once the checkpointer has run.
	inFile := func() (int, error) {
		file, err := sql.Open("sqlite3", "file:"+db.Path+"?immutable=1")
		if err != nil {
			return 0, err
		}
		defer file.Close()
		var got int
		return got, file.QueryRow(`SELECT COUNT(*) FROM notes`).Scan(&got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := inFile()
		if err == nil && got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d of %d rows (%v) after %d background checkpoints", got, n, err, store.Checkpoints(db))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if store.Checkpoints(db) == 0 {
		t.Error("rows reached the database file without a checkpoint of the DB's")
	}
}

// When background checkpoints cannot keep up (here a reader pins an old
// snapshot), the WAL grows past the limit and writers checkpoint after
// their commits until one finishes; then the WAL starts over.
func TestWALLimitWritersCheckpoint(t *testing.T) {
	db := storetest.SQLite(t)
	store.SetWALLimit(db, 16)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
		t.Fatal(err)
	}
	insert := func() {
		t.Helper()
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO notes (body) VALUES (?)`, strings.Repeat("y", 6000))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	insert()
	// A deferred transaction that has read: it holds a snapshot, not the
	// write lock (BeginTx would be BEGIN IMMEDIATE here, _txlock).
	reader, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	release := func() { reader.ExecContext(ctx, `ROLLBACK`) }
	defer reader.Close()
	defer release()
	var seen int
	if _, err := reader.ExecContext(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if err := reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM notes`).Scan(&seen); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !store.WALBig(db) {
		if time.Now().After(deadline) {
			t.Fatal("the WAL never passed its limit while a reader pinned it")
		}
		insert()
		time.Sleep(10 * time.Millisecond)
	}
	release()
	insert() // its writer's checkpoint can now finish
	if store.WALBig(db) {
		t.Fatal("writers still checkpointing after a complete checkpoint")
	}
	insert() // starts the WAL over
	var busy, logPages, done int
	if err := db.QueryRow(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &done); err != nil {
		t.Fatal(err)
	}
	if logPages > 16 {
		t.Errorf("WAL holds %d pages after the restart, want a handful", logPages)
	}
}

// SQLite write transactions run on one connection (its compiled
// statements stay cached): a temporary table, which only the connection
// that made it sees, is there for every later write. A writer connection
// that breaks is replaced.
func TestWritesShareOneConnection(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	write := func(q string) error {
		return db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, q)
			return err
		})
	}
	if err := write(`CREATE TEMP TABLE mine (x)`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		// A reader holds a pooled connection (the one freed last) while
		// the write runs.
		reading, err := db.Query(ctx, `SELECT name FROM sqlite_master`)
		if err != nil {
			t.Fatal(err)
		}
		err = db.InGroupTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO temp.mine (x) VALUES (?)`, i)
			return err
		})
		reading.Close()
		if err != nil {
			t.Fatalf("write %d on another connection: %v", i, err)
		}
	}
	store.BreakWriter(db)
	if err := write(`CREATE TEMP TABLE fresh (x)`); err != nil {
		t.Fatalf("no write after the writer connection broke: %v", err)
	}
}
