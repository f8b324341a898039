package store_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"lindungi/store"
	"lindungi/store/storetest"
)

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	lite, err := store.Migrations(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := store.Migrations(store.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) != len(pg) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].Version != pg[i].Version || lite[i].Name != pg[i].Name {
			t.Errorf("migration %d: sqlite %s, postgres %s", i, lite[i].Name, pg[i].Name)
		}
	}
}

// testdata/v0_sqlite.sql is the first released schema, frozen: do not edit.
// The test proves a database created by the first release upgrades to the
// latest schema with its data intact.
func TestFrozenV0Upgrades(t *testing.T) {
	ctx := context.Background()
	v0, err := os.ReadFile("testdata/v0_sqlite.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	setup := string(v0) + `
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL);
INSERT INTO schema_version VALUES (1, '0001_foundation.sql', '2026-11-26 00:00:00');
INSERT INTO contacts (id, channel, address, name, created_at, updated_at) VALUES (1, 'simulator', 'sim-1', 'Budi', '2026-11-26 00:00:00', '2026-11-26 00:00:00');`
	if _, err := db.SQL.ExecContext(ctx, setup); err != nil {
		t.Fatal(err)
	}
	ms, _ := store.Migrations(store.SQLite)
	n, err := db.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ms)-1 {
		t.Errorf("applied %d migrations, want %d", n, len(ms)-1)
	}
	var name string
	if err := db.QueryRow(ctx, `SELECT name FROM contacts WHERE id = 1`).Scan(&name); err != nil || name != "Budi" {
		t.Errorf("v0 data lost: %q %v", name, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, `INSERT INTO schema_version (version, name, applied_at) VALUES (9999, 'future.sql', ?)`, store.Now()); err != nil {
			t.Fatal(err)
		}
		_, err := db.Migrate(ctx)
		if !errors.Is(err, store.ErrSchemaTooNew) {
			t.Fatalf("Migrate on a newer schema: %v, want ErrSchemaTooNew", err)
		}
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		n, err := db.Migrate(context.Background())
		if err != nil || n != 0 {
			t.Fatalf("second Migrate applied %d: %v", n, err)
		}
	})
}

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT ? , ?", "SELECT $1 , $2"},
		{"SELECT '?' , ?", "SELECT '?' , $1"},
		{"SELECT 1", "SELECT 1"},
	} {
		if got := store.RebindForTest(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSealer(t *testing.T) {
	s := storetest.Sealer(t)
	c := s.Seal([]byte("3174015001900001"))
	p, err := s.Open(c)
	if err != nil || string(p) != "3174015001900001" {
		t.Fatalf("round trip: %q %v", p, err)
	}
	c[len(c)-1] ^= 1
	if _, err := s.Open(c); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
	if s.Index("a") != s.Index("a") || s.Index("a") == s.Index("b") {
		t.Fatal("blind index not deterministic or collides")
	}
}

// TestBeforeCommit: a hook registered under one key by many writes of a
// group commit runs once per commit, after all of them and only for those
// that succeeded; a failing hook fails the commit and nothing is kept.
func TestBeforeCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, `CREATE TABLE hook_probe (n INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		runs, failedRuns := 0, 0
		hook := func(ctx context.Context, tx *store.Tx) error {
			runs++
			_, err := tx.Exec(ctx, `INSERT INTO hook_probe (n) VALUES (-1)`)
			return err
		}
		boom := errors.New("boom")
		// On SQLite request 0 runs alone and holds the writer until the
		// other seven are queued, so they share exactly one commit after
		// request 0's own: two commits in all.
		lite := !storetest.IsPostgres(db)
		started, queued := make(chan struct{}), make(chan struct{})
		var wait []<-chan error
		for i := range 8 {
			if i == 1 && lite {
				<-started
			}
			wait = append(wait, db.GroupTxAsync(ctx, func(tx *store.Tx) error {
				if i == 0 && lite {
					close(started)
					<-queued
				}
				if _, err := tx.Exec(ctx, `INSERT INTO hook_probe (n) VALUES (?)`, i); err != nil {
					return err
				}
				if i == 3 {
					// A failed request's hooks must not run.
					tx.BeforeCommit("failed", func(context.Context, *store.Tx) error { failedRuns++; return nil })
					return boom
				}
				tx.BeforeCommit("probe", hook)
				tx.BeforeCommit("probe", hook)
				return nil
			}))
		}
		close(queued)
		for i, w := range wait {
			if err := <-w; (i == 3) != errors.Is(err, boom) {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		var writes, marks int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM hook_probe WHERE n >= 0`).Scan(&writes)
		db.QueryRow(ctx, `SELECT COUNT(*) FROM hook_probe WHERE n = -1`).Scan(&marks)
		commits := 2
		if storetest.IsPostgres(db) {
			commits = 7 // no group commit: each successful request commits alone
		}
		if writes != 7 || runs != commits || marks != commits || failedRuns != 0 {
			t.Errorf("%d writes, hook ran %d times (%d marks), the failed request's hook %d times; want 7 writes, %d runs and marks, 0",
				writes, runs, marks, failedRuns, commits)
		}

		// A hook registered again by a later hook (one that adds what the
		// first hook handles) runs again.
		var order []string
		var a, b func(context.Context, *store.Tx) error
		a = func(_ context.Context, tx *store.Tx) error {
			order = append(order, "a")
			tx.BeforeCommit("b", b)
			return nil
		}
		b = func(_ context.Context, tx *store.Tx) error {
			order = append(order, "b")
			if len(order) < 3 {
				tx.BeforeCommit("a", a)
			}
			return nil
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			tx.BeforeCommit("a", a)
			tx.BeforeCommit("a", a)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(order, ","); got != "a,b,a,b" {
			t.Errorf("hooks ran %s, want a,b,a,b", got)
		}

		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO hook_probe (n) VALUES (100)`); err != nil {
				return err
			}
			tx.BeforeCommit("fail", func(context.Context, *store.Tx) error { return boom })
			return nil
		})
		if !errors.Is(err, boom) {
			t.Fatalf("failing hook: err %v", err)
		}
		var kept int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM hook_probe WHERE n = 100`).Scan(&kept)
		if kept != 0 {
			t.Error("the write of a transaction whose hook failed was committed")
		}
	})
}
