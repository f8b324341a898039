package main

// The e-mail import's crash safety with the real binary: a process-level
// test, so it stays in the root package (the channel's other end-to-end
// tests are in channels/email).

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"lindungi/channels/email"
	"lindungi/channels/email/dovecottest"
	"lindungi/channels/email/emailtest"
	"lindungi/internal/app/apptest"
	"lindungi/internal/app/proctest"
)

// TestEmailCrashSafetySIGKILL: 10,000 complaints in Dovecot, the real
// binary importing them with the YAML mailbox config, SIGKILLed after 2,000,
// 5,000 and 8,000 stored messages and restarted each time. Afterwards every
// mail is stored once as its own ticket, flagged \Seen in Dovecot, and has
// exactly one acknowledgement row, which the SMTP server received (twice
// only with the same Message-ID).
func TestEmailCrashSafetySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level crash test skipped in -short mode")
	}
	const total = 10000
	kills := []int{2000, 5000, 8000}
	d := dovecottest.Start(t)
	sink := emailtest.StartSMTPSink(t)
	bin := proctest.Binary(t)

	msgs := make([][]byte, total)
	citizenOf := map[string]string{} // Message-ID → sender
	for i := range msgs {
		from := fmt.Sprintf("warga%05d@example.id", i)
		var id string
		msgs[i], id = emailtest.ComplaintMail(i, from)
		citizenOf[id] = from
	}
	start := time.Now()
	d.AppendAll("INBOX", msgs, 4, nil)
	appendTook := time.Since(start)
	if n, err := d.Count("INBOX"); err != nil || n != total {
		t.Fatalf("Dovecot holds %d messages (%v), want %d", n, err, total)
	}
	t.Logf("APPENDed %d messages in %v (%.0f/s, 4 connections, MULTIAPPEND)", total, appendTook.Round(time.Millisecond), float64(total)/appendTook.Seconds())

	data := t.TempDir()
	addr := proctest.FreePort(t)
	cfgFile := emailtest.WriteConfigFile(t, emailtest.YAML(d, sink.Addr, "outbox:\n  rate:\n    email: 1000\n"))
	env := []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr, "LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false"}
	args := []string{"serve", "--config", cfgFile}

	p := proctest.Start(t, bin, env, args...)
	proctest.WaitHealthy(t, addr)

	// Progress, read-only from the SQLite file while the binary writes it.
	ro, err := sql.Open("sqlite3", "file:"+filepath.Join(data, "lindungi.db")+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	stored := func() int {
		var n int
		if err := ro.QueryRow(`SELECT COUNT(*) FROM inbound_keys WHERE channel = 'email'`).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	waitStored := func(want int, what string) {
		// Failure guard only: give up when nothing was stored for 2 minutes.
		last, lastAt := -1, time.Now()
		for {
			n := stored()
			if n >= want {
				return
			}
			if n != last {
				last, lastAt = n, time.Now()
			}
			if time.Since(lastAt) > 2*time.Minute {
				t.Fatalf("%s: stuck at %d messages stored, want %d\nlogs:\n%s", what, n, want, apptest.Tail(p.Logs(), 4000))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Import rate: messages stored per second of process lifetime (from
	// exec to kill or to the last message), restarts included.
	var busy time.Duration
	segStart := time.Now()
	for _, at := range kills {
		waitStored(at, fmt.Sprintf("before the kill at %d", at))
		p.Kill()
		busy += time.Since(segStart)
		t.Logf("SIGKILL with %d messages stored", stored())
		segStart = time.Now()
		p = proctest.Start(t, bin, env, args...)
		proctest.WaitHealthy(t, addr)
	}
	waitStored(total, "after the last restart")
	busy += time.Since(segStart)
	rate := float64(total) / busy.Seconds()
	t.Logf("import: %d messages in %v of process time across 4 runs: %.0f messages/s", total, busy.Round(time.Millisecond), rate)

	// Let the acknowledgements drain and the last \Seen flags land.
	q := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := ro.QueryRow(query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Minute); q(`SELECT COUNT(*) FROM outbox WHERE status <> 'sent'`) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d outbox rows never sent", q(`SELECT COUNT(*) FROM outbox WHERE status <> 'sent'`))
		}
	}
	var unseen []imap.UID
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if unseen, err = d.Unseen("INBOX"); err != nil {
			t.Fatal(err)
		}
		if len(unseen) == 0 || time.Now().After(deadline) {
			break
		}
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	p.Cmd.Wait()

	// Stored exactly once, each its own ticket.
	keys := q(`SELECT COUNT(*) FROM inbound_keys WHERE channel = 'email'`)
	var in, distinct int
	if err := ro.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT external_id) FROM messages WHERE direction = 'in' AND channel = 'email'`).Scan(&in, &distinct); err != nil {
		t.Fatal(err)
	}
	tickets := q(`SELECT COUNT(*) FROM tickets WHERE channel = 'email'`)
	orphans := q(`SELECT COUNT(*) FROM messages WHERE direction = 'in' AND channel = 'email' AND ticket_id IS NULL`)
	if keys != total || in != total || distinct != total || tickets != total || orphans != 0 {
		t.Errorf("stored: %d keys, %d inbound messages (%d distinct external IDs), %d tickets, %d without a ticket; want %d each and 0",
			keys, in, distinct, tickets, orphans, total)
	}
	// Every Message-ID we APPENDed is there.
	rows, err := ro.Query(`SELECT external_id FROM messages WHERE direction = 'in' AND channel = 'email'`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for rows.Next() {
		var ext string
		rows.Scan(&ext)
		id, _ := email.SplitExternalID(ext)
		got[id] = true
	}
	rows.Close()
	missing := 0
	for id := range citizenOf {
		if !got[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d appended Message-IDs not stored", missing)
	}
	// \Seen in Dovecot.
	if len(unseen) > 0 {
		t.Errorf("%d messages still UNSEEN in Dovecot after the import (UIDs %v); a kill between the commit and the STORE leaves a message unflagged unless the runner re-applies after_import to UIDs at or below its cursor",
			len(unseen), firstUIDs(unseen, 10))
	}

	// One acknowledgement row per ticket, each received; resends only with
	// the same Message-ID.
	badTickets := q(`SELECT COUNT(*) FROM tickets t WHERE t.channel = 'email' AND
		(SELECT COUNT(*) FROM outbox o WHERE o.ticket_id = t.id AND o.kind = 'ack') <> 1`)
	ackRows := q(`SELECT COUNT(*) FROM outbox WHERE channel = 'email' AND kind = 'ack'`)
	if badTickets != 0 || ackRows != total {
		t.Errorf("%d tickets without exactly one ack row; %d ack rows, want %d", badTickets, ackRows, total)
	}
	want := map[string]string{} // our Message-ID → recipient
	rows, err = ro.Query(`SELECT o.id, t.number, o.recipient FROM outbox o JOIN tickets t ON t.id = o.ticket_id WHERE o.kind = 'ack'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, number, rcpt string
		rows.Scan(&id, &number, &rcpt)
		want[email.OutboundMessageID(id, number, emailtest.Domain)] = strings.ToLower(rcpt)
	}
	rows.Close()
	received := map[string]int{} // Message-ID → deliveries
	idsPerRcpt := map[string]map[string]bool{}
	strays := 0
	for _, m := range sink.All() {
		received[m.MessageID]++
		if idsPerRcpt[m.Rcpt] == nil {
			idsPerRcpt[m.Rcpt] = map[string]bool{}
		}
		idsPerRcpt[m.Rcpt][m.MessageID] = true
		if rcpt, ok := want[m.MessageID]; !ok || rcpt != m.Rcpt {
			strays++
		}
	}
	notReceived, twice, multiID := 0, 0, 0
	for id := range want {
		switch n := received[id]; {
		case n == 0:
			notReceived++
		case n > 1:
			twice++
		}
	}
	for _, ids := range idsPerRcpt {
		if len(ids) > 1 {
			multiID++
		}
	}
	t.Logf("SMTP: %d mails received, %d distinct Message-IDs, %d acknowledgements resent after a kill (same Message-ID)", sink.Count(), len(received), twice)
	if notReceived != 0 || strays != 0 || multiID != 0 || len(idsPerRcpt) != total {
		t.Errorf("SMTP: %d ack rows never received, %d mails that match no ack row, %d citizens got acks with different Message-IDs, %d citizens reached (want %d)",
			notReceived, strays, multiID, len(idsPerRcpt), total)
	}
}

func firstUIDs(u []imap.UID, n int) []imap.UID {
	if len(u) > n {
		return u[:n]
	}
	return u
}
