package cloud_test

import (
	"context"
	"testing"
	"time"

	"lindungi/channels/whatsapp/cloud"
	"lindungi/jobs"
	"lindungi/store"
	"lindungi/store/storetest"
)

// Housekeeping forgets when citizens wrote once the window is long shut,
// and old send markers, and nothing younger.
func TestSweepsKeepOnlyWhatIsRead(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	now := time.Now().UTC()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO whatsapp_cloud_windows (wa_id, last_inbound_at) VALUES (?, ?), (?, ?)`, []any{"628111", now.Add(-72 * time.Hour), "628222", now.Add(-time.Hour)}},
		{`INSERT INTO whatsapp_cloud_sent (outbox_id, wamid, sent_at) VALUES (?, ?, ?), (?, ?, ?)`, []any{"A", "wamid.a", now.Add(-40 * 24 * time.Hour), "B", "wamid.b", now}},
	} {
		if _, err := db.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	b := &jobs.Batcher{DB: db}
	var deleted int64
	for _, s := range cloud.Sweeps(30 * 24 * time.Hour) {
		n, err := s.Run(ctx, b, now)
		if err != nil {
			t.Fatal(err)
		}
		deleted += n
	}
	var windows, sent int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM whatsapp_cloud_windows WHERE wa_id = '628222'`).Scan(&windows)
	db.QueryRow(ctx, `SELECT COUNT(*) FROM whatsapp_cloud_sent WHERE outbox_id = 'B'`).Scan(&sent)
	if deleted != 2 || windows != 1 || sent != 1 {
		t.Fatalf("deleted %d; kept windows %d, sent markers %d", deleted, windows, sent)
	}
}

// A data-subject deletion forgets the citizen's window and send markers.
func TestEraseForgetsTheCitizen(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	now := time.Now().UTC()
	db.Exec(ctx, `INSERT INTO whatsapp_cloud_windows (wa_id, last_inbound_at) VALUES (?, ?), (?, ?)`, "628111", now, "628222", now)
	db.Exec(ctx, `INSERT INTO whatsapp_cloud_sent (outbox_id, wamid, recipient, sent_at) VALUES (?, ?, ?, ?), (?, ?, ?, ?)`, "A", "w.a", "628111", now, "B", "w.b", "628222", now)
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		return cloud.Erase(ctx, tx, []string{"+628111", "someone@example.org"})
	}); err != nil {
		t.Fatal(err)
	}
	var w, s int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM whatsapp_cloud_windows`).Scan(&w)
	db.QueryRow(ctx, `SELECT COUNT(*) FROM whatsapp_cloud_sent WHERE recipient = '628222'`).Scan(&s)
	var left int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM whatsapp_cloud_sent`).Scan(&left)
	if w != 1 || s != 1 || left != 1 {
		t.Fatalf("after erasure: %d windows, %d sent markers (%d of the other citizen)", w, left, s)
	}
}
