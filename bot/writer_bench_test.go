package bot_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"lindungi/bot"
	"lindungi/channels"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tickets"
)

// BenchmarkEmailWriter measures the database side of a mailbox import: b.N
// new complaints from b.N senders, handed to the bot in chunks of 256 as
// the importer does (prepared ahead, as its parse workers do), on SQLite.
// The ceiling, measured in the same run on a second fresh database, is the
// same rows written by bare multi-row INSERTs with no logic at all
// (contact, ticket, message, acknowledgement message and outbox row,
// dedupe key, counter, search index): what any design must write.
//
//	go test -run '^$' -bench EmailWriter -benchtime 10000x ./bot/
func BenchmarkEmailWriter(b *testing.B) {
	const chunk = 256
	ins := make([]channels.Inbound, b.N)
	for i := range ins {
		ins[i] = channels.Inbound{Channel: channels.Email, ExternalID: fmt.Sprintf("%d.abcdef@mail.example.id:h", i),
			From: fmt.Sprintf("warga%06d@example.id", i), Name: fmt.Sprintf("Warga %d", i), To: "pedulilindungi@kemkes.go.id",
			Subject: "Sertifikat vaksin tidak muncul", Text: "Selamat pagi, sertifikat vaksin saya belum muncul di aplikasi padahal sudah dua kali vaksin. Mohon bantuannya.\n\n-- \nWarga",
			ReceivedAt: time.Now(), Meta: map[string]string{"mailbox": "pedulilindungi@kemkes.go.id"}}
	}
	ceiling := bareInserts(b, ins, chunk)

	db := storetest.SQLite(b)
	sealer, err := store.NewSealer(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ob := channels.NewOutbox(db, channels.OutboxConfig{}, log, prometheus.NewRegistry())
	bt := bot.New(db, tickets.New(db, sealer), ob, bot.Features{}, bot.Config{}, log, prometheus.NewRegistry())
	for i := range ins {
		bt.Prepare(&ins[i])
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(ins); i += chunk {
		for _, err := range bt.DeliverBatch(context.Background(), ins[i:min(i+chunk, len(ins))]) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	took := time.Since(start)
	b.StopTimer()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM outbox WHERE kind = 'ack'`).Scan(&n); err != nil || n != len(ins) {
		b.Fatalf("%d acknowledgements (%v), want %d", n, err, len(ins))
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(len(ins)) }
	b.ReportMetric(per(took), "writer-µs/mail")
	b.ReportMetric(per(ceiling), "ceiling-µs/mail")
	b.ReportMetric(ceiling.Seconds()/took.Seconds(), "writer/ceiling")
}

// bareInserts writes, for each mail, the rows the bot writes for a new
// complaint, as multi-row INSERTs of chunk mails per transaction, and
// returns the time taken.
func bareInserts(b *testing.B, ins []channels.Inbound, chunk int) time.Duration {
	db := storetest.SQLite(b)
	ctx := context.Background()
	now := time.Now().UTC()
	ack := "Yth. Bapak/Ibu,\n\nPesan Bapak/Ibu telah kami terima dengan nomor laporan PL-2026-000001."
	payload := `{"subject":"Sertifikat vaksin tidak muncul","text":"` + strings.ReplaceAll(ack, "\n", `\n`) + `"}`
	start := time.Now()
	for from := 0; from < len(ins); from += chunk {
		part := ins[from:min(from+chunk, len(ins))]
		err := db.InTx(ctx, func(tx *store.Tx) error {
			base := int64(from) // fresh database: ids are dense
			rows := []*store.Rows{
				store.NewRows("contacts", "", "id", "person_id", "channel", "address", "name", "lang", "created_at", "updated_at"),
				store.NewRows("tickets", "", "id", "number", "contact_id", "channel", "subject", "category", "status", "handed_off", "flags", "fields_sealed", "nik_masked", "thread_ref", "mailbox", "created_at", "updated_at"),
				store.NewRows("messages", "", "id", "ticket_id", "contact_id", "direction", "channel", "external_id", "author", "subject", "body", "html", "created_at"),
				store.NewRows("outbox", "", "id", "channel", "recipient", "ticket_id", "kind", "payload", "status", "attempts", "next_attempt_at", "created_at"),
				store.NewRows("inbound_keys", "", "channel", "external_id", "received_at", "message_id"),
			}
			for i, in := range part {
				id := base + int64(i) + 1
				out := channels.NewID()
				rows[0].Add(id, id, in.Channel, in.From, in.Name, "id", now, now)
				rows[1].Add(id, fmt.Sprintf("PL-2026-%06d", id), id, in.Channel, in.Subject, "certificate_missing", "open", false, "", []byte{}, "", in.ExternalID, in.To, now, now)
				rows[2].Add(2*id-1, id, id, "in", in.Channel, in.ExternalID, "", in.Subject, in.Text, "", now)
				rows[2].Add(2*id, id, id, "out", in.Channel, out, "bot", in.Subject, ack, "", now)
				rows[3].Add(out, in.Channel, in.From, id, "ack", payload, "queued", 0, now, now)
				rows[4].Add(in.Channel, in.ExternalID, now, 2*id-1)
			}
			for _, r := range rows {
				if err := r.Flush(ctx, tx); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO ticket_counters (year, last) VALUES (2026, ?) ON CONFLICT (year) DO UPDATE SET last = excluded.last`, base+int64(len(part))); err != nil {
				return err
			}
			return tickets.IndexPending(ctx, tx)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}
