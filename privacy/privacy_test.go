package privacy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"lindungi/audit"
	"lindungi/privacy"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tickets"
)

// What identifies the citizen whose data is exported and then deleted.
// Every form a value can take in storage is covered by a substring: the
// phone in E.164, JID and 08… forms all contain "1234567890".
var sitiNeedles = []string{"Siti", "Rahmawati", "1234567890", "siti.rahma@", "3174014506900002", "450690"}

// fakeTracing stands in for the Sijejak package: a table keyed by phone.
type fakeTracing struct{}

func (fakeTracing) Name() string { return "sijejak" }

func (fakeTracing) Export(ctx context.Context, s privacy.Subject) (any, error) {
	return map[string]any{"registeredPhones": s.Phones, "consents": []string{"upload: yes"}}, nil
}

func (fakeTracing) Erase(ctx context.Context, tx *store.Tx, s privacy.Subject) (int64, error) {
	var n int64
	for _, p := range s.Phones {
		res, err := tx.Exec(ctx, `DELETE FROM fake_tracing_devices WHERE phone = ?`, p)
		if err != nil {
			return n, err
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

type citizen struct {
	waContact, mailContact int64
	tickets                []int64
}

func seed(t *testing.T, db *store.DB, ts *tickets.Store, name, phone, mail, nik string) citizen {
	t.Helper()
	ctx := context.Background()
	var c citizen
	ts.Now = func() time.Time { return time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC) }
	jid := strings.TrimPrefix(phone, "+") + "@s.whatsapp.net"
	err := db.InTx(ctx, func(tx *store.Tx) error {
		wa, err := ts.UpsertContact(ctx, tx, "whatsapp", phone, name)
		if err != nil {
			return err
		}
		em, err := ts.UpsertContact(ctx, tx, "email", mail, name)
		if err != nil {
			return err
		}
		if err := ts.LinkContacts(ctx, tx, wa.ID, em.ID); err != nil {
			return err
		}
		c.waContact, c.mailContact = wa.ID, em.ID
		// Bot chatter before a ticket existed.
		if _, err := ts.AddMessage(ctx, tx, tickets.NewMessage{ContactID: wa.ID, Direction: "in", Channel: "whatsapp", ExternalID: "WA1" + nik[:4], Text: "halo, saya " + name}); err != nil {
			return err
		}
		tk, err := ts.Create(ctx, tx, tickets.NewTicket{ContactID: wa.ID, Channel: "whatsapp", Subject: "Data salah: " + name, Category: "change_data",
			Fields: map[string]string{"name": name, "nik": nik, "dob": "1990-06-05", "phone": phone, "email": mail}})
		if err != nil {
			return err
		}
		in, err := ts.AddMessage(ctx, tx, tickets.NewMessage{TicketID: tk.ID, ContactID: wa.ID, Direction: "in", Channel: "whatsapp", ExternalID: "WA2" + nik[:4],
			Text: "Nama " + name + " NIK " + nik + " HP " + phone, Attachments: []tickets.NewAttachment{{Name: "KTP " + name + ".jpg", ContentType: "image/jpeg", Data: []byte("jpeg " + nik)}}})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO inbound_keys (channel, external_id, message_id, received_at) VALUES ('whatsapp', ?, ?, ?)`, "WA2"+nik[:4], in, ts.Now()); err != nil {
			return err
		}
		if _, err := ts.AddMessage(ctx, tx, tickets.NewMessage{TicketID: tk.ID, ContactID: wa.ID, Direction: "out", Channel: "whatsapp", Author: "operator ani", Text: "Baik Ibu " + name + ", data sedang diperbaiki."}); err != nil {
			return err
		}
		mt, err := ts.Create(ctx, tx, tickets.NewTicket{ContactID: em.ID, Channel: "email", Subject: "Sertifikat " + name, Category: "certificate_missing",
			Fields: map[string]string{"name": name, "nik": nik}, ThreadRef: "<x1." + mail + ">"})
		if err != nil {
			return err
		}
		mid, err := ts.AddMessage(ctx, tx, tickets.NewMessage{TicketID: mt.ID, ContactID: em.ID, Direction: "in", Channel: "email", ExternalID: "<x1." + mail + ">",
			Subject: "Sertifikat " + name, Text: "Yth. Kemenkes, saya " + name + " (" + mail + ")", HTML: "<p>saya " + name + "</p>"})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO inbound_keys (channel, external_id, message_id, received_at) VALUES ('email', ?, ?, ?)`, "<x1."+mail+">", mid, ts.Now()); err != nil {
			return err
		}
		if err := ts.SetRating(ctx, tx, mt.ID, 5); err != nil {
			return err
		}
		c.tickets = []int64{tk.ID, mt.ID}
		now := ts.Now()
		for i, o := range []struct{ to, status string }{{jid, "queued"}, {phone, "sent"}, {mail, "dead"}} {
			if _, err := tx.Exec(ctx, `INSERT INTO outbox (id, channel, recipient, ticket_id, kind, payload, status, next_attempt_at, created_at) VALUES (?, 'whatsapp', ?, ?, 'reply', ?, ?, ?, ?)`,
				fmt.Sprintf("ob-%s-%d", nik[:6], i), o.to, tk.ID, `{"text":"Halo `+name+`"}`, o.status, now, now); err != nil {
				return err
			}
		}
		// A notice not tied to a ticket (the deletion confirmation kind).
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (id, channel, recipient, kind, payload, status, next_attempt_at, created_at) VALUES (?, 'email', ?, 'notice', '{}', 'queued', ?, ?)`,
			"notice-"+nik[:6], mail, now, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO bot_state (contact_id, state, updated_at) VALUES (?, ?, ?)`, wa.ID, `{"step":"confirm_name","name":"`+name+`"}`, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO simulator_deliveries (id, recipient, kind, body, delivered_at) VALUES (?, ?, 'reply', ?, ?)`, "sim-"+nik[:6], phone, "Halo "+name, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO fake_tracing_devices (phone, device) VALUES (?, ?)`, phone, "dev-"+nik[:6]); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "user:ani", "ticket.update", "ticket", tk.Number, "category change_data")
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExportThenDeleteLeavesNoTrace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, `CREATE TABLE fake_tracing_devices (phone TEXT NOT NULL, device TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		sealer := storetest.Sealer(t)
		ts := tickets.New(db, sealer)
		siti := seed(t, db, ts, "Siti Rahmawati", "+6281234567890", "siti.rahma@example.com", "3174014506900002")
		bambang := seed(t, db, ts, "Bambang Sutrisno", "+6285711112222", "bambang.s@example.org", "3275011203850003")
		p := privacy.New(db, sealer, nil, fakeTracing{})

		// Export: everything, readable, with the sealed fields opened.
		ex, err := p.Export(ctx, siti.waContact)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex.Contacts) != 2 || len(ex.Tickets) != 2 || len(ex.Messages) != 1 || len(ex.Outbox) != 4 || len(ex.BotState) != 1 {
			t.Fatalf("export: %d contacts, %d tickets, %d loose messages, %d outbox, %d bot state", len(ex.Contacts), len(ex.Tickets), len(ex.Messages), len(ex.Outbox), len(ex.BotState))
		}
		if ex.Tickets[0].Fields["nik"] != "3174014506900002" || len(ex.Tickets[0].Messages) != 2 || len(ex.Tickets[0].Messages[0].Attachments) != 1 {
			t.Errorf("export ticket: %+v", ex.Tickets[0])
		}
		if ex.Other["sijejak"] == nil {
			t.Error("tracing holder not exported")
		}
		txt := ex.Text()
		for _, want := range []string{"Siti Rahmawati", "3174014506900002", "siti.rahma@example.com", "+6281234567890", "KTP Siti Rahmawati.jpg", "data sedang diperbaiki", "sijejak", "upload: yes"} {
			if !strings.Contains(txt, want) {
				t.Errorf("text export lacks %q", want)
			}
		}
		if strings.Contains(txt, "Bambang") {
			t.Error("export contains another citizen's data")
		}
		js, err := ex.JSON()
		if err != nil || !json.Valid(js) {
			t.Fatalf("json: %v", err)
		}
		doc, err := privacy.Documents{S: p}.Export(ctx, siti.mailContact)
		if err != nil || !strings.Contains(doc, "Siti Rahmawati") {
			t.Errorf("documents export: %v", err)
		}
		t.Logf("text export is %d bytes", len(txt))

		// Delete, requested from the other linked contact.
		if err := p.Delete(ctx, siti.mailContact, fmt.Sprintf("citizen:%d", siti.mailContact)); err != nil {
			t.Fatal(err)
		}

		// Every table of the schema, found by enumeration, is searched for
		// every form of the citizen's identity.
		tables := allTables(t, db)
		if len(tables) < 12 {
			t.Fatalf("only %d tables found: %v", len(tables), tables)
		}
		for _, table := range tables {
			for _, hit := range search(t, db, table, sitiNeedles) {
				t.Errorf("after deletion, table %s still holds %q: %s", table, hit.needle, hit.row)
			}
		}
		t.Logf("searched %d tables: %s", len(tables), strings.Join(tables, " "))
		// Below the tables: the bytes of the SQLite file and its log. Freed
		// pages, merged-away index segments and old page images in the WAL
		// must not keep the citizen's words either.
		if db.Dialect() == store.SQLite {
			var raw []byte
			for _, f := range []string{db.Path, db.Path + "-wal"} {
				b, err := os.ReadFile(f)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				raw = append(raw, b...)
			}
			for _, needle := range sitiNeedles {
				if i := bytes.Index(raw, []byte(needle)); i >= 0 {
					t.Errorf("after deletion the database file still holds %q: …%q…", needle, raw[max(0, i-40):min(len(raw), i+60)])
				}
			}
			t.Logf("searched %d bytes of database file and WAL", len(raw))
		}

		// The other citizen is untouched.
		bex, err := p.Export(ctx, bambang.waContact)
		if err != nil || len(bex.Tickets) != 2 || bex.Tickets[0].Fields["nik"] != "3275011203850003" || len(bex.Outbox) != 4 {
			t.Errorf("the other citizen's data was touched: %v %+v", err, bex.Tickets)
		}
		if hits := search(t, db, "contacts", []string{"Bambang Sutrisno"}); len(hits) != 2 {
			t.Errorf("other citizen's contacts: %d", len(hits))
		}

		// Statistics survive: tickets with category, channel, rating,
		// timestamps, now closed and anonymised; message counts.
		for _, id := range siti.tickets {
			var cat, ch, status string
			var rating, msgs int
			var anon, created *time.Time
			if err := db.QueryRow(ctx, `SELECT category, channel, status, rating, anonymised_at, created_at, (SELECT COUNT(*) FROM messages WHERE ticket_id = t.id) FROM tickets t WHERE id = ?`, id).
				Scan(&cat, &ch, &status, &rating, &anon, &created, &msgs); err != nil {
				t.Fatal(err)
			}
			if cat == "" || ch == "" || status != "closed" || anon == nil || created == nil || msgs == 0 {
				t.Errorf("ticket %d statistics: %s %s %s rating %d anonymised %v messages %d", id, cat, ch, status, rating, anon, msgs)
			}
		}
		// The requests and their audit trail.
		reqs, err := p.Requests(ctx, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, r := range reqs {
			if r.Status != privacy.Completed || r.CompletedAt == nil {
				t.Errorf("request %+v not completed", r)
			}
			kinds[r.Kind]++
		}
		if kinds["export"] != 3 || kinds["delete"] != 1 {
			t.Errorf("requests by kind: %v", kinds)
		}
		es, _, err := audit.List(ctx, db, audit.Filter{Action: "privacy."}, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		acts := map[string]int{}
		for _, e := range es {
			acts[e.Action]++
		}
		if acts["privacy.delete.requested"] != 1 || acts["privacy.delete.completed"] != 1 || acts["privacy.export.requested"] != 3 || acts["privacy.export.completed"] != 3 {
			t.Errorf("audit trail: %v", acts)
		}
		// The person is gone: another export finds anonymised shells only.
		after, err := p.Export(ctx, siti.waContact)
		if err != nil {
			t.Fatal(err)
		}
		if len(after.Contacts) != 1 || after.Contacts[0].Name != "" || len(after.Outbox) != 0 || after.BotState != nil {
			t.Errorf("export after deletion: %+v", after)
		}
	})
}

func allTables(t *testing.T, db *store.DB) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
	if storetest.IsPostgres(db) {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out = append(out, n)
	}
	return out
}

type hit struct{ needle, row string }

// search reads every row of table and reports values containing a needle
// (case-insensitive), text and binary columns alike.
func search(t *testing.T, db *store.DB, table string, needles []string) []hit {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT * FROM "`+table+`"`)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var hits []hit
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		var b bytes.Buffer
		for i, v := range vals {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(&b, "%s=%s ", cols[i], v)
			default:
				fmt.Fprintf(&b, "%s=%v ", cols[i], v)
			}
		}
		row := strings.ToLower(b.String())
		for _, n := range needles {
			if strings.Contains(row, strings.ToLower(n)) {
				hits = append(hits, hit{n, b.String()})
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return hits
}

type failingHolder struct{}

func (failingHolder) Name() string                                         { return "broken" }
func (failingHolder) Export(context.Context, privacy.Subject) (any, error) { return nil, nil }
func (failingHolder) Erase(context.Context, *store.Tx, privacy.Subject) (int64, error) {
	return 0, fmt.Errorf("device store offline")
}

// A deletion that fails part-way changes nothing, and the request is
// recorded as failed (the dsr-deadline job escalates it if nobody retries).
func TestDeleteIsAtomicAndRecordsFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, `CREATE TABLE fake_tracing_devices (phone TEXT NOT NULL, device TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		sealer := storetest.Sealer(t)
		siti := seed(t, db, tickets.New(db, sealer), "Siti Rahmawati", "+6281234567890", "siti.rahma@example.com", "3174014506900002")
		p := privacy.New(db, sealer, nil, fakeTracing{}, failingHolder{})
		if err := p.Delete(ctx, siti.waContact, "user:ani"); err == nil {
			t.Fatal("deletion with a failing holder succeeded")
		}
		if hits := search(t, db, "contacts", []string{"Siti Rahmawati"}); len(hits) != 2 {
			t.Errorf("contacts changed by a failed deletion: %d left", len(hits))
		}
		if hits := search(t, db, "fake_tracing_devices", []string{"1234567890"}); len(hits) != 1 {
			t.Errorf("holder data changed by a failed deletion")
		}
		reqs, _ := p.Requests(ctx, privacy.FailedReq, 10)
		if len(reqs) != 1 || !strings.Contains(reqs[0].Error, "device store offline") {
			t.Errorf("failed request: %+v", reqs)
		}
		if err := p.Delete(ctx, 999999, "user:ani"); err != privacy.ErrNoContact {
			t.Errorf("unknown contact: %v", err)
		}
	})
}

// cancellingHolder is a client that goes away while the erasure runs: it
// cancels the request's context from inside the transaction.
type cancellingHolder struct{ cancel context.CancelFunc }

func (cancellingHolder) Name() string                                         { return "cancelling" }
func (cancellingHolder) Export(context.Context, privacy.Subject) (any, error) { return nil, nil }
func (h cancellingHolder) Erase(ctx context.Context, _ *store.Tx, _ privacy.Subject) (int64, error) {
	h.cancel()
	return 0, ctx.Err()
}

// An approved erasure is a legal duty: neither a client that disconnects
// during it nor an approval left without its erasure (by a crash between
// two commits in an older version) may leave the request stuck pending.
func TestApprovedErasureCompletes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, `CREATE TABLE fake_tracing_devices (phone TEXT NOT NULL, device TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		sealer := storetest.Sealer(t)
		ts := tickets.New(db, sealer)
		siti := seed(t, db, ts, "Siti Rahmawati", "+6281234567890", "siti.rahma@example.com", "3174014506900002")
		budi := seed(t, db, ts, "Budi Santoso", "+6281377778888", "budi.s@example.com", "3273010101800001")

		for _, c := range []struct {
			name    string
			contact int64
			// before runs after the request is filed; it returns the
			// context Approve gets and the holders to erase with.
			before func(t *testing.T, id int64) (context.Context, []privacy.Holder)
		}{
			{"client disconnects during the erasure", siti.waContact, func(t *testing.T, id int64) (context.Context, []privacy.Holder) {
				rctx, cancel := context.WithCancel(ctx)
				t.Cleanup(cancel)
				return rctx, []privacy.Holder{fakeTracing{}, cancellingHolder{cancel}}
			}},
			{"approved but never erased (crash between commits)", budi.waContact, func(t *testing.T, id int64) (context.Context, []privacy.Holder) {
				if _, err := db.Exec(ctx, `UPDATE dsr_requests SET approved_by = 'user:sri', approved_at = ? WHERE id = ?`, time.Now().UTC(), id); err != nil {
					t.Fatal(err)
				}
				return ctx, []privacy.Holder{fakeTracing{}}
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				id, err := privacy.New(db, sealer, nil).Request(ctx, privacy.KindDelete, c.contact, "user:ani")
				if err != nil {
					t.Fatal(err)
				}
				actx, holders := c.before(t, id)
				p := privacy.New(db, sealer, nil, holders...)
				if err := p.Approve(actx, id, "user:sri"); err != nil {
					t.Errorf("approve: %v", err)
				}
				var status, approvedBy string
				if err := db.QueryRow(ctx, `SELECT status, approved_by FROM dsr_requests WHERE id = ?`, id).Scan(&status, &approvedBy); err != nil {
					t.Fatal(err)
				}
				if status != privacy.Completed || approvedBy != "user:sri" {
					t.Fatalf("request %d is %s approved by %q, want completed by user:sri", id, status, approvedBy)
				}
				if err := p.Approve(ctx, id, "user:sri"); err != privacy.ErrNotPending {
					t.Errorf("approving a completed request: %v, want ErrNotPending", err)
				}
			})
		}
		if hits := search(t, db, "contacts", []string{"Siti Rahmawati", "Budi Santoso"}); len(hits) != 0 {
			t.Errorf("contacts left after approved erasures: %v", hits)
		}
	})
}
