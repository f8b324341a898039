package privacy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"lindungi/internal/app/apptest"
	"lindungi/testlog"
)

// TestDeleteMyDataEndToEnd is issue 7's "must show 3": a citizen with a
// ticket (name, NIK, photo) and a Sijejak registration asks for an export,
// then for deletion, through the simulator; afterwards no table holds any
// of their personal data, and the audit log records both requests.
func TestDeleteMyDataEndToEnd(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	const phone, nik, name = "+6281298765432", "3174014501900002", "Siti Rahmawati"
	// A complaint with a photo.
	ta.Say(phone, "halo")
	ta.Say(phone, "1")
	ta.Say(phone, name)
	ta.Say(phone, nik)
	ta.Say(phone, "05-01-1990")
	ta.Say(phone, "081298765432")
	ta.Say(phone, "Sertifikat dosis booster belum muncul sejak Januari")
	body := map[string]any{"from": phone, "text": "", "attachments": []map[string]any{{"name": "ktp-siti.jpg", "contentType": "image/jpeg", "data": []byte("JPEGDATA-" + nik)}}}
	ta.Call("POST", "/api/v1/simulator/messages", body, nil)
	rs := ta.Say(phone, "ya")
	if apptest.TicketNumber.FindString(strings.Join(rs, " ")) == "" {
		t.Fatalf("no ticket: %q", rs)
	}
	// A Sijejak registration for the same phone.
	apptest.Register(t, ta, phone)

	// Export first.
	apptest.MustReply(t, ta.Say(phone, "data saya"), "YA")
	rs = ta.Say(phone, "ya")
	var exported bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !exported; time.Sleep(50 * time.Millisecond) {
		var n int
		ta.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM outbox WHERE kind = 'export' AND status = 'sent'`).Scan(&n)
		exported = n == 1
	}
	if !exported {
		t.Fatalf("export not delivered; replies %q", rs)
	}
	// Once sent, the export's copy of the data leaves the outbox.
	var doc string
	ta.DB.QueryRow(context.Background(), `SELECT payload FROM outbox WHERE kind = 'export'`).Scan(&doc)
	if strings.Contains(doc, nik) {
		t.Fatalf("sent export still in the outbox: %s", doc)
	}
	// The same export, as an operator gets it for a request by e-mail,
	// holds the ticket fields and the Sijejak registration.
	var exp map[string]any
	if code := ta.Call("POST", "/api/v1/privacy/requests", map[string]string{"kind": "export", "channel": "simulator", "address": phone}, &exp); code != 200 {
		t.Fatalf("operator export: %d %v", code, exp)
	}
	if js := fmt.Sprint(exp); !strings.Contains(js, nik) || !strings.Contains(js, "sijejak") {
		t.Fatalf("export lacks the NIK or the Sijejak registration: %s", js)
	}

	// Then deletion, confirmed.
	apptest.MustReply(t, ta.Say(phone, "hapus data saya"), "tidak dapat dibatalkan")
	ta.Say(phone, "YA")
	var done bool
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !done; time.Sleep(50 * time.Millisecond) {
		var n int
		ta.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM outbox WHERE kind = 'erasure' AND status = 'sent'`).Scan(&n)
		done = n == 1
	}
	if !done {
		t.Fatal("no deletion confirmation was sent")
	}

	// Every table, every column: nothing of the citizen remains. The
	// simulator's delivery log is the simulated citizen's own handset, not
	// the gateway's records, so it is left out.
	ctx := context.Background()
	needles := []string{phone, strings.TrimPrefix(phone, "+"), "081298765432", nik, name, "Rahmawati", "booster", "ktp-siti", "JPEGDATA"}
	rows, err := ta.DB.Query(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	checked := 0
	for _, table := range tables {
		if table == "simulator_deliveries" {
			continue
		}
		r, err := ta.DB.Query(ctx, fmt.Sprintf(`SELECT * FROM "%s"`, table))
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols, _ := r.Columns()
		for r.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			r.Scan(ptrs...)
			for i, v := range vals {
				var s string
				switch x := v.(type) {
				case string:
					s = x
				case []byte:
					s = string(x)
				default:
					continue
				}
				for _, n := range needles {
					if strings.Contains(s, n) {
						t.Errorf("table %s column %s still holds %q", table, cols[i], n)
					}
				}
			}
		}
		r.Close()
		checked++
	}
	if checked < 15 {
		t.Fatalf("only %d tables checked", checked)
	}
	var audits int
	ta.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE action LIKE 'privacy.%'`).Scan(&audits)
	if audits < 2 {
		t.Errorf("%d privacy audit rows, want request and completion of both", audits)
	}
	testlog.AssertClean(t, ta.Logs.String(), phone, nik, name)
}
