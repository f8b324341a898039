package cloud_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/channels/whatsapp/cloud"
	"lindungi/channels/whatsapp/cloud/graphfake"
	"lindungi/store"
	"lindungi/store/storetest"
)

// Through the real outbox: an export Meta accepted and then reported
// failed (a retryable code) is sent again whole, and its content is
// dropped only once WhatsApp reports it delivered.
func TestCloudExportSurvivesAFailedStatus(t *testing.T) {
	db := storetest.SQLite(t)
	r := newRig(t, db, graphfake.Options{}, cloud.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.ob.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	body, _ := r.fake.Text(graphfake.Citizen{WaID: "6281233339999"}, "minta data saya")
	if err := r.fake.Deliver(ctx, body); err != nil {
		t.Fatal(err)
	}
	<-r.got
	var id string
	if err := db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = r.ob.Enqueue(ctx, tx, channels.Outbound{Channel: channels.WhatsApp, To: "+6281233339999", Kind: channels.KindExport, Text: "Data Anda: NIK 3171"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitSent := func(n int) []graphfake.Sent {
		deadline := time.Now().Add(20 * time.Second) // failure guard, not a timing assertion
		for time.Now().Before(deadline) {
			var st string
			db.QueryRow(ctx, `SELECT status FROM outbox WHERE id = ?`, id).Scan(&st)
			if s := r.fake.Sent("6281233339999"); len(s) == n && st == "sent" {
				return s
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("not sent %d times", n)
		return nil
	}
	sent := waitSent(1)
	if err := r.fake.Deliver(ctx, r.fake.Status(sent[0], "failed", 131000)); err != nil {
		t.Fatal(err)
	}
	sent = waitSent(2)
	if sent[1].Text != "Data Anda: NIK 3171" {
		t.Fatalf("sent again %+v", sent[1])
	}
	if err := r.fake.Deliver(ctx, r.fake.Status(sent[1], "delivered", 0)); err != nil {
		t.Fatal(err)
	}
	var to, payload string
	if err := db.QueryRow(ctx, `SELECT recipient, payload FROM outbox WHERE id = ?`, id).Scan(&to, &payload); err != nil {
		t.Fatal(err)
	}
	if to != "erased" || strings.Contains(payload, "3171") {
		t.Fatalf("delivered: recipient %q, payload %s", to, payload)
	}
}
