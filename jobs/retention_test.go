package jobs_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/audit"
	"lindungi/channels"
	"lindungi/jobs"
	"lindungi/privacy"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/testlog"
	"lindungi/tickets"
)

// The fake "now" of every retention test; cut-offs fall on whole seconds.
var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func fixedScheduler(t *testing.T, db *store.DB, at time.Time) (*jobs.Scheduler, *testlog.Buffer, func(string, map[string]string) float64) {
	s, reg, logs := newScheduler(t, db, jobs.Options{Now: func() time.Time { return at }})
	return s, logs, func(name string, l map[string]string) float64 { return metric(t, reg, name, l) }
}

func mustExec(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestOutboxCleanupBoundaries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ret := 30 * 24 * time.Hour
		cut := now.Add(-ret)
		rows := []struct {
			id, status string
			sent       *time.Time
			gone       bool
		}{
			{"before", "sent", ptr(cut.Add(-time.Second)), true},
			{"ancient", "sent", ptr(cut.AddDate(-1, 0, 0)), true},
			{"at", "sent", ptr(cut), false},
			{"after", "sent", ptr(cut.Add(time.Second)), false},
			{"queued", "queued", nil, false},
			{"dead", "dead", nil, false},
			{"sending", "sending", nil, false},
		}
		for _, r := range rows {
			var sent any
			if r.sent != nil {
				sent = *r.sent
			}
			mustExec(t, db, `INSERT INTO outbox (id, channel, recipient, kind, payload, status, next_attempt_at, created_at, sent_at) VALUES (?, 'whatsapp', '+6281200000000', 'reply', '{}', ?, ?, ?, ?)`,
				r.id, r.status, cut.AddDate(-2, 0, 0), cut.AddDate(-2, 0, 0), sent)
		}
		s, _, _ := fixedScheduler(t, db, now)
		s.MustRegister(channels.OutboxCleanup(db, ret))
		run, err := s.RunOnce(ctx, "outbox-cleanup")
		if err != nil || run.Rows != 2 {
			t.Fatalf("run: %+v %v", run, err)
		}
		for _, r := range rows {
			var n int
			db.QueryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE id = ?`, r.id).Scan(&n)
			if (n == 0) != r.gone {
				t.Errorf("outbox row %q: present=%v, want deleted=%v", r.id, n == 1, r.gone)
			}
		}
	})
}

func ptr(t time.Time) *time.Time { return &t }

// Housekeeping deletes strictly older than each cut-off and nothing else:
// live sessions, recent dedupe keys (a redelivery must still be caught) and
// dead letters inside the outbox retention stay.
func TestHousekeepingBoundaries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ret := 30 * 24 * time.Hour
		keyCut := now.Add(-tickets.DedupeKeyRetention)
		mustExec(t, db, `INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1, 'op', 'operator', 'x', ?)`, now)
		sessions := map[string]time.Time{"expired": now.Add(-time.Second), "at": now, "live": now.Add(time.Hour)}
		for tok, exp := range sessions {
			mustExec(t, db, `INSERT INTO sessions (token_hash, user_id, csrf, expires_at) VALUES (?, 1, 'c', ?)`, tok, exp)
		}
		keys := map[string]time.Time{"old": keyCut.Add(-time.Second), "at": keyCut, "new": now}
		for id, at := range keys {
			// The same external ID on two channels: the composite key must
			// be deleted as a pair, never by external ID alone. E-mail keys
			// are kept however old (a folder rescan must still find them).
			mustExec(t, db, `INSERT INTO inbound_keys (channel, external_id, received_at) VALUES ('whatsapp', ?, ?)`, id, at)
			mustExec(t, db, `INSERT INTO inbound_keys (channel, external_id, received_at) VALUES ('email', ?, ?)`, id, at)
		}
		outbox := map[string]struct {
			status  string
			created time.Time
		}{
			"dead-old": {"dead", now.Add(-ret - time.Second)}, "dead-new": {"dead", now.Add(-ret + time.Second)},
			"queued-old": {"queued", now.Add(-ret - time.Hour)},
		}
		for id, r := range outbox {
			mustExec(t, db, `INSERT INTO outbox (id, channel, recipient, kind, payload, status, next_attempt_at, created_at) VALUES (?, 'whatsapp', '+6281200000000', 'reply', '{}', ?, ?, ?)`,
				id, r.status, r.created, r.created)
		}
		s, _, _ := fixedScheduler(t, db, now)
		s.MustRegister(jobs.Housekeeping(db, accounts.SessionSweep(), tickets.ChatKeySweep(db), channels.DeadSweep(ret)))
		run, err := s.RunOnce(ctx, "housekeeping")
		if err != nil || run.Rows != 3 {
			t.Fatalf("run: %+v %v (want 3 rows: one session, one key, one dead letter)", run, err)
		}
		for _, c := range []struct {
			q    string
			want int
		}{
			{`SELECT COUNT(*) FROM sessions WHERE token_hash = 'expired'`, 0},
			{`SELECT COUNT(*) FROM sessions WHERE token_hash IN ('at', 'live')`, 2},
			{`SELECT COUNT(*) FROM inbound_keys WHERE channel = 'whatsapp' AND external_id = 'old'`, 0},
			{`SELECT COUNT(*) FROM inbound_keys WHERE channel = 'whatsapp' AND external_id IN ('at', 'new')`, 2},
			{`SELECT COUNT(*) FROM inbound_keys WHERE channel = 'email'`, 3},
			{`SELECT COUNT(*) FROM outbox WHERE id = 'dead-old'`, 0},
			{`SELECT COUNT(*) FROM outbox WHERE id IN ('dead-new', 'queued-old')`, 2},
		} {
			if n := count(t, db, c.q); n != c.want {
				t.Errorf("%s = %d, want %d", c.q, n, c.want)
			}
		}
	})
}

type seeded struct {
	ticketID, contactID int64
	messageIDs          []int64
}

// seedTicket creates a contact (unless contactID is given), a ticket with
// personal fields, an inbound message with an attachment and dedupe key,
// an operator reply and a sent outbox row, all stamped created.
func seedTicket(t *testing.T, ts *tickets.Store, db *store.DB, contactID int64, who string, created time.Time) seeded {
	t.Helper()
	ctx := context.Background()
	ts.Now = func() time.Time { return created }
	var s seeded
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if contactID == 0 {
			c, err := ts.UpsertContact(ctx, tx, "email", who+"@example.com", "Nama "+who)
			if err != nil {
				return err
			}
			contactID = c.ID
		}
		s.contactID = contactID
		tk, err := ts.Create(ctx, tx, tickets.NewTicket{ContactID: contactID, Channel: "email", Subject: "Sertifikat " + who, Category: "certificate_missing",
			Fields: map[string]string{"name": "Nama " + who, "nik": "3174011201900001", "phone": "+6281234567890"}})
		if err != nil {
			return err
		}
		s.ticketID = tk.ID
		in, err := ts.AddMessage(ctx, tx, tickets.NewMessage{TicketID: tk.ID, ContactID: contactID, Direction: "in", Channel: "email", ExternalID: "<" + who + "@mail.example.com>",
			Subject: "Sertifikat " + who, Text: "Nama saya Nama " + who + ", NIK 3174011201900001",
			Attachments: []tickets.NewAttachment{{Name: "ktp-" + who + ".jpg", ContentType: "image/jpeg", Data: []byte("jpeg")}}})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO inbound_keys (channel, external_id, message_id, received_at) VALUES ('email', ?, ?, ?)`, "<"+who+"@mail.example.com>", in, created); err != nil {
			return err
		}
		out, err := ts.AddMessage(ctx, tx, tickets.NewMessage{TicketID: tk.ID, ContactID: contactID, Direction: "out", Channel: "email", Author: "operator ani", Text: "Baik Bapak " + who})
		if err != nil {
			return err
		}
		s.messageIDs = []int64{in, out}
		_, err = tx.Exec(ctx, `INSERT INTO outbox (id, channel, recipient, ticket_id, kind, payload, status, next_attempt_at, created_at, sent_at) VALUES (?, 'email', ?, ?, 'reply', ?, 'sent', ?, ?, ?)`,
			"ob-"+who, who+"@example.com", tk.ID, `{"text":"Baik Bapak `+who+`"}`, created, created, created)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func closeAt(t *testing.T, db *store.DB, ticketID int64, at time.Time) {
	mustExec(t, db, `UPDATE tickets SET status = 'closed', resolved_at = ?, closed_at = ?, rating = 4 WHERE id = ?`, at, at, ticketID)
}

