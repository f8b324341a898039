package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A data directory with "#", "?" or "%" in its name is where the database
// lives, not the part of it before the "#" (a repeated subtest's
// t.TempDir is "…sqlite#01…": its tests shared one file in /tmp).
func TestDataDirWithURICharacters(t *testing.T) {
	for _, name := range []string{"sqlite#01", "what?now", "100%"} {
		dir := filepath.Join(t.TempDir(), name)
		db, err := Open(context.Background(), Options{DataDir: dir})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		db.Close()
		if _, err := os.Stat(filepath.Join(dir, "lindungi.db")); err != nil {
			t.Errorf("%s: the database is not in its directory: %v", name, err)
		}
	}
}
