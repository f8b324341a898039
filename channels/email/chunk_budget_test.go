package email

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"lindungi/store/storetest"
)

// A mail that is all header (no blank line, or a padded header block) has a
// header as large as itself; oversized mail is fetched headers-only, so
// without a cap on that read a chunk of such mail would hold chunkMails ×
// MaxMessageBytes (128 × 25 MB) instead of its budget. Scaled down:
// MaxMessageBytes 256 KiB, 40 header-only mails of 300 KiB.
func TestOversizedHeaderChunkStaysInBudget(t *testing.T) {
	d := startDovecot(t)
	const n, size = 40, 300 << 10
	for i := 0; i < n; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "From: warga%d@example.id\r\nTo: pedulilindungi@kemkes.go.id\r\nSubject: big header %d\r\nMessage-ID: <hdr%d@example.id>\r\n", i, i, i)
		for b.Len() < size {
			b.WriteString("X-Pad: " + strings.Repeat("a", 70) + "\r\n")
		}
		d.Append("INBOX", []byte(b.String()))
	}
	cfg := fastCfg()
	cfg.MaxMessageBytes = 256 << 10
	r, err := NewRunner(dovecotMailbox(d, "pedulilindungi@kemkes.go.id"), cfg, storetest.SQLite(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := d.MustDial()
	defer c.Close()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	todo := make([]pending, n)
	for i := range todo {
		todo[i] = pending{uid: imap.UID(i + 1), size: size + 64}
	}
	items, budget := r.nextChunk(todo, chunkMails)
	if err := r.fetchChunk(c, items); err != nil {
		t.Fatal(err)
	}
	var held int64
	for _, it := range items {
		held += int64(len(it.raw))
	}
	if held > budget {
		t.Errorf("a chunk of %d oversized mails budgeted at %d bytes holds %d bytes of headers", len(items), budget, held)
	}
	for _, it := range items {
		if !it.found || len(it.raw) == 0 {
			t.Fatalf("UID %d: header not fetched", it.p.uid)
		}
	}
}