type ticketRow struct {
	subject, category, channel, nikMasked, flags, status string
	sealed                                               []byte
	rating                                               int
	anonymised                                           sql.NullTime
	created, closed                                      sql.NullTime
}

func readTicket(t *testing.T, db *store.DB, id int64) ticketRow {
	t.Helper()
	var r ticketRow
	if err := db.QueryRow(context.Background(), `SELECT subject, category, channel, nik_masked, flags, status, fields_sealed, rating, anonymised_at, created_at, closed_at FROM tickets WHERE id = ?`, id).
		Scan(&r.subject, &r.category, &r.channel, &r.nikMasked, &r.flags, &r.status, &r.sealed, &r.rating, &r.anonymised, &r.created, &r.closed); err != nil {
		t.Fatal(err)
	}
	return r
}

func count(t *testing.T, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestTicketRetentionBoundaries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sealer := storetest.Sealer(t)
		ts := tickets.New(db, sealer)
		ret := 365 * 24 * time.Hour
		cut := now.Add(-ret)
		long := cut.AddDate(-1, 0, 0)

		before := seedTicket(t, ts, db, 0, "before", long) // closed 1 s before the cut-off: due
		closeAt(t, db, before.ticketID, cut.Add(-time.Second))
		at := seedTicket(t, ts, db, 0, "at", long) // closed exactly at the cut-off: kept
		closeAt(t, db, at.ticketID, cut)
		after := seedTicket(t, ts, db, 0, "after", long)
		closeAt(t, db, after.ticketID, cut.Add(time.Second))
		resolved := seedTicket(t, ts, db, 0, "resolved", long) // resolved, never closed: kept
		mustExec(t, db, `UPDATE tickets SET status = 'resolved', resolved_at = ? WHERE id = ?`, long, resolved.ticketID)
		open := seedTicket(t, ts, db, 0, "open", long) // open for two years: kept
		// A citizen with an old closed ticket and a recent one: the old
		// ticket goes, the contact stays.
		mixedOld := seedTicket(t, ts, db, 0, "mixed", long)
		closeAt(t, db, mixedOld.ticketID, cut.Add(-24*time.Hour))
		mixedNew := seedTicket(t, ts, db, mixedOld.contactID, "mixed2", now.Add(-time.Hour))

		s, _, _ := fixedScheduler(t, db, now)
		p := privacy.New(db, sealer, nil)
		s.MustRegister(p.RetentionTickets(ret))
		run, err := s.RunOnce(ctx, "retention-tickets")
		if err != nil || run.Rows != 2 {
			t.Fatalf("run: %+v %v", run, err)
		}

		for _, due := range []seeded{before, mixedOld} {
			r := readTicket(t, db, due.ticketID)
			if r.subject != "" || r.nikMasked != "" || len(r.sealed) != 0 || !r.anonymised.Valid || !r.anonymised.Time.Equal(now) {
				t.Errorf("ticket %d not anonymised: %+v", due.ticketID, r)
			}
			if r.category != "certificate_missing" || r.channel != "email" || r.rating != 4 || r.status != "closed" || !r.created.Valid || !r.closed.Valid {
				t.Errorf("ticket %d lost its statistics: %+v", due.ticketID, r)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM messages WHERE ticket_id = ? AND (body <> '' OR subject <> '' OR external_id <> '')`, due.ticketID); n != 0 {
				t.Errorf("ticket %d: %d messages still have text", due.ticketID, n)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM messages WHERE ticket_id = ?`, due.ticketID); n != 2 {
				t.Errorf("ticket %d: message count (a statistic) changed to %d", due.ticketID, n)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.ticket_id = ?`, due.ticketID); n != 0 {
				t.Errorf("ticket %d: %d attachments left", due.ticketID, n)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM inbound_keys WHERE message_id = ?`, due.messageIDs[0]); n != 0 {
				t.Errorf("ticket %d: inbound key left", due.ticketID)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM outbox WHERE ticket_id = ?`, due.ticketID); n != 0 {
				t.Errorf("ticket %d: outbox rows left", due.ticketID)
			}
		}
		for _, kept := range []seeded{at, after, resolved, open, mixedNew} {
			r := readTicket(t, db, kept.ticketID)
			if r.subject == "" || len(r.sealed) == 0 || r.nikMasked == "" || r.anonymised.Valid {
				t.Errorf("ticket %d changed although not due: %+v", kept.ticketID, r)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.ticket_id = ?`, kept.ticketID); n != 1 {
				t.Errorf("ticket %d: attachment gone", kept.ticketID)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM outbox WHERE ticket_id = ?`, kept.ticketID); n != 1 {
				t.Errorf("ticket %d: outbox row gone", kept.ticketID)
			}
		}
		// The due-only contact is anonymised; the one with a recent ticket is not.
		var name, addr string
		db.QueryRow(ctx, `SELECT name, address FROM contacts WHERE id = ?`, before.contactID).Scan(&name, &addr)
		if name != "" || addr != fmt.Sprintf("erased:%d", before.contactID) {
			t.Errorf("contact of the due ticket: %q %q", name, addr)
		}
		db.QueryRow(ctx, `SELECT name, address FROM contacts WHERE id = ?`, mixedOld.contactID).Scan(&name, &addr)
		if name != "Nama mixed" || addr != "mixed@example.com" {
			t.Errorf("active contact was anonymised: %q %q", name, addr)
		}
		db.QueryRow(ctx, `SELECT name FROM contacts WHERE id = ?`, at.contactID).Scan(&name)
		if name != "Nama at" {
			t.Errorf("contact of the kept ticket: %q", name)
		}
		// The blanked words are gone from the SQLite full-text index's own
		// tables too, not only from messages.
		if !storetest.IsPostgres(db) {
			for _, q := range []string{`SELECT COUNT(*) FROM messages_fts_segdir WHERE instr(root, CAST('before' AS BLOB)) > 0`,
				`SELECT COUNT(*) FROM messages_fts_segments WHERE instr(block, CAST('before' AS BLOB)) > 0`} {
				if n := count(t, db, q); n != 0 {
					t.Errorf("full-text index still holds erased words: %s → %d", q, n)
				}
			}
			if n := count(t, db, `SELECT COUNT(*) FROM messages_fts_segdir WHERE instr(root, CAST('after' AS BLOB)) > 0`) +
				count(t, db, `SELECT COUNT(*) FROM messages_fts_segments WHERE instr(block, CAST('after' AS BLOB)) > 0`); n == 0 {
				t.Error("full-text index lost the words of a kept ticket")
			}
		}
		// Idempotent: nothing more is due.
		if run, err := s.RunOnce(ctx, "retention-tickets"); err != nil || run.Rows != 0 {
			t.Errorf("second run: %+v %v", run, err)
		}
		if es, _, _ := audit.List(ctx, db, audit.Filter{Actor: "system:retention-tickets"}, "", 10); len(es) != 1 {
			t.Errorf("audit rows: %d", len(es))
		}
	})
}

func TestSLAEscalationBoundaries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := tickets.New(db, storetest.Sealer(t))
		sla := 24 * time.Hour
		cut := now.Add(-sla)
		mk := func(who string, created time.Time, status, flags string, responded bool) int64 {
			s := seedTicket(t, ts, db, 0, who, created)
			mustExec(t, db, `UPDATE tickets SET status = ?, flags = ? WHERE id = ?`, status, flags, s.ticketID)
			if responded {
				mustExec(t, db, `UPDATE tickets SET first_response_at = ? WHERE id = ?`, created.Add(time.Minute), s.ticketID)
			}
			return s.ticketID
		}
		due := mk("due", cut.Add(-time.Second), "open", "", false)
		duePending := mk("duep", cut.AddDate(0, 0, -3), "pending", "unparseable", false)
		atCut := mk("at", cut, "open", "", false)
		recent := mk("recent", cut.Add(time.Second), "open", "", false)
		answered := mk("answered", cut.AddDate(0, 0, -3), "open", "", true)
		resolved := mk("resolved", cut.AddDate(0, 0, -3), "resolved", "", false)
		already := mk("already", cut.AddDate(0, 0, -3), "open", "sla_breached", false)

		s, logs, m := fixedScheduler(t, db, now)
		s.MustRegister(tickets.NewStore(db, storetest.Sealer(t), tickets.Config{SLA: sla}).SLAEscalation())
		run, err := s.RunOnce(ctx, "sla-escalation")
		if err != nil || run.Rows != 2 {
			t.Fatalf("run: %+v %v", run, err)
		}
		want := map[int64]string{due: "sla_breached", duePending: "unparseable,sla_breached", atCut: "", recent: "", answered: "", resolved: "", already: "sla_breached"}
		for id, f := range want {
			if got := readTicket(t, db, id).flags; got != f {
				t.Errorf("ticket %d flags %q, want %q", id, got, f)
			}
		}
		if v := m("lindungi_job_alerts_total", map[string]string{"job": "sla-escalation", "alert": "sla_breached"}); v != 2 {
			t.Errorf("alert metric %v", v)
		}
		es, _, _ := audit.List(ctx, db, audit.Filter{Action: "ticket.sla_breached"}, "", 10)
		if len(es) != 2 {
			t.Errorf("audit rows %d", len(es))
		}
		l := logs.String()
		if !strings.Contains(l, "breached the response SLA") || strings.Contains(l, "Nama") || strings.Contains(l, "@example.com") || strings.Contains(l, "3174") {
			t.Errorf("warning missing or leaks personal data:\n%s", l)
		}
		if run, _ := s.RunOnce(ctx, "sla-escalation"); run.Rows != 0 {
			t.Errorf("second run flagged %d again", run.Rows)
		}
	})
}

func TestDSRDeadlineBoundaries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cut := now.Add(-privacy.Deadline)
		mustExec(t, db, `INSERT INTO contacts (id, channel, address, name, created_at, updated_at) VALUES (1, 'whatsapp', '+6281234567890', 'Budi', ?, ?)`, cut, cut)
		ins := func(status string, at time.Time) int64 {
			var id int64
			if err := db.QueryRow(ctx, `INSERT INTO dsr_requests (kind, contact_id, actor, status, requested_at) VALUES ('export', 1, 'user:ani', ?, ?) RETURNING id`, status, at).Scan(&id); err != nil {
				t.Fatal(err)
			}
			return id
		}
		late := ins("pending", cut.Add(-time.Second))
		onTime := ins("pending", cut)
		fresh := ins("pending", cut.Add(time.Second))
		done := ins("completed", cut.AddDate(0, 0, -10))

		s, _, m := fixedScheduler(t, db, now)
		p := privacy.New(db, storetest.Sealer(t), nil)
		s.MustRegister(p.DSRDeadline())
		run, err := s.RunOnce(ctx, "dsr-deadline")
		if err != nil || run.Rows != 1 {
			t.Fatalf("run: %+v %v", run, err)
		}
		for id, want := range map[int64]bool{late: true, onTime: false, fresh: false, done: false} {
			if n := count(t, db, `SELECT COUNT(*) FROM dsr_requests WHERE id = ? AND escalated_at IS NOT NULL`, id); (n == 1) != want {
				t.Errorf("request %d escalated=%v, want %v", id, n == 1, want)
			}
		}
		if v := m("lindungi_job_alerts_total", map[string]string{"job": "dsr-deadline", "alert": "dsr_overdue"}); v != 1 {
			t.Errorf("alert metric %v", v)
		}
		if run, _ := s.RunOnce(ctx, "dsr-deadline"); run.Rows != 0 {
			t.Errorf("escalated again: %d", run.Rows)
		}
		if es, _, _ := audit.List(ctx, db, audit.Filter{Action: "privacy.request.overdue"}, "", 10); len(es) != 1 || es[0].ObjectID != fmt.Sprint(late) {
			t.Errorf("audit: %+v", es)
		}
	})
}

func TestAuditRetentionBoundaries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// The database's five-year floor uses the real clock, so this test
		// does too (truncated to the second).
		real := time.Now().UTC().Truncate(time.Second)
		keep := 6 * 365 * 24 * time.Hour
		cut := real.Add(-keep)
		for _, r := range []struct {
			id string
			at time.Time
		}{{"before", cut.Add(-time.Second)}, {"at", cut}, {"after", cut.Add(time.Second)}, {"recent", real}} {
			mustExec(t, db, `INSERT INTO audit_log (at, actor, action, object_type, object_id) VALUES (?, 'user:x', 'test', 'x', ?)`, r.at, r.id)
		}
		s, _, _ := fixedScheduler(t, db, real)
		s.MustRegister(jobs.AuditRetention(db, keep))
		run, err := s.RunOnce(ctx, "audit-retention")
		if err != nil || run.Rows != 1 {
			t.Fatalf("run: %+v %v", run, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM audit_log WHERE object_id = 'before'`); n != 0 {
			t.Error("due audit row kept")
		}
		if n := count(t, db, `SELECT COUNT(*) FROM audit_log WHERE object_id IN ('at', 'after', 'recent')`); n != 3 {
			t.Errorf("kept %d of 3 audit rows not due", n)
		}
		// Asking for less than the floor is raised to the floor; the
		// database would refuse anyway.
		if !strings.Contains(jobs.AuditRetention(db, time.Hour).Description, "1825d") {
			t.Error("audit retention below the five-year floor")
		}
	})
}

