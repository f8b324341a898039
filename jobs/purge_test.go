package jobs_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/jobs"
	"lindungi/store"
	"lindungi/store/storetest"
)

// A purge of a million outbox rows runs in bounded transactions while other
// connections keep reading and writing. No timed assertion: the figures are
// logged (go test -v -run BigPurge ./jobs/). LINDUNGI_PURGE_ROWS and
// LINDUNGI_PURGE_BATCH change the row count and the batch size.
func TestBigPurgeInBatchesWhileReadersRun(t *testing.T) {
	if testing.Short() {
		t.Skip("million-row purge skipped in -short")
	}
	total := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("LINDUNGI_PURGE_ROWS")); err == nil && v > 0 {
		total = v
	}
	batch := jobs.DefaultBatch
	if v, err := strconv.Atoi(os.Getenv("LINDUNGI_PURGE_BATCH")); err == nil && v > 0 {
		batch = v
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		old := now.AddDate(-1, 0, 0)
		t0 := time.Now()
		fill := `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
			INSERT INTO outbox (id, channel, recipient, kind, payload, status, next_attempt_at, created_at, sent_at)
			SELECT 'old-' || x, 'whatsapp', '+62812' || x, 'reply', '{"text":"sudah terkirim"}', 'sent', ?, ?, ? FROM n`
		if storetest.IsPostgres(db) {
			fill = `INSERT INTO outbox (id, channel, recipient, kind, payload, status, next_attempt_at, created_at, sent_at)
			SELECT 'old-' || x, 'whatsapp', '+62812' || x, 'reply', '{"text":"sudah terkirim"}', 'sent', $2, $3, $4 FROM generate_series(1, $1::int) AS x`
		}
		if _, err := db.Exec(ctx, fill, total, old, old, old); err != nil {
			t.Fatal(err)
		}
		if storetest.IsPostgres(db) {
			mustExec(t, db, `ANALYZE outbox`)
		}
		t.Logf("%s: inserted %d rows in %s", db.Dialect(), total, time.Since(t0).Round(time.Millisecond))

		// Readers (console listing the queue, API looking a row up) and a
		// writer (the bot enqueueing replies) run throughout the purge.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var reads, writes atomic.Int64
		var maxRead, maxWrite atomic.Int64
		var readErr, writeErr atomic.Value
		observe := func(max *atomic.Int64, d time.Duration) {
			for {
				cur := max.Load()
				if int64(d) <= cur || max.CompareAndSwap(cur, int64(d)) {
					return
				}
			}
		}
		for r := 0; r < 2; r++ {
			wg.Add(1)
			go func(r int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					t1 := time.Now()
					var n int
					var err error
					if i%2 == 0 {
						err = db.QueryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE channel = 'whatsapp' AND status = 'queued'`).Scan(&n)
					} else {
						var id string
						err = db.QueryRow(ctx, `SELECT id FROM outbox WHERE id = ?`, fmt.Sprintf("old-%d", total-i)).Scan(&id)
						if err != nil && err.Error() == "sql: no rows in result set" {
							err = nil
						}
					}
					if err != nil {
						readErr.Store(err)
						return
					}
					observe(&maxRead, time.Since(t1))
					reads.Add(1)
				}
			}(r)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				t1 := time.Now()
				err := db.InTx(ctx, func(tx *store.Tx) error {
					_, err := tx.Exec(ctx, `INSERT INTO outbox (id, channel, recipient, kind, payload, status, next_attempt_at, created_at) VALUES (?, 'whatsapp', '+6281299999999', 'reply', '{}', 'queued', ?, ?)`,
						fmt.Sprintf("new-%d", i), now, now)
					return err
				})
				if err != nil {
					writeErr.Store(err)
					return
				}
				observe(&maxWrite, time.Since(t1))
				writes.Add(1)
			}
		}()

		b := &jobs.Batcher{DB: db, Size: batch}
		t2 := time.Now()
		n, err := channels.PurgeSent(ctx, b, now.Add(-30*24*time.Hour))
		took := time.Since(t2)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if e := readErr.Load(); e != nil {
			t.Fatalf("reader failed during purge: %v", e)
		}
		if e := writeErr.Load(); e != nil {
			t.Fatalf("writer failed during purge: %v", e)
		}
		st := b.Stats()
		if n != int64(total) || st.Rows != int64(total) {
			t.Fatalf("purged %d (stats %d), want %d", n, st.Rows, total)
		}
		if st.Batches < total/batch {
			t.Errorf("%d batches for %d rows", st.Batches, total)
		}
		if reads.Load() == 0 || writes.Load() == 0 {
			t.Errorf("reads %d, writes %d during the purge", reads.Load(), writes.Load())
		}
		if left := count(t, db, `SELECT COUNT(*) FROM outbox WHERE status = 'queued'`); int64(left) != writes.Load() {
			t.Errorf("queued rows written during the purge: %d left, %d written", left, writes.Load())
		}
		t.Logf("%s: purged %d rows in %s: %d transactions of ≤%d rows, longest write transaction %s, mean %s; during it %d reads (slowest %s) and %d writes (slowest, incl. lock wait, %s)",
			db.Dialect(), n, took.Round(time.Millisecond), st.Batches, batch, st.MaxTx.Round(time.Microsecond),
			(st.TotalTx / time.Duration(st.Batches)).Round(time.Microsecond), reads.Load(), time.Duration(maxRead.Load()).Round(time.Microsecond),
			writes.Load(), time.Duration(maxWrite.Load()).Round(time.Microsecond))
	})
}
