package email

import (
	"os"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"lindungi/channels/email/dovecottest"
	"lindungi/store/storetest"
)

// BenchmarkImport imports the whole e-mail corpus from a real Dovecot twice
// per iteration: through the Runner (per-message fetch, parse, SQLite
// transaction with the cursor) and through a bare go-imap UID FETCH 1:*
// BODY.PEEK[] + Parse of the same mailbox, and reports runner/raw.
//
//	go test -run '^$' -bench BenchmarkImport -benchtime 5x ./channels/email/
func BenchmarkImport(b *testing.B) {
	files := corpusFiles(b)
	d := startDovecot(b)
	var msgs [][]byte
	for _, f := range files {
		if raw, err := os.ReadFile(f); err == nil && len(raw) > 0 {
			msgs = append(msgs, raw)
		}
	}
	d.AppendAll("INBOX", msgs, 1, nil)
	n := len(msgs)
	box := dovecotMailbox(d, "pedulilindungi@kemkes.go.id")
	box.AfterImport = "keep"

	var runnerTotal, rawTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := storetest.SQLite(b)
		r, err := NewRunner(box, fastCfg(), db, nil)
		if err != nil {
			b.Fatal(err)
		}
		sink := newMemSink(db)
		b.StartTimer()

		start := time.Now()
		stop := runRunner(b, r, sink)
		for sink.uidCount() < n {
			time.Sleep(time.Millisecond)
		}
		runnerTotal += time.Since(start)
		stop()

		start = time.Now()
		if got := rawImport(b, d); got != n {
			b.Fatalf("raw fetch saw %d messages, want %d", got, n)
		}
		rawTotal += time.Since(start)
	}
	b.ReportMetric(float64(n), "msgs")
	b.ReportMetric(float64(runnerTotal.Milliseconds())/float64(b.N), "runner-ms/op")
	b.ReportMetric(float64(rawTotal.Milliseconds())/float64(b.N), "raw-ms/op")
	b.ReportMetric(runnerTotal.Seconds()/rawTotal.Seconds(), "runner/raw")
}

// rawImport is the baseline: one bulk fetch, parse, nothing durable.
func rawImport(b testing.TB, d *dovecottest.Server) int {
	c := d.MustDial()
	defer c.Close()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		b.Fatal(err)
	}
	var set imap.UIDSet
	set.AddRange(1, 0)
	section := &imap.FetchItemBodySection{Peek: true}
	bufs, err := c.Fetch(set, &imap.FetchOptions{UID: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range bufs {
		Parse(m.FindBodySection(section), ParseOptions{ReceivedAt: m.InternalDate})
	}
	return len(bufs)
}
