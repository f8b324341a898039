package cloud_test

import (
	"context"
	"strings"
	"testing"

	"lindungi/channels"
	"lindungi/channels/whatsapp/cloud"
	"lindungi/channels/whatsapp/cloud/graphfake"
	"lindungi/store/storetest"
)

// A part of a multi-attachment message that WhatsApp accepted and later
// reported failed is sent again, and only it: each part carries its own
// callback data, so the failure names the part.
func TestFailedPartIsSentAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		failed int // which part's status fails
		want   string
	}{
		{"first of two", 0, "%PDF a,%PDF b,%PDF a"},
		{"last of two", 1, "%PDF a,%PDF b,%PDF b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := storetest.SQLite(t)
			r := newRig(t, db, graphfake.Options{}, cloud.Config{})
			ctx := context.Background()
			body, _ := r.fake.Text(graphfake.Citizen{WaID: "6281233338888"}, "kirim dokumennya")
			if err := r.fake.Deliver(ctx, body); err != nil {
				t.Fatal(err)
			}
			<-r.got
			msg := channels.Outbound{ID: channels.NewID(), Channel: channels.WhatsApp, To: "+6281233338888", Kind: "reply", Text: "Dua dokumen",
				Attachments: []channels.Attachment{{Name: "a.pdf", ContentType: "application/pdf", Data: []byte("%PDF a")}, {Name: "b.pdf", ContentType: "application/pdf", Data: []byte("%PDF b")}}}
			if err := r.ch.Send(ctx, msg); err != nil {
				t.Fatal(err)
			}
			sent := r.fake.Sent("6281233338888")
			if len(sent) != 2 {
				t.Fatalf("sent %+v", sent)
			}
			if err := r.fake.Deliver(ctx, r.fake.Status(sent[tc.failed], "failed", 131000)); err != nil {
				t.Fatal(err)
			}
			if err := r.ch.Send(ctx, msg); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range r.fake.Sent("6281233338888") {
				d, _ := r.fake.Media(s.MediaID)
				names = append(names, string(d))
			}
			if strings.Join(names, ",") != tc.want {
				t.Fatalf("sent %q, want %s", names, tc.want)
			}
		})
	}
}
