package store_test

import (
	"context"
	"errors"
	"os"
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
