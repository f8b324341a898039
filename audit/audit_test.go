package audit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"lindungi/audit"
	"lindungi/store"
	"lindungi/store/storetest"
)

func TestRecordListAndAppendOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Inside a transaction and on the DB: both are Execers.
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			return audit.Record(ctx, tx, "user:ani", "ticket.update", "ticket", "PL-2026-000001", "status open→closed")
		}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 7; i++ {
			if err := audit.Record(ctx, db, "system:sla-escalation", "ticket.sla_breached", "ticket", fmt.Sprint(i), ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := audit.Record(ctx, db, "user:ani", "privacy.export", "contact", "9", "sent to budi@example.com and +62 812-3456-7890, NIK 3174011201900001"); err != nil {
			t.Fatal(err)
		}

		all, next, err := audit.List(ctx, db, audit.Filter{}, "", 0)
		if err != nil || len(all) != 9 || next != "" {
			t.Fatalf("list all: %d %q %v", len(all), next, err)
		}
		if d := all[0].Detail; d != "sent to [redacted] and [redacted], NIK [redacted]" {
			t.Errorf("detail not redacted: %q", d)
		}
		// Paging with a cursor walks every row exactly once.
		seen := map[int64]bool{}
		cur := ""
		for pages := 0; ; pages++ {
			page, nx, err := audit.List(ctx, db, audit.Filter{Actor: "system:sla-escalation"}, cur, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				if seen[e.ID] {
					t.Fatalf("row %d twice", e.ID)
				}
				seen[e.ID] = true
			}
			if nx == "" {
				break
			}
			cur = nx
		}
		if len(seen) != 7 {
			t.Errorf("paged %d rows, want 7", len(seen))
		}
		pre, _, _ := audit.List(ctx, db, audit.Filter{Action: "privacy."}, "", 10)
		if len(pre) != 1 {
			t.Errorf("prefix filter: %d rows", len(pre))
		}
		since, _, _ := audit.List(ctx, db, audit.Filter{Since: time.Now().Add(time.Hour)}, "", 10)
		if len(since) != 0 {
			t.Errorf("since filter: %d rows", len(since))
		}
		if _, _, err := audit.List(ctx, db, audit.Filter{}, "nope", 10); err == nil {
			t.Error("bad cursor accepted")
		}

		// The database refuses to rewrite history.
		if _, err := db.Exec(ctx, `UPDATE audit_log SET actor = 'x'`); err == nil {
			t.Error("UPDATE of audit_log succeeded")
		}
		if _, err := db.Exec(ctx, `DELETE FROM audit_log`); err == nil {
			t.Error("DELETE of recent audit_log rows succeeded")
		}
		// … but rows past the five-year floor may be purged.
		old := time.Now().UTC().AddDate(-6, 0, 0)
		if _, err := db.Exec(ctx, `INSERT INTO audit_log (at, actor, action, object_type, object_id) VALUES (?, 'system:x', 'old', 'x', '1')`, old); err != nil {
			t.Fatal(err)
		}
		res, err := db.Exec(ctx, `DELETE FROM audit_log WHERE action = 'old'`)
		if err != nil {
			t.Fatalf("purging a 6-year-old row: %v", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Errorf("purged %d rows", n)
		}
	})
}
