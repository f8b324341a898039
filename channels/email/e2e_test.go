package email_test

// End-to-end tests of the e-mail channel: a real Dovecot (package
// dovecottest), the YAML mailbox contract, the whole gateway in-process
// (apptest) and emailtest's SMTP sink standing in for the submission server
// and the citizens' mailboxes. The real binary killed with SIGKILL is the
// root package's email_crash_test.go.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"lindungi/accounts"
	"lindungi/channels/email"
	"lindungi/channels/email/dovecottest"
	"lindungi/channels/email/emailtest"
	"lindungi/internal/app"
	"lindungi/internal/app/apptest"
	"lindungi/store/storetest"
)

// ---------------------------------------------------------------------------
// Helpers on the in-process app.

// outboxSettled waits until no outbox row is queued or being sent.
func outboxSettled(t testing.TB, ta *apptest.Gateway) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for ta.Count(t, `SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sending')`) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox never drained")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ticketOf is the number of the ticket holding the inbound mail with msgID.
func ticketOf(ta *apptest.Gateway, t testing.TB, msgID string) string {
	t.Helper()
	var number string
	err := ta.DB.QueryRow(context.Background(), `SELECT t.number FROM messages m JOIN tickets t ON t.id = m.ticket_id
		WHERE m.channel = 'email' AND m.direction = 'in' AND m.external_id > ? AND m.external_id < ?`, msgID+":", msgID+";").Scan(&number)
	if err != nil {
		t.Fatalf("ticket of %s: %v", msgID, err)
	}
	return number
}

// ---------------------------------------------------------------------------
// Must show 2: the autoresponder loop stops.

