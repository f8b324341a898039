package tickets_test

import (
	"context"
	"errors"
	"sort"
	"testing"

	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tickets"
)

// TestSearchIndexAtCommit checks the SQLite search index that is written
// once per commit (migration 0009) against what the database holds: a
// message is findable by its final text once its transaction commits, a
// request that fails inside a group commit leaves nothing in the index,
// and a message edited or deleted in the transaction that added it is
// indexed as it ends up, not as it started.
func TestSearchIndexAtCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := tickets.New(db, storetest.Sealer(t))
		add := func(tx *store.Tx, addr, text string) (int64, int64, error) {
			c, err := ts.UpsertContact(ctx, tx, "email", addr, "")
			if err != nil {
				return 0, 0, err
			}
			tk, err := ts.Create(ctx, tx, tickets.NewTicket{ContactID: c.ID, Channel: "email", Subject: "aduan"})
			if err != nil {
				return 0, 0, err
			}
			id, err := ts.AddMessage(ctx, tx, tickets.NewMessage{TicketID: tk.ID, ContactID: c.ID, Direction: "in", Channel: "email",
				ExternalID: addr, Subject: "aduan", Text: text, Fresh: true})
			return tk.ID, id, err
		}
		search := func(q string) []string {
			t.Helper()
			list, _, err := ts.List(ctx, tickets.Filter{Q: q, Limit: 200})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, tk := range list {
				out = append(out, tk.Contact)
			}
			sort.Strings(out)
			return out
		}

		// A group commit where the middle request fails after its message
		// was written.
		boom := errors.New("boom")
		var wait []<-chan error
		for i, addr := range []string{"a@warga.id", "b@warga.id", "c@warga.id"} {
			wait = append(wait, db.GroupTxAsync(ctx, func(tx *store.Tx) error {
				if _, _, err := add(tx, addr, "vaksin ketiga belum tercatat"); err != nil {
					return err
				}
				if i == 1 {
					return boom
				}
				return nil
			}))
		}
		for i, w := range wait {
			if err := <-w; (i == 1) != errors.Is(err, boom) {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		if got := search("tercatat"); len(got) != 2 || got[0] != "a@warga.id" || got[1] != "c@warga.id" {
			t.Errorf("after the group commit, search finds %v; want a@ and c@ (b@ was rolled back)", got)
		}

		// Edited and deleted in the transaction that added them.
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, id, err := add(tx, "d@warga.id", "kata lama sertifikat")
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE messages SET body = 'kata baru sertifikat' WHERE id = ?`, id); err != nil {
				return err
			}
			_, id2, err := add(tx, "e@warga.id", "pesan terhapus sertifikat")
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `DELETE FROM messages WHERE id = ?`, id2)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := search("lama"); len(got) != 0 {
			t.Errorf("the replaced text is still found: %v", got)
		}
		if got := search("baru"); len(got) != 1 || got[0] != "d@warga.id" {
			t.Errorf("the final text is not found: %v", got)
		}
		if got := search("terhapus"); len(got) != 0 {
			t.Errorf("a deleted message is found: %v", got)
		}

		// Deleted in its own transaction and its id taken at once by the
		// next message (SQLite reuses the highest rowid).
		err = db.InTx(ctx, func(tx *store.Tx) error {
			_, id, err := add(tx, "f@warga.id", "kupon sertifikat")
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM messages WHERE id = ?`, id); err != nil {
				return err
			}
			_, id2, err := add(tx, "g@warga.id", "kupon vaksin")
			if err == nil && id2 != id && !storetest.IsPostgres(db) {
				t.Logf("rowid not reused (%d then %d)", id, id2)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := search("kupon"); len(got) != 1 || got[0] != "g@warga.id" {
			t.Errorf("search for the reused id's text finds %v, want g@ only", got)
		}

		// Later edits and deletes of indexed messages still reach the index.
		if _, err := db.Exec(ctx, `UPDATE messages SET body = 'kata ketiga' WHERE external_id = 'd@warga.id'`); err != nil {
			t.Fatal(err)
		}
		if got := search("baru"); len(got) != 0 {
			t.Errorf("text edited after commit is still found: %v", got)
		}
		if got := search("ketiga"); len(got) != 3 {
			t.Errorf("search for 'ketiga' finds %v, want a@, c@ and d@", got)
		}
		if !storetest.IsPostgres(db) {
			var pending int
			db.QueryRow(ctx, `SELECT COUNT(*) FROM messages_fts_pending`).Scan(&pending)
			if pending != 0 {
				t.Errorf("%d rows left on the pending list after commit", pending)
			}
			var ok string
			if err := db.QueryRow(ctx, `INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')`).Scan(&ok); err != nil && err.Error() != "sql: no rows in result set" {
				t.Errorf("FTS integrity-check: %v", err)
			}
		}
	})
}