func TestWhatsAppHealthAlertsWhenLoggedOutTooLong(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := now
		s, logs, m := newSchedulerWithClock(t, db, &clock)
		state := "connected"
		s.MustRegister(jobs.WhatsAppHealth(db, func() string { return state }, 5*time.Minute))
		step := func(d time.Duration, st string) int64 {
			clock = clock.Add(d)
			state = st
			r, err := s.RunOnce(ctx, "whatsapp-health")
			if err != nil {
				t.Fatal(err)
			}
			return r.Rows
		}
		if step(0, "connected") != 0 || step(time.Minute, "logged_out") != 0 || step(4*time.Minute+59*time.Second, "logged_out") != 0 {
			t.Fatal("alerted before the grace period")
		}
		if step(time.Second, "logged_out") != 1 || step(time.Minute, "logged_out") != 1 {
			t.Fatal("no alert after the grace period")
		}
		if step(time.Minute, "connected") != 0 || step(time.Minute, "logged_out") != 0 {
			t.Fatal("alert survived recovery")
		}
		if v := m("lindungi_job_alerts_total", map[string]string{"job": "whatsapp-health", "alert": "whatsapp_logged_out"}); v != 2 {
			t.Errorf("alert metric %v", v)
		}
		if es, _, _ := audit.List(ctx, db, audit.Filter{Action: "channel.logged_out"}, "", 10); len(es) != 1 {
			t.Errorf("audit rows per episode: %d", len(es))
		}
		if !strings.Contains(logs.String(), "whatsapp channel logged out") {
			t.Error("no error log")
		}
	})
}