// TestEmailAutoresponderLoop: a citizen's mailbox answers every mail it gets
// with an out-of-office reply (Auto-Submitted: auto-replied, In-Reply-To our
// mail), APPENDed back into our mailbox. The complaint gets one
// acknowledgement; every out-of-office is a follow-up on the same ticket and
// is not acknowledged. After each round (an operator reply provokes another
// out-of-office) the test waits until the reply is stored and the outbox is
// empty: at that point nothing is left that could send another mail, so the
// counts below are final, not a snapshot.
func TestEmailAutoresponderLoop(t *testing.T) {
	d := dovecottest.Start(t)
	sink := emailtest.StartSMTPSink(t)
	const citizen = "budi.cuti@example.id"
	var oofMu sync.Mutex
	var oofIDs []string
	var oofErr error
	oofN := 0
	// The autoresponder: every mail to the citizen is answered.
	sink.SetOnMail(func(m emailtest.SentMail) {
		if m.Rcpt != citizen {
			return
		}
		oofMu.Lock()
		oofN++
		id := fmt.Sprintf("oof%d.%d@example.id", oofN, time.Now().UnixNano())
		oofMu.Unlock()
		raw := fmt.Sprintf("From: Budi <%s>\r\nTo: %s\r\nSubject: Automatic reply: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n"+
			"In-Reply-To: <%s>\r\nReferences: <%s>\r\nAuto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
			"Terima kasih atas email Anda. Saya sedang cuti sampai 10 Desember dan akan membalas setelah kembali.\r\n",
			citizen, emailtest.Mailbox, m.Subject, time.Now().Format(time.RFC1123Z), id, m.MessageID, m.MessageID)
		err := d.AppendErr("INBOX", []byte(raw))
		oofMu.Lock()
		if err != nil && oofErr == nil {
			oofErr = err
		}
		oofIDs = append(oofIDs, id)
		oofMu.Unlock()
	})
	ta := apptest.Start(t, emailtest.Config(t, emailtest.YAML(d, sink.Addr, "")))
	ctx := context.Background()
	op, err := ta.Accounts.Add(ctx, "petugas-oof", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}

	complaint, complaintID := emailtest.ComplaintMail(1, citizen)
	d.Append("INBOX", complaint)

	const rounds = 4
	for round := 1; round <= rounds; round++ {
		// Round r: r out-of-office replies stored, all on one ticket.
		ta.WaitCount(t, 1+round, `SELECT COUNT(*) FROM messages WHERE channel = 'email' AND direction = 'in'`)
		outboxSettled(t, ta)
		number := ticketOf(ta, t, complaintID)
		if round < rounds {
			// An operator answers; the autoresponder answers that too.
			if code, _ := apptest.APIDo(t, ta.Base, op.Token, "POST", "/api/v1/tickets/"+number+"/replies",
				`{"text":"Mohon kirimkan foto KTP Bapak agar data dapat kami perbaiki."}`); code != http.StatusCreated {
				t.Fatalf("operator reply: %d", code)
			}
		}
	}
	oofMu.Lock()
	if oofErr != nil {
		t.Fatalf("autoresponder APPEND: %v", oofErr)
	}
	ids := append([]string(nil), oofIDs...)
	oofMu.Unlock()

	number := ticketOf(ta, t, complaintID)
	for _, id := range ids {
		if got := ticketOf(ta, t, id); got != number {
			t.Errorf("out-of-office %s went to %s, want %s", id, got, number)
		}
	}
	tickets := ta.Count(t, `SELECT COUNT(*) FROM tickets WHERE channel = 'email'`)
	ackRows := ta.Count(t, `SELECT COUNT(*) FROM outbox WHERE channel = 'email' AND kind = 'ack'`)
	autoRows := ta.Count(t, `SELECT COUNT(*) FROM outbox WHERE channel = 'email' AND kind <> 'reply'`)
	var acks, replies int
	for _, m := range sink.All() {
		if m.Rcpt != citizen {
			t.Errorf("mail to %q", m.Rcpt)
		}
		if m.AutoSubmitted != "" && m.AutoSubmitted != "no" {
			acks++
		} else {
			replies++
		}
	}
	t.Logf("loop: %d out-of-office replies stored on %s, %d acknowledgement(s), %d operator replies sent", len(ids), number, acks, replies)
	if tickets != 1 || ackRows != 1 || autoRows != 1 || acks != 1 {
		t.Errorf("tickets %d, ack rows %d, automatic outbox rows %d, automatic mails received %d; want 1 each", tickets, ackRows, autoRows, acks)
	}
	if replies != rounds-1 || len(ids) != rounds {
		t.Errorf("operator replies received %d (want %d), out-of-office replies %d (want %d)", replies, rounds-1, len(ids), rounds)
	}
	if in := ta.Count(t, `SELECT COUNT(*) FROM messages WHERE channel = 'email' AND direction = 'in'`); in != 1+rounds {
		t.Errorf("inbound messages %d, want %d", in, 1+rounds)
	}
}

// ---------------------------------------------------------------------------
// Must show 3: an operator's reply threads both ways.

