package tickets

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"lindungi/store"
	"lindungi/store/storetest"
)

// TestSearchShapesAgree: on SQLite a search for common words walks the
// tickets (EXISTS) instead of looking up each match's ticket (IN). Both
// must return the same tickets in the same pages, for every view and
// order that takes the walk, including tickets whose matching message came
// later (a follow-up to an old ticket).
func TestSearchShapesAgree(t *testing.T) {
	db := storetest.SQLite(t)
	s := New(db, storetest.Sealer(t))
	ctx := context.Background()
	words := []string{"sertifikat", "vaksin", "ganti nomor", "wamena", "belum muncul", "nik dipakai orang"}
	err := db.InTx(ctx, func(tx *store.Tx) error {
		c, err := s.UpsertContact(ctx, tx, "email", "warga@example.id", "")
		if err != nil {
			return err
		}
		var ids []int64
		for i := range 240 {
			tk, err := s.Create(ctx, tx, NewTicket{ContactID: c.ID, Channel: "email", Subject: "aduan", Category: Other})
			if err != nil {
				return err
			}
			ids = append(ids, tk.ID)
			text := fmt.Sprintf("%s %s ke-%d", words[i%len(words)], words[(i*7)%len(words)], i)
			if _, err := s.AddMessage(ctx, tx, NewMessage{TicketID: tk.ID, ContactID: c.ID, Direction: "in", Channel: "email",
				ExternalID: fmt.Sprint("m", i), Subject: "aduan", Text: text, Fresh: true}); err != nil {
				return err
			}
			if i%9 == 0 && i > 0 { // a late follow-up on an older ticket
				old := ids[(i*13)%len(ids)]
				if _, err := s.AddMessage(ctx, tx, NewMessage{TicketID: old, ContactID: c.ID, Direction: "in", Channel: "email",
					ExternalID: fmt.Sprint("f", i), Subject: "aduan", Text: "kulkas wamena lagi", Fresh: true}); err != nil {
					return err
				}
			}
			if i%3 == 0 { // past the SLA, unanswered: Breaching
				if _, err := tx.Exec(ctx, `UPDATE tickets SET created_at = ? WHERE id = ?`, time.Now().UTC().Add(-30*24*time.Hour), tk.ID); err != nil {
					return err
				}
			}
			if i%4 == 0 {
				if _, err := tx.Exec(ctx, `UPDATE tickets SET status = 'closed' WHERE id = ?`, tk.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pages := func(f Filter) [][]int64 {
		t.Helper()
		var out [][]int64
		for {
			list, next, err := s.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var page []int64
			for _, tk := range list {
				page = append(page, tk.ID)
			}
			out = append(out, page)
			if next == "" || len(out) > 100 {
				return out
			}
			f.Cursor = next
		}
	}
	defer func(v int) { commonMatches = v }(commonMatches)
	for _, q := range []string{"sertifikat", "wamena", "ganti nomor", "kulkas", "tidak ada"} {
		for _, view := range []string{"", ViewAll, ViewUnassigned, ViewBreaching} {
			for _, sort := range []string{"", SortNewest, SortOldest} {
				f := Filter{Q: q, View: view, Sort: sort, Limit: 7}
				commonMatches = 1 << 30
				in := pages(f)
				commonMatches = 1
				walk := pages(f)
				if !slices.EqualFunc(in, walk, func(a, b []int64) bool { return slices.Equal(a, b) }) {
					t.Errorf("q=%q view=%q sort=%q: pages differ\nIN     %v\nEXISTS %v", q, view, sort, in, walk)
				}
				if q == "sertifikat" && len(in[0]) == 0 {
					t.Errorf("q=%q view=%q: nothing found", q, view)
				}
			}
		}
	}
}
