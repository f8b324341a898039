package tickets_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"lindungi/coded"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tickets"
)

func newTicket(t *testing.T, db *store.DB, ts *tickets.Store, addr, text string, fields map[string]string) tickets.Ticket {
	t.Helper()
	ctx := context.Background()
	var tk tickets.Ticket
	err := db.InTx(ctx, func(tx *store.Tx) error {
		c, err := ts.UpsertContact(ctx, tx, "simulator", addr, "Budi")
		if err != nil {
			return err
		}
		tk, err = ts.Create(ctx, tx, tickets.NewTicket{ContactID: c.ID, Channel: "simulator", Subject: "s", Category: "certificate_missing", Fields: fields})
		if err != nil {
			return err
		}
		_, err = ts.AddMessage(ctx, tx, tickets.NewMessage{TicketID: tk.ID, ContactID: c.ID, Direction: "in", Channel: "simulator", ExternalID: addr + text, Text: text,
			Attachments: []tickets.NewAttachment{{Name: "../../etc/passwd", ContentType: "image/jpeg", Data: []byte("jpeg")}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestTicketNumbersAndDetail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ts := tickets.New(db, storetest.Sealer(t))
		a := newTicket(t, db, ts, "+628111", "sertifikat saya belum keluar", map[string]string{"nik": "3174014501900001", "name": "Budi"})
		b := newTicket(t, db, ts, "+628112", "data salah", nil)
		if !strings.HasPrefix(a.Number, "PL-") || !strings.HasSuffix(a.Number, "-000001") || !strings.HasSuffix(b.Number, "-000002") {
			t.Fatalf("numbers %s %s", a.Number, b.Number)
		}
		got, msgs, err := ts.Detail(context.Background(), strings.ToLower(a.Number))
		if err != nil {
			t.Fatal(err)
		}
		if got.NIKMasked != "3174********0001" || got.Fields["nik"] != "3174014501900001" {
			t.Errorf("nik masked %q, fields %v", got.NIKMasked, got.Fields)
		}
		if len(msgs) != 1 || len(msgs[0].Attachments) != 1 || msgs[0].Attachments[0].Name != "passwd" {
			t.Errorf("messages %+v", msgs)
		}
		// The sealed column holds no clear NIK.
		var raw []byte
		db.QueryRow(context.Background(), `SELECT fields_sealed FROM tickets WHERE id = ?`, a.ID).Scan(&raw)
		if strings.Contains(string(raw), "3174014501900001") {
			t.Error("NIK stored in clear")
		}
		_, _, err = ts.Detail(context.Background(), "PL-2026-999999")
		if ce, ok := coded.As(err); !ok || ce.Kind != coded.NotFound {
			t.Errorf("unknown ticket: %v", err)
		}
	})
}

func TestSearchAndFilter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ts := tickets.New(db, storetest.Sealer(t))
		newTicket(t, db, ts, "+628111", "sertifikat vaksin belum muncul", nil)
		newTicket(t, db, ts, "+628112", "OTP tidak masuk", nil)
		ctx := context.Background()
		for _, tc := range []struct {
			q    string
			want int
		}{{"sertifikat", 1}, {"OTP", 1}, {`"); DROP TABLE tickets; --`, 0}, {"tidak ada", 0}, {"", 2}} {
			got, _, err := ts.List(ctx, tickets.Filter{Q: tc.q})
			if err != nil {
				t.Fatalf("q=%q: %v", tc.q, err)
			}
			if len(got) != tc.want {
				t.Errorf("q=%q: %d tickets, want %d", tc.q, len(got), tc.want)
			}
		}
		page, next, err := ts.List(ctx, tickets.Filter{Limit: 1})
		if err != nil || len(page) != 1 || next == "" {
			t.Fatalf("page 1: %v %q %v", page, next, err)
		}
		page2, next2, err := ts.List(ctx, tickets.Filter{Limit: 1, Cursor: next})
		if err != nil || len(page2) != 1 || next2 != "" || page2[0].Number == page[0].Number {
			t.Fatalf("page 2: %v %q %v", page2, next2, err)
		}
	})
}

func TestWorkflow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ts := tickets.New(db, storetest.Sealer(t))
		tk := newTicket(t, db, ts, "+628111", "x", nil)
		ctx := context.Background()
		move := func(to string) error {
			return db.InTx(ctx, func(tx *store.Tx) error {
				var err error
				tk, err = ts.Update(ctx, tx, tk, tickets.Patch{Status: &to})
				return err
			})
		}
		for _, step := range []struct {
			to string
			ok bool
		}{{"pending", true}, {"resolved", true}, {"open", true}, {"closed", true}, {"open", false}, {"bogus", false}} {
			err := move(step.to)
			if (err == nil) != step.ok {
				t.Errorf("move to %s: %v (want ok=%v)", step.to, err, step.ok)
			}
			var ce *coded.Error
			if err != nil && !errors.As(err, &ce) {
				t.Errorf("move to %s: uncoded error %v", step.to, err)
			}
		}
		if tk.ClosedAt == nil || tk.ResolvedAt == nil {
			t.Error("closing did not stamp closed_at/resolved_at")
		}
	})
}

func TestSafeFileName(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd": "passwd", `C:\Users\x\foto ktp.jpg`: "foto ktp.jpg", "": "attachment", ".htaccess": "htaccess",
		"a\x00b.pdf": "ab.pdf", "con<>.txt": "con__.txt",
	} {
		if got := tickets.SafeFileName(in); got != want {
			t.Errorf("SafeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
