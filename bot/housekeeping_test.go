package bot_test

import (
	"context"
	"testing"
	"time"

	"lindungi/bot"
	"lindungi/channels"
	"lindungi/jobs"
	"lindungi/store/storetest"
	"lindungi/tickets"
)

// Mail stays in the folder (after_import: seen) for as long as the mailbox
// keeps it, and a UIDVALIDITY change (server migration, mailbox rebuild)
// rescans the whole folder: housekeeping must not age out e-mail dedupe
// keys, or every old mail would become a second ticket with a second
// acknowledgement. Here the rescan is the same Inbound delivered again
// after housekeeping ran on a 200-day-old key.
func TestHousekeepingKeepsMailDedupeForRescans(t *testing.T) {
	ta := newPipeline(t, storetest.SQLite(t), bot.Config{})
	ctx := context.Background()
	in := channels.Inbound{Channel: channels.Email, ExternalID: "<old-complaint@warga.example>:0123456789abcdef",
		From: "warga@warga.example", Subject: "Sertifikat vaksin tidak muncul", Text: "Sertifikat saya belum muncul.",
		ReceivedAt: time.Now().Add(-200 * 24 * time.Hour), Meta: map[string]string{}}
	if err := ta.bot.Deliver(ctx, in); err != nil {
		t.Fatal(err)
	}
	// The key is as old as the mail (stored when it first arrived).
	if _, err := ta.db.Exec(ctx, `UPDATE inbound_keys SET received_at = ?`, time.Now().UTC().Add(-200*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	job := jobs.Housekeeping(ta.db, tickets.ChatKeySweep(ta.db))
	if _, err := job.Run(ctx, jobs.Env{Job: job.Name, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// UIDVALIDITY changed: the folder is rescanned from UID 1.
	if err := ta.bot.Deliver(ctx, in); err != nil {
		t.Fatal(err)
	}
	if n := count(t, ta, `SELECT COUNT(*) FROM messages WHERE direction = 'in' AND external_id = ?`, in.ExternalID); n != 1 {
		t.Errorf("the same mail stored %d times (tickets: %d, acknowledgements queued: %d)", n,
			count(t, ta, `SELECT COUNT(*) FROM tickets`), count(t, ta, `SELECT COUNT(*) FROM outbox WHERE kind = 'ack'`))
	}
}
