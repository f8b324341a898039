package bot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"lindungi/bot"
	"lindungi/channels"
	"lindungi/store/storetest"
)

// mailIn is a parsed complaint mail as the importer hands it to the bot.
func mailIn(i int, inReplyTo string) channels.Inbound {
	return channels.Inbound{Channel: channels.Email, ExternalID: fmt.Sprintf("batch%d@warga.example.id", i),
		From: fmt.Sprintf("warga%d@example.id", i%3), Subject: fmt.Sprintf("Sertifikat belum muncul %d", i),
		Text: "Sertifikat vaksin saya belum muncul di aplikasi.", ReplyTo: inReplyTo, ReceivedAt: time.Now(),
		Meta: map[string]string{}}
}

// failMail makes storing the mail with externalID fail inside its
// transaction with "boom", as a poison mail would, until undo is called.
func failMail(t *testing.T, ta *pipeline, externalID string) (undo func()) {
	t.Helper()
	ctx := context.Background()
	if _, err := ta.db.Exec(ctx, `CREATE TRIGGER fail_mail BEFORE INSERT ON inbound_keys WHEN NEW.external_id = '`+externalID+`'
		BEGIN SELECT RAISE(ABORT, 'boom'); END`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if _, err := ta.db.Exec(ctx, `DROP TRIGGER fail_mail`); err != nil {
			t.Fatal(err)
		}
	}
}

// isBoom says err is failMail's failure.
func isBoom(err error) bool {
	return err != nil && strings.Contains(err.Error(), "boom") && !errors.Is(err, channels.ErrNotAttempted)
}

// TestDeliverBatchStopsAtFailure: mail is processed strictly in order. A
// mail that fails on its own stops the ones behind it, so a follow-up in
// the same batch is not committed ahead of its original (it would open a
// second ticket for one conversation); once the original goes through,
// the follow-up threads onto its ticket.
func TestDeliverBatchStopsAtFailure(t *testing.T) {
	ta := newPipeline(t, storetest.SQLite(t), bot.Config{})
	ctx := context.Background()

	ins := []channels.Inbound{mailIn(1, ""), mailIn(2, ""), mailIn(3, "<batch2@warga.example.id>"), mailIn(4, "")}
	undo := failMail(t, ta, ins[1].ExternalID)
	errs := ta.bot.DeliverBatch(ctx, ins)
	if errs[0] != nil || !isBoom(errs[1]) || !errors.Is(errs[2], channels.ErrNotAttempted) || !errors.Is(errs[3], channels.ErrNotAttempted) {
		t.Fatalf("outcomes %v; want nil, boom, then not attempted", errs)
	}
	var n int
	ta.db.QueryRow(ctx, `SELECT COUNT(*) FROM tickets`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d tickets after the failed batch, want 1 (only the mail before the failure)", n)
	}

	// The importer retries from the failed mail.
	undo()
	for i, err := range ta.bot.DeliverBatch(ctx, ins) {
		if err != nil {
			t.Fatalf("retry: mail %d: %v", i+1, err)
		}
	}
	ta.db.QueryRow(ctx, `SELECT COUNT(*) FROM tickets`).Scan(&n)
	if n != 3 {
		t.Errorf("%d tickets, want 3 (the follow-up threads onto mail 2's ticket)", n)
	}
	var t2, t3 int64
	ta.db.QueryRow(ctx, `SELECT ticket_id FROM messages WHERE external_id = 'batch2@warga.example.id'`).Scan(&t2)
	ta.db.QueryRow(ctx, `SELECT ticket_id FROM messages WHERE external_id = 'batch3@warga.example.id'`).Scan(&t3)
	if t2 == 0 || t2 != t3 {
		t.Errorf("follow-up on ticket %d, original on %d", t3, t2)
	}
}

// TestDeliverBatchStopsAfterFailedCommit: when a shared commit fails after
// every request in it succeeded (here a deferred foreign key that storing
// the first mail breaks, as a full disk would fail at COMMIT), the batch's
// later requests, which run in a later commit, are not attempted either.
func TestDeliverBatchStopsAfterFailedCommit(t *testing.T) {
	ta := newPipeline(t, storetest.SQLite(t), bot.Config{})
	ctx := context.Background()
	ins := make([]channels.Inbound, 600) // more than one group commit holds
	for i := range ins {
		ins[i] = mailIn(i, "")
	}
	for _, q := range []string{
		`CREATE TABLE refuse_parent (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE refuse_child (parent INTEGER REFERENCES refuse_parent (id) DEFERRABLE INITIALLY DEFERRED)`,
		`CREATE TRIGGER refuse_commit AFTER INSERT ON inbound_keys WHEN NEW.external_id = '` + ins[0].ExternalID + `'
			BEGIN INSERT INTO refuse_child VALUES (1); END`,
	} {
		if _, err := ta.db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	errs := ta.bot.DeliverBatch(ctx, ins)
	failed, skipped := 0, 0
	for _, err := range errs {
		switch {
		case err != nil && strings.Contains(err.Error(), "FOREIGN KEY"):
			failed++
		case errors.Is(err, channels.ErrNotAttempted):
			skipped++
		default:
			t.Fatalf("a mail behind the failed commit has outcome %v", err)
		}
	}
	var n int
	ta.db.QueryRow(ctx, `SELECT COUNT(*) FROM tickets`).Scan(&n)
	t.Logf("%d in the failed commit, %d not attempted, %d tickets", failed, skipped, n)
	if n != 0 || failed == 0 || failed == len(ins) {
		t.Errorf("%d tickets, %d failed in the commit; want 0 tickets and the rest not attempted", n, failed)
	}
}
