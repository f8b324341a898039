package tickets_test

import (
	"context"
	"testing"

	"lindungi/coded"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tickets"
)

// Notes stay with their ticket and go when it is anonymised; canned
// replies fill in their variables; a person's tickets span linked contacts.
func kindOf(err error) coded.Kind {
	if ce, ok := coded.As(err); ok {
		return ce.Kind
	}
	return 0
}

func TestNotesCannedAndPersonTickets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := tickets.New(db, storetest.Sealer(t))
		a := newTicket(t, db, ts, "+628120", "pertama", nil)
		b := newTicket(t, db, ts, "+628121", "kedua", nil)
		c := newTicket(t, db, ts, "+628122", "orang lain", nil)
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := ts.AddNote(ctx, tx, a.ID, "sari", "Sudah dicek di PCare: dosis 2 tercatat."); err != nil {
				return err
			}
			if _, err := ts.AddNote(ctx, tx, a.ID, "sari", "  "); kindOf(err) != coded.Invalid {
				t.Errorf("blank note: %v, want invalid", err)
			}
			return ts.LinkContacts(ctx, tx, a.ContactID, b.ContactID)
		})
		if err != nil {
			t.Fatal(err)
		}
		notes, err := ts.Notes(ctx, a.ID)
		if err != nil || len(notes) != 1 || notes[0].Author != "sari" {
			t.Fatalf("notes %+v, %v", notes, err)
		}
		others, err := ts.PersonTickets(ctx, a, 10)
		if err != nil || len(others) != 1 || others[0].Number != b.Number {
			t.Errorf("person's other tickets %+v, %v; want only %s (not %s)", others, err, b.Number, c.Number)
		}

		var cr tickets.Canned
		err = db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			cr, err = ts.SaveCanned(ctx, tx, tickets.Canned{Title: "Sertifikat terbit", Text: "Yth. {{nama}}, sertifikat untuk tiket {{nomor}} sudah terbit."}, "supervisor.dewi")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ name, want string }{
			{"Budi", "Yth. Budi, sertifikat untuk tiket " + a.Number + " sudah terbit."},
			{"", "Yth. Bapak/Ibu, sertifikat untuk tiket " + a.Number + " sudah terbit."},
		} {
			tk := a
			tk.ContactName = tc.name
			if got := cr.Expand(tk); got != tc.want {
				t.Errorf("Expand with name %q: %q, want %q", tc.name, got, tc.want)
			}
		}
		err = db.InTx(ctx, func(tx *store.Tx) error {
			_, err := ts.SaveCanned(ctx, tx, tickets.Canned{Title: "Sertifikat terbit", Text: "lain"}, "x")
			return err
		})
		if kindOf(err) != coded.Conflict {
			t.Errorf("second canned reply of the same title: %v, want conflict", err)
		}

		if err := db.InTx(ctx, func(tx *store.Tx) error { return tickets.AnonymiseTickets(ctx, tx, []int64{a.ID}, ts.Now()) }); err != nil {
			t.Fatal(err)
		}
		if notes, _ := ts.Notes(ctx, a.ID); len(notes) != 0 {
			t.Errorf("an anonymised ticket kept its notes: %+v", notes)
		}
	})
}
