package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"lindungi/store"
	"lindungi/store/storetest"
)

// When the disk fills while one request of a group commit writes (a mail
// with a large attachment), SQLite rolls the whole transaction back: every
// request of the batch fails, and each must be told the real cause (so the
// API answers storage_full and the mail importer does not blame an
// innocent mail), not the savepoint that no longer exists.
func TestGroupCommitDiskFullReportsTheCause(t *testing.T) {
	dir := storetest.Tmpfs(t, "16m")
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)`); err != nil {
		t.Fatal(err)
	}
	// Fill the disk, leaving about 1 MiB.
	f, _ := os.Create(filepath.Join(dir, "ballast"))
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	os.Truncate(filepath.Join(dir, "ballast"), mustSize(t, filepath.Join(dir, "ballast"))-(1<<20))

	small := func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO blobs (data) VALUES (?)`, []byte("small"))
		return err
	}
	big := func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO blobs (data) VALUES (?)`, make([]byte, 6<<20))
		return err
	}
	// Queued from one goroutine: one batch, in this order.
	a := db.GroupTxAsync(ctx, small)
	b := db.GroupTxAsync(ctx, big)
	c := db.GroupTxAsync(ctx, small)
	ea, eb, ec := <-a, <-b, <-c
	if !store.IsStorageFull(eb) {
		t.Errorf("the write that filled the disk is not reported as storage full: %v", eb)
	}
	for _, e := range []error{ea, ec} {
		if e != nil && !store.IsStorageFull(e) {
			t.Errorf("an innocent request of the batch got %v (not recognisable as a full disk)", e)
		}
	}
	var n int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM blobs`).Scan(&n)
	if want := map[bool]int{true: 1, false: 0}; n != want[ea == nil]+want[ec == nil] {
		t.Errorf("%d rows committed, but %v / %v reported for the small writes", n, ea, ec)
	}
}

func mustSize(t *testing.T, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