// TestEmailOperatorReplyThreading: an operator answers an e-mail ticket over
// the API; the mail reaches SMTP with "Re:", the [PL-…] tag and In-Reply-To
// the citizen's Message-ID; the citizen's answer to it (In-Reply-To our
// Message-ID, subject without the tag) lands on the same ticket.
func TestEmailOperatorReplyThreading(t *testing.T) {
	d := dovecottest.Start(t)
	sink := emailtest.StartSMTPSink(t)
	ta := apptest.Start(t, emailtest.Config(t, emailtest.YAML(d, sink.Addr, "")))
	ctx := context.Background()
	op, err := ta.Accounts.Add(ctx, "petugas-balas", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	const citizen = "siti.rahayu@example.id"
	complaint, complaintID := emailtest.ComplaintMail(2, citizen)
	d.Append("INBOX", complaint)
	ta.WaitCount(t, 1, `SELECT COUNT(*) FROM tickets WHERE channel = 'email'`)
	number := ticketOf(ta, t, complaintID)
	ack := sink.WaitFor(t, "the acknowledgement", func(m emailtest.SentMail) bool { return m.Rcpt == citizen })
	if ack.InReplyTo != complaintID || !strings.Contains(ack.Subject, "["+number+"]") {
		t.Errorf("acknowledgement: In-Reply-To %q Subject %q", ack.InReplyTo, ack.Subject)
	}

	text := "Data Ibu sudah kami perbaiki, silakan cek kembali aplikasi besok pagi."
	if code, _ := apptest.APIDo(t, ta.Base, op.Token, "POST", "/api/v1/tickets/"+number+"/replies", fmt.Sprintf(`{"text":%q}`, text)); code != http.StatusCreated {
		t.Fatalf("reply: %d", code)
	}
	reply := sink.WaitFor(t, "the operator's reply", func(m emailtest.SentMail) bool { return m.Rcpt == citizen && m.AutoSubmitted == "" })
	var ourID string
	if err := ta.DB.QueryRow(ctx, `SELECT id FROM outbox WHERE channel = 'email' AND kind = 'reply'`).Scan(&ourID); err != nil {
		t.Fatal(err)
	}
	wantID := email.OutboundMessageID(ourID, number, emailtest.Domain)
	if !strings.HasPrefix(reply.Subject, "Re: ") || !strings.Contains(reply.Subject, "["+number+"]") || strings.Count(reply.Subject, "Re:") != 1 {
		t.Errorf("reply subject %q: want one Re: and [%s]", reply.Subject, number)
	}
	if reply.InReplyTo != complaintID {
		t.Errorf("reply In-Reply-To %q, want the citizen's %q", reply.InReplyTo, complaintID)
	}
	if reply.MessageID != wantID {
		t.Errorf("reply Message-ID %q, want %q", reply.MessageID, wantID)
	}
	if !strings.Contains(string(reply.Raw), "perbaiki") {
		t.Errorf("reply body lacks the operator's text:\n%s", reply.Raw)
	}

	// The citizen answers from a client that drops the tag from the subject.
	answer := fmt.Sprintf("From: Siti Rahayu <%s>\r\nTo: %s\r\nSubject: Re: %s\r\nDate: %s\r\nMessage-ID: <jawaban.%d@example.id>\r\n"+
		"In-Reply-To: <%s>\r\nReferences: <%s> <%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
		"Terima kasih, sudah muncul sekarang.\r\n\r\n> %s\r\n",
		citizen, emailtest.Mailbox, emailtest.ComplaintSubjects[2%len(emailtest.ComplaintSubjects)], time.Now().Format(time.RFC1123Z), time.Now().UnixNano(),
		reply.MessageID, complaintID, reply.MessageID, text)
	d.Append("INBOX", []byte(answer))
	ta.WaitCount(t, 2, `SELECT COUNT(*) FROM messages WHERE channel = 'email' AND direction = 'in'`)
	var onTicket string
	if err := ta.DB.QueryRow(ctx, `SELECT t.number FROM messages m JOIN tickets t ON t.id = m.ticket_id
		WHERE m.channel = 'email' AND m.direction = 'in' AND m.external_id LIKE 'jawaban.%'`).Scan(&onTicket); err != nil {
		t.Fatal(err)
	}
	if onTicket != number {
		t.Errorf("the citizen's answer went to %q, want %s", onTicket, number)
	}
	if n := ta.Count(t, `SELECT COUNT(*) FROM tickets`); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
	var status string
	ta.DB.QueryRow(ctx, `SELECT status FROM tickets WHERE number = ?`, number).Scan(&status)
	if status != "open" {
		t.Errorf("ticket status after the citizen's answer %q, want open", status)
	}
	outboxSettled(t, ta)
	if n := ta.Count(t, `SELECT COUNT(*) FROM outbox WHERE kind = 'ack'`); n != 1 {
		t.Errorf("%d acknowledgements, want 1 (a follow-up is not acknowledged)", n)
	}

	// The mailbox's progress is on /metrics.
	resp, err := http.Get(ta.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	series := `{folder="INBOX",mailbox="` + emailtest.Mailbox + `"}`
	for _, want := range []string{"lindungi_email_backlog" + series + " 0", "lindungi_email_imported_total" + series + " 2", "lindungi_email_connected" + series + " 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// ---------------------------------------------------------------------------
// Must show 4: import throughput against the raw IMAP baseline.

// BenchmarkEmailImport puts b.N complaints in Dovecot and measures, in the
// same run, (1) a bare go-imap UID FETCH 1:* BODY.PEEK[] with email.Parse of
// every message, nothing durable, and (2) the real app (in-process, mailbox
// from the YAML contract, after_import: seen) importing them into tickets,
// from the app's start until the last ticket is committed. It reports both
// rates and app/raw (target ≥ 0.5).
//
//	go test -run '^$' -bench BenchmarkEmailImport -benchtime 2000x ./channels/email/
//
// With LINDUNGI_BENCH_POSTGRES=1 (and LINDUNGI_TEST_POSTGRES_URL) the app
// runs on PostgreSQL instead of its embedded SQLite. LINDUNGI_BENCH_TRACE=1
// prints the app's debug log and the ticket count over time to stderr (when
// the first chunk commits, the steady rate, the drain).
func BenchmarkEmailImport(b *testing.B) {
	n := b.N
	d := dovecottest.Start(b)
	sink := emailtest.StartSMTPSink(b)
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i], _ = emailtest.ComplaintMail(i, fmt.Sprintf("bench%06d@example.id", i))
	}
	d.AppendAll("INBOX", msgs, 4, nil)
	// Fixture, not import: the first read-write SELECT of a maildir that
	// was just filled moves every file from new/ to cur/ (160 ms for
	// 10,000 here), which the read-only baseline would never pay. A
	// mailbox that receives mail while the gateway is connected moves a
	// few at a time, so both measurements start from a settled mailbox.
	settle := d.MustDial()
	if _, err := settle.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	settle.Close()
	trace := os.Getenv("LINDUNGI_BENCH_TRACE") != ""
	env := []string{"LINDUNGI_LOG_LEVEL=warn"}
	logw := io.Discard
	if trace {
		env[0], logw = "LINDUNGI_LOG_LEVEL=debug", os.Stderr
	}
	if os.Getenv("LINDUNGI_BENCH_POSTGRES") != "" {
		env = append(env, "LINDUNGI_DATABASE_URL="+storetest.PostgresURL(b))
	}
	cfg := emailtest.Config(b, emailtest.YAML(d, sink.Addr, ""), env...)

	b.ResetTimer()
	// (1) the baseline.
	b.StopTimer()
	cpu0, own0 := machineCPU(), processCPU()
	rawStart := time.Now()
	if got := rawFetchParse(b, d); got != n {
		b.Fatalf("raw fetch saw %d messages, want %d", got, n)
	}
	rawTook := time.Since(rawStart)
	cpu1, own1 := machineCPU(), processCPU()

	// (2) the app: timed as the benchmark's operation.
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, logw, app.Options{})
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	b.StartTimer()
	appStart := time.Now()
	go func() { done <- a.Run(ctx) }()
	last, lastAt := -1, time.Now()
	for {
		// The year's ticket counter is one row (COUNT(*) would scan and
		// slow the app down, and ids are not dense on PostgreSQL); it
		// commits with its tickets, and only e-mail opens tickets here.
		var k int
		a.DB.QueryRow(ctx, `SELECT COALESCE(SUM(last), 0) FROM ticket_counters`).Scan(&k)
		if k >= n {
			break
		}
		if k != last {
			if trace {
				fmt.Fprintf(os.Stderr, "progress %6.1f ms: %d tickets\n", float64(time.Since(appStart).Microseconds())/1000, k)
			}
			last, lastAt = k, time.Now()
		}
		if time.Since(lastAt) > time.Minute { // failure guard only: no progress
			cancel()
			b.Fatalf("app stuck at %d of %d tickets", k, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	appTook := time.Since(appStart)
	cpu2, own2 := machineCPU(), processCPU()
	b.StopTimer()
	var k int
	a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM tickets WHERE channel = 'email'`).Scan(&k)
	if k != n {
		b.Errorf("%d e-mail tickets, want %d", k, n)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Error("app did not stop")
	}

	rawRate := float64(n) / rawTook.Seconds()
	appRate := float64(n) / appTook.Seconds()
	b.ReportMetric(appRate, "app-msgs/s")
	b.ReportMetric(rawRate, "raw-msgs/s")
	b.ReportMetric(appRate/rawRate, "app/raw")
	// CPU time of the whole machine (this process and Dovecot) per
	// message in each phase: steadier than the rates on a noisy machine,
	// and it says where a shortfall comes from (work, or waiting).
	b.ReportMetric((cpu1-cpu0)/float64(n)*1e6, "raw-cpu-µs/msg")
	b.ReportMetric((cpu2-cpu1)/float64(n)*1e6, "app-cpu-µs/msg")
	// The gateway's own share of it (the rest is Dovecot and the kernel
	// work done for it).
	b.ReportMetric((own1-own0)/float64(n)*1e6, "raw-own-cpu-µs/msg")
	b.ReportMetric((own2-own1)/float64(n)*1e6, "app-own-cpu-µs/msg")
}

// processCPU is this process's user and system CPU time in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// rawFetchParse is the baseline: one bulk fetch of the whole mailbox and
// email.Parse of every message.
func rawFetchParse(b testing.TB, d *dovecottest.Server) int {
	c := d.MustDial()
	defer c.Close()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		b.Fatal(err)
	}
	var set imap.UIDSet
	set.AddRange(1, 0)
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range bufs {
		in := email.Parse(m.FindBodySection(section), email.ParseOptions{ReceivedAt: m.InternalDate})
		if in.ExternalID == "" {
			b.Fatalf("UID %d: no external ID", m.UID)
		}
	}
	return len(bufs)
}

// TestEmailRetiredMailboxNoticeOnce: the retired address (here a second
// mailbox on the same account, folder "Lama") is still imported into
// tickets, and each sender is told the new address once, however many
// complaints they send there, also one whose mail joins another citizen's
// ticket; the answers come from the active address.
func TestEmailRetiredMailboxNoticeOnce(t *testing.T) {
	d := dovecottest.Start(t)
	createFolder(t, d, "Lama")
	sink := emailtest.StartSMTPSink(t)
	const retired = "sertifikat@pedulilindungi.id"
	yaml := emailtest.YAML(d, sink.Addr, "") + emailtest.MailboxYAML(d, sink.Addr, retired, "Lama",
		"      retired: true\n      notice: \"Alamat ini sudah tidak aktif; gunakan "+emailtest.Mailbox+"\"\n")
	ta := apptest.Start(t, emailtest.Config(t, yaml))
	senders := []string{"warga.lama1@example.id", "warga.lama1@example.id", "warga.lama1@example.id", "warga.lama2@example.id"}
	for i, from := range senders {
		raw, _ := emailtest.ComplaintMail(i, from)
		d.Append("Lama", raw)
	}
	ta.WaitCount(t, len(senders), `SELECT COUNT(*) FROM tickets WHERE channel = 'email'`)
	// A third sender writes there about the first sender's ticket (its
	// tag in the subject): the mail joins that ticket, and the notice goes
	// to the one who wrote, not to the ticket's owner.
	var number string
	if err := ta.DB.QueryRow(context.Background(), `SELECT t.number FROM tickets t JOIN contacts c ON c.id = t.contact_id WHERE c.address = 'warga.lama1@example.id' ORDER BY t.id LIMIT 1`).Scan(&number); err != nil {
		t.Fatal(err)
	}
	raw, _ := emailtest.ComplaintMail(9, "warga.lama3@example.id")
	raw = bytes.Replace(raw, []byte("Subject: "), []byte("Subject: ["+number+"] "), 1)
	d.Append("Lama", raw)
	ta.WaitCount(t, len(senders)+1, `SELECT COUNT(*) FROM messages WHERE channel = 'email' AND direction = 'in'`)
	outboxSettled(t, ta)
	for _, from := range []string{"warga.lama1@example.id", "warga.lama2@example.id", "warga.lama3@example.id"} {
		notices := 0
		for _, m := range sink.All() {
			if m.Rcpt != from {
				continue
			}
			if bytes.Contains(m.Raw, []byte("tidak aktif")) {
				notices++
			}
			if !bytes.Contains(m.Raw, []byte("<"+emailtest.Mailbox+">")) {
				t.Errorf("an answer to %s does not come from %s:\n%.300s", from, emailtest.Mailbox, m.Raw)
			}
		}
		if notices != 1 {
			t.Errorf("%s received the retired-address notice %d times, want once", from, notices)
		}
	}
}

// TestEmailAnswersFromTheMailboxWrittenTo: with two active mailboxes, the
// acknowledgement and the operator's reply to mail sent to the second one
// leave from the second one, not from the first.
func TestEmailAnswersFromTheMailboxWrittenTo(t *testing.T) {
	d := dovecottest.Start(t)
	createFolder(t, d, "Kedua")
	sink := emailtest.StartSMTPSink(t)
	const second = "pengaduan@kemkes.go.id"
	ta := apptest.Start(t, emailtest.Config(t, emailtest.YAML(d, sink.Addr, "")+emailtest.MailboxYAML(d, sink.Addr, second, "Kedua", "")))
	ctx := context.Background()
	op, err := ta.Accounts.Add(ctx, "petugas-kedua", accounts.Operator)
	if err != nil {
		t.Fatal(err)
	}
	const citizen = "budi.kedua@example.id"
	complaint, complaintID := emailtest.ComplaintMail(7, citizen)
	d.Append("Kedua", complaint)
	ta.WaitCount(t, 1, `SELECT COUNT(*) FROM tickets WHERE channel = 'email'`)
	number := ticketOf(ta, t, complaintID)
	if code, _ := apptest.APIDo(t, ta.Base, op.Token, "POST", "/api/v1/tickets/"+number+"/replies", `{"text":"Sudah kami periksa, mohon cek kembali."}`); code != http.StatusCreated {
		t.Fatalf("reply: %d", code)
	}
	ack := sink.WaitFor(t, "the acknowledgement", func(m emailtest.SentMail) bool { return m.Rcpt == citizen && m.AutoSubmitted != "" })
	reply := sink.WaitFor(t, "the operator's reply", func(m emailtest.SentMail) bool { return m.Rcpt == citizen && m.AutoSubmitted == "" })
	for what, m := range map[string]emailtest.SentMail{"acknowledgement": ack, "reply": reply} {
		if from := headerOf(m.Raw, "From"); !strings.Contains(from, "<"+second+">") {
			t.Errorf("%s From %q, want %s", what, from, second)
		}
	}
}

// headerOf returns one header of a raw mail.
func headerOf(raw []byte, name string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	return msg.Header.Get(name)
}

// createFolder makes a mailbox folder on d for a second configured mailbox.
func createFolder(t *testing.T, d *dovecottest.Server, name string) {
	t.Helper()
	c := d.MustDial()
	defer c.Close()
	if err := c.Create(name, nil).Wait(); err != nil {
		t.Fatal(err)
	}
}

// machineCPU is the CPU time, in seconds, every core of the machine has
// spent outside idle, I/O wait and steal since boot (/proc/stat), or 0
// where there is no such file.
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i == 7 || i >= 8 { // idle, iowait, steal; guest time is already in user
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / 100 // USER_HZ
}
