//go:build unix

package store_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"lindungi/store"
)

// The SQLite database and its WAL and shared-memory files hold every
// citizen's messages: they are created readable by the gateway's user
// only, whatever the umask, and a file an older version left 0644 is
// tightened when opened. A new data directory is 0700.
func TestSQLiteFilesOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask, whatever the test runner's
	defer syscall.Umask(old)
	for _, pre := range []os.FileMode{0, 0o644} {
		t.Run(pre.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if pre != 0 {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "lindungi.db"), nil, pre); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			db, err := store.Open(ctx, store.Options{DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(ctx, `INSERT INTO contacts (channel, address, name, created_at, updated_at) VALUES ('simulator', 'x', 'Budi', ?, ?)`, store.Now(), store.Now()); err != nil {
				t.Fatal(err)
			}
			want := map[string]os.FileMode{"": 0o700, "lindungi.db": 0o600, "lindungi.db-wal": 0o600, "lindungi.db-shm": 0o600}
			for name, mode := range want {
				st, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if got := st.Mode().Perm(); got != mode {
					t.Errorf("%s: mode %v, want %v", filepath.Join("data", name), got, mode)
				}
			}
		})
	}
}