func newSchedulerWithClock(t *testing.T, db *store.DB, clock *time.Time) (*jobs.Scheduler, *testlog.Buffer, func(string, map[string]string) float64) {
	s, reg, logs := newScheduler(t, db, jobs.Options{Now: func() time.Time { return *clock }})
	return s, logs, func(name string, l map[string]string) float64 { return metric(t, reg, name, l) }
}

// Conversation messages that never became a ticket, and contacts with
// nothing left inside the period, follow the same cut-off.
func TestChatterAndContactRetentionBoundaries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sealer := storetest.Sealer(t)
		ts := tickets.New(db, sealer)
		ret := 365 * 24 * time.Hour
		cut := now.Add(-ret)
		chat := func(who string, at time.Time) (contact, msg int64) {
			ts.Now = func() time.Time { return at }
			err := db.InTx(ctx, func(tx *store.Tx) error {
				c, err := ts.UpsertContact(ctx, tx, "whatsapp", who, "Nama "+who)
				if err != nil {
					return err
				}
				contact = c.ID
				msg, err = ts.AddMessage(ctx, tx, tickets.NewMessage{ContactID: c.ID, Direction: "in", Channel: "whatsapp", ExternalID: "wa-" + who, Text: "NIK saya 3174011201900001",
					Attachments: []tickets.NewAttachment{{Name: "ktp.jpg", Data: []byte("x")}}})
				if err != nil {
					return err
				}
				_, err = tx.Exec(ctx, `INSERT INTO inbound_keys (channel, external_id, message_id, received_at) VALUES ('whatsapp', ?, ?, ?)`, "wa-"+who, msg, at)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		oldC, oldM := chat("+6281100000001", cut.Add(-time.Second))
		atC, atM := chat("+6281100000002", cut)
		newC, newM := chat("+6281100000003", cut.Add(time.Second))
		// Old chatter, but the contact wrote again recently.
		mixC, mixOld := chat("+6281100000004", cut.Add(-time.Hour))
		ts.Now = func() time.Time { return now.Add(-time.Minute) }
		var mixNew int64
		db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			mixNew, err = ts.AddMessage(ctx, tx, tickets.NewMessage{ContactID: mixC, Direction: "in", Channel: "whatsapp", Text: "halo lagi"})
			return err
		})

		s, _, _ := fixedScheduler(t, db, now)
		s.MustRegister(privacy.New(db, sealer, nil).RetentionTickets(ret), jobs.JobHistoryCleanup(db, 24*time.Hour))
		run, err := s.RunOnce(ctx, "retention-tickets")
		if err != nil || run.Rows != 3 { // 2 messages + 1 contact
			t.Fatalf("run: %+v %v", run, err)
		}
		for m, gone := range map[int64]bool{oldM: true, mixOld: true, atM: false, newM: false, mixNew: false} {
			n := count(t, db, `SELECT COUNT(*) FROM messages WHERE id = ?`, m)
			k := count(t, db, `SELECT COUNT(*) FROM inbound_keys WHERE message_id = ?`, m) + count(t, db, `SELECT COUNT(*) FROM attachments WHERE message_id = ?`, m)
			if gone && (n != 0 || k != 0) {
				t.Errorf("message %d due but kept (%d, keys+attachments %d)", m, n, k)
			}
			if !gone && n != 1 {
				t.Errorf("message %d not due but deleted", m)
			}
		}
		for c, erased := range map[int64]bool{oldC: true, atC: false, newC: false, mixC: false} {
			var addr string
			db.QueryRow(ctx, `SELECT address FROM contacts WHERE id = ?`, c).Scan(&addr)
			if strings.HasPrefix(addr, "erased:") != erased {
				t.Errorf("contact %d address %q, erased want %v", c, addr, erased)
			}
		}

		// Job history older than its period goes; newer stays.
		mustExec(t, db, `INSERT INTO job_runs (job, source, node, started_at, finished_at, outcome) VALUES ('old', 'manual', 'x', ?, ?, 'ok'), ('at', 'manual', 'x', ?, ?, 'ok')`,
			now.Add(-24*time.Hour-time.Second), now, now.Add(-24*time.Hour), now)
		run, err = s.RunOnce(ctx, "job-history-cleanup")
		if err != nil || run.Rows != 1 || count(t, db, `SELECT COUNT(*) FROM job_runs WHERE job = 'at'`) != 1 {
			t.Errorf("job history cleanup: %+v %v", run, err)
		}
	})
}
