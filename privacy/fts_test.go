package privacy_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"lindungi/privacy"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tickets"
)

// How long the SQLite full-text purge after a deletion takes on a big
// index: LINDUNGI_FTS_ROWS=1000000 go test -v -run FTSPurgeCost ./privacy/
func TestFTSPurgeCost(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LINDUNGI_FTS_ROWS"))
	if n <= 0 {
		t.Skip("set LINDUNGI_FTS_ROWS to measure")
	}
	db := storetest.SQLite(t)
	ctx := context.Background()
	mustExec := func(q string, args ...any) {
		if _, err := db.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	mustExec(`INSERT INTO contacts (id, channel, address, name, created_at, updated_at) VALUES (1, 'whatsapp', '+6281200000001', 'x', ?, ?)`, now, now)
	t0 := time.Now()
	mustExec(`WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
		INSERT INTO messages (contact_id, direction, channel, body, created_at)
		SELECT 1, 'in', 'whatsapp', 'sertifikat vaksin saya belum keluar nomor ' || x || ' mohon dibantu kak ' || (x * 7919 % 100003), ? FROM n`, n, now)
	// Rows inserted by hand are only noted for the index; index them as a
	// commit through tickets.AddMessage would.
	if err := db.InTx(ctx, func(tx *store.Tx) error { return tickets.IndexPending(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
	var hits int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'sertifikat'`).Scan(&hits)
	if hits != n {
		t.Fatalf("%d of %d messages in the index", hits, n)
	}
	t.Logf("inserted %d messages with their index in %s", n, time.Since(t0).Round(time.Millisecond))
	p := privacy.New(db, storetest.Sealer(t), nil)
	t1 := time.Now()
	if err := p.PurgeSearchIndex(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("first optimize (merging the load's segments) %s", time.Since(t1).Round(time.Millisecond))
	mustExec(`UPDATE messages SET body = '' WHERE id = 42`)
	t2 := time.Now()
	if err := p.PurgeSearchIndex(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("optimize after one more deletion on %d messages: %s (write lock held throughout)", n, time.Since(t2).Round(time.Millisecond))
}
