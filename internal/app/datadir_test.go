package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lindungi/internal/app"
	"lindungi/internal/app/apptest"
	"lindungi/internal/app/proctest"
	"lindungi/store"
)

// The data key is generated only for a database that holds nothing yet.
// For one that does, a missing, empty or malformed key stops start-up with
// a message saying what to restore (and leaves the key file as it was), so
// the gateway never runs, "ready", with a key that cannot open its data.
func TestDataKeyOnlyForNewDatabase(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		// spoil changes the data directory of a database that has been
		// served once, and may return environment for the restart.
		spoil func(t *testing.T, dir string) []string
		want  []string // in the error; nil: start-up succeeds
	}{
		{"key kept", func(t *testing.T, dir string) []string { return nil }, nil},
		{"key file removed", func(t *testing.T, dir string) []string {
			must(t, os.Remove(filepath.Join(dir, "data.key")))
			return nil
		}, []string{"data.key", "does not exist", "restore"}},
		{"key file empty", func(t *testing.T, dir string) []string {
			must(t, os.WriteFile(filepath.Join(dir, "data.key"), nil, 0o600))
			return nil
		}, []string{"data.key", "empty", "restore"}},
		{"key file malformed", func(t *testing.T, dir string) []string {
			must(t, os.WriteFile(filepath.Join(dir, "data.key"), []byte("not-a-key\n"), 0o600))
			return nil
		}, []string{"data.key", "64 hex", "restore"}},
		{"key variable malformed", func(t *testing.T, dir string) []string {
			return []string{"LINDUNGI_DATA_KEY=abcd"}
		}, []string{"LINDUNGI_DATA_KEY", "64 hex"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := apptest.Config(t)
			a, err := app.New(ctx, cfg, &strings.Builder{}, app.Options{})
			if err != nil {
				t.Fatal(err)
			}
			key, err := os.ReadFile(filepath.Join(cfg.DataDir, "data.key"))
			if err != nil {
				t.Fatalf("no data.key for a new database: %v", err)
			}
			if st, _ := os.Stat(filepath.Join(cfg.DataDir, "data.key")); st.Mode().Perm() != 0o600 {
				t.Errorf("data.key mode %v, want 0600", st.Mode().Perm())
			}
			if _, err := a.Accounts.Add(ctx, "budi", "operator"); err != nil {
				t.Fatal(err)
			}
			a.Close()

			env := c.spoil(t, cfg.DataDir)
			before, _ := os.ReadFile(filepath.Join(cfg.DataDir, "data.key"))
			cfg2 := apptest.Config(t, append([]string{"LINDUNGI_DATA_DIR=" + cfg.DataDir}, env...)...)
			a2, err := app.New(ctx, cfg2, &strings.Builder{}, app.Options{})
			if c.want == nil {
				if err != nil {
					t.Fatalf("restart with the key: %v", err)
				}
				a2.Close()
				if after, _ := os.ReadFile(filepath.Join(cfg.DataDir, "data.key")); string(after) != string(key) {
					t.Error("the key changed on restart")
				}
				return
			}
			if err == nil {
				a2.Close()
				t.Fatal("started without its data key")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			after, _ := os.ReadFile(filepath.Join(cfg.DataDir, "data.key"))
			if string(after) != string(before) {
				t.Errorf("data.key was rewritten: %q → %q", before, after)
			}
		})
	}
}

// One serving process per SQLite data directory: a second app on the same
// directory refuses to start (before touching the database) and names the
// process holding it; once the first stops, a new one starts.
func TestSecondAppOnDataDirRefused(t *testing.T) {
	ctx := context.Background()
	cfg := apptest.Config(t)
	a, err := app.New(ctx, cfg, &strings.Builder{}, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := app.New(ctx, cfg, &strings.Builder{}, app.Options{})
	if err == nil {
		b.Close()
		a.Close()
		t.Fatal("a second app started on the same data directory")
	}
	if !errors.Is(err, store.ErrDataDirLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("error %v does not name the holder (pid %d)", err, os.Getpid())
	}
	a.Close()
	c, err := app.New(ctx, cfg, &strings.Builder{}, app.Options{})
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	c.Close()
}

// `lindungi migrate` on a new data directory makes the key too, so a
// database migrated first and served later starts.
func TestMigrateThenServeKeepsKey(t *testing.T) {
	ctx := context.Background()
	cfg := apptest.Config(t)
	if code, out := proctest.Run(t, proctest.Binary(t), nil, "migrate", "--data", cfg.DataDir); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	key, err := os.ReadFile(filepath.Join(cfg.DataDir, "data.key"))
	if err != nil {
		t.Fatalf("migrate made no key: %v", err)
	}
	a, err := app.New(ctx, cfg, &strings.Builder{}, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if after, _ := os.ReadFile(filepath.Join(cfg.DataDir, "data.key")); string(after) != string(key) {
		t.Error("serve replaced the key migrate made")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
