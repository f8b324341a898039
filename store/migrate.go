package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one numbered schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the embedded migrations for a dialect in order. Files are
// named NNNN_name.sql under migrations/<dialect>/; each dialect must have the
// same versions (a test checks).
func Migrations(d Dialect) ([]Migration, error) {
	dir := "migrations/sqlite"
	if d == Postgres {
		dir = "migrations/postgres"
	}
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("store: migration file %s is not named NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("store: two migrations numbered %d", ms[i].Version)
		}
	}
	return ms, nil
}

// ErrSchemaTooNew means the database was migrated by a newer binary.
var ErrSchemaTooNew = fmt.Errorf("store: database schema is newer than this binary")

// SchemaVersion returns the applied schema version (0 for an empty database).
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	if err != nil {
		// No table yet: a fresh database.
		if strings.Contains(err.Error(), "no such table") || strings.Contains(err.Error(), "does not exist") {
			return 0, nil
		}
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return v, nil
}

// Migrate applies every pending migration in one transaction and refuses a
// database whose schema is newer than the binary. On PostgreSQL a transaction
// advisory lock keeps replicas starting together from racing.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	ms, err := Migrations(db.dialect)
	if err != nil {
		return 0, err
	}
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].Version
	}
	err = db.InTx(ctx, func(tx *Tx) error {
		if db.dialect == Postgres {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7461626)`); err != nil {
				return fmt.Errorf("store: migration lock: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)`); err != nil {
			return fmt.Errorf("store: create schema_version: %w", err)
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
			return fmt.Errorf("store: read schema version: %w", err)
		}
		if cur > latest {
			return fmt.Errorf("%w: database is at version %d, this binary knows up to %d; run the newer binary or restore a backup", ErrSchemaTooNew, cur, latest)
		}
		for _, m := range ms {
			if m.Version <= cur {
				continue
			}
			if _, err := tx.Tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)`, m.Version, m.Name, Now()); err != nil {
				return fmt.Errorf("store: record migration %s: %w", m.Name, err)
			}
			applied++
		}
		return nil
	})
	if IsStorageFull(err) {
		where := "the database server's disk"
		if db.Path != "" {
			where = "the disk holding " + db.Path
		}
		return 0, fmt.Errorf("store: %s is full; free some space and start again (nothing was changed): %w", where, err)
	}
	return applied, err
}
