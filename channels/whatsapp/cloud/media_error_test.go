package cloud_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"lindungi/channels/whatsapp/cloud"
	"lindungi/channels/whatsapp/cloud/graphfake"
	"lindungi/store/storetest"
)

// Media that can never be fetched (expired: Graph error 100, HTTP 404)
// must not fail the notification, or Meta resends it forever and nothing
// after it is stored: the message is kept with a note, and the next one
// of the same notification is stored too.
func TestUnretrievableMediaDoesNotStallTheWebhook(t *testing.T) {
	db := storetest.SQLite(t)
	r := newRig(t, db, graphfake.Options{}, cloud.Config{})
	ctx := context.Background()
	c := graphfake.Citizen{WaID: "6281266667777", Name: "Sari"}
	for _, tc := range []struct {
		name, caption, text string
	}{
		{"expired photo with a caption", "foto KTP", "foto KTP"},
		{"expired photo without one", "", "[gambar tidak dapat diambil]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, _ := r.fake.Message(c, "image", map[string]string{"id": "gone0000000000000", "mime_type": "image/jpeg", "caption": tc.caption})
			next, _ := r.fake.Text(c, "halo, foto sudah saya kirim")
			// The fake, like Meta, resends until answered 2xx; the
			// deadline is a failure guard, not a timing assertion.
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := r.fake.Deliver(dctx, joinMessages(t, img, next)); err != nil {
				t.Fatalf("webhook: %v", err)
			}
			got := <-r.got
			if got.Text != tc.text || got.Meta["attachment_error"] == "" || len(got.Attachments) != 0 {
				t.Fatalf("stored %q, meta %v", got.Text, got.Meta)
			}
			if got := <-r.got; got.Text != "halo, foto sudah saya kirim" {
				t.Fatalf("next message %q", got.Text)
			}
		})
	}
}

// joinMessages puts the messages of the second notification after the
// first's, as Meta batches them.
func joinMessages(t *testing.T, a, b []byte) []byte {
	t.Helper()
	var na, nb map[string]any
	if err := json.Unmarshal(a, &na); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &nb); err != nil {
		t.Fatal(err)
	}
	value := func(n map[string]any) map[string]any {
		return n["entry"].([]any)[0].(map[string]any)["changes"].([]any)[0].(map[string]any)["value"].(map[string]any)
	}
	va, vb := value(na), value(nb)
	va["messages"] = append(va["messages"].([]any), vb["messages"].([]any)...)
	out, err := json.Marshal(na)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
