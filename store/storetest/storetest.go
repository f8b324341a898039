// Package storetest gives tests a fresh, migrated database: a SQLite file in
// the test's temp dir always, and a private PostgreSQL schema when
// LINDUNGI_TEST_POSTGRES_URL is set. When LINDUNGI_TEST_REQUIRE_SERVERS=1
// (CI), a missing PostgreSQL fails the test instead of skipping it.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"lindungi/store"
)

// Required reports whether tests must fail rather than skip when a server
// (PostgreSQL, Dovecot, Chromium) is missing.
func Required() bool { return os.Getenv("LINDUNGI_TEST_REQUIRE_SERVERS") == "1" }

// SkipOrFail skips the test with why, or fails it when servers are required.
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("required test server missing: %s (LINDUNGI_TEST_REQUIRE_SERVERS=1)", why)
	}
	t.Skip(why)
}

// Each runs fn once per available dialect as a subtest.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite opens a migrated database in t.TempDir().
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// PostgresURL returns a URL for a fresh schema, creating it, or "" after
// skipping (or failing) when no PostgreSQL is configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("LINDUNGI_TEST_POSTGRES_URL")
	if base == "" {
		SkipOrFail(t, "PostgreSQL tests skipped: set LINDUNGI_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
		return ""
	}
	ctx := context.Background()
	admin, err := store.Open(ctx, store.Options{URL: base, MaxOpenConns: 2})
	if err != nil {
		SkipOrFail(t, fmt.Sprintf("PostgreSQL unreachable: %v", err))
		return ""
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres opens a migrated database in a private schema.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	u := PostgresURL(t)
	db, err := store.Open(context.Background(), store.Options{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// Sealer returns a sealer with a random key.
func Sealer(t testing.TB) *store.Sealer {
	k := make([]byte, 32)
	rand.Read(k)
	s, err := store.NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// IsPostgres is a readability helper for dialect branches in tests.
func IsPostgres(db *store.DB) bool { return strings.HasPrefix(string(db.Dialect()), "postgres") }
