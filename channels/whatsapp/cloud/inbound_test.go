package cloud_test

import (
	"bytes"
	"context"
	"testing"

	"lindungi/channels"
	"lindungi/channels/whatsapp/cloud"
	"lindungi/channels/whatsapp/cloud/graphfake"
	"lindungi/store/storetest"
)

// Each kind of message the Cloud API documents becomes the Inbound the
// bot reads: text as text, media through the media endpoint as an
// attachment (within the size cap), a list choice as its row ID (the menu
// number), a reaction as nothing, anything unsupported as a visible note.
func TestInboundMessageTypes(t *testing.T) {
	db := storetest.SQLite(t)
	r := newRig(t, db, graphfake.Options{}, cloud.Config{MaxMediaBytes: 1000})
	c := graphfake.Citizen{WaID: "6281299990000", Name: "Dewi"}
	small := bytes.Repeat([]byte{0xff}, 500)
	big := bytes.Repeat([]byte{0xff}, 1001)
	imgSmall, _ := r.fake.Image(c, "foto KTP", small, "image/jpeg")
	imgBig, _ := r.fake.Image(c, "foto besar", big, "image/jpeg")
	list, _ := r.fake.ListReply(c, "2", "Ubah data")
	react, _ := r.fake.Reaction(c, "wamid.X", "👍")
	unsup, _ := r.fake.Unsupported(c)
	loc, _ := r.fake.Message(c, "location", map[string]any{"latitude": -6.2, "longitude": 106.8, "name": "Puskesmas"})
	doc, _ := r.fake.Message(c, "document", map[string]string{"id": r.fake.PutMedia([]byte("%PDF-1.4"), "application/pdf"), "filename": "surat.pdf", "mime_type": "application/pdf"})
	btn, _ := r.fake.Message(c, "button", map[string]string{"payload": "SETUJU", "text": "Setuju"})
	text, _ := r.fake.Text(c, "sertif blm keluar")
	for _, tc := range []struct {
		name        string
		body        []byte
		stored      bool
		text        string
		attachments int
		meta        string // a Meta key that must be set
	}{
		{"text", text, true, "sertif blm keluar", 0, ""},
		{"image within the cap", imgSmall, true, "foto KTP", 1, ""},
		{"image over the cap is noted, not fetched", imgBig, true, "foto besar", 0, "attachment_skipped"},
		{"document keeps its name", doc, true, "", 1, ""},
		{"list reply is the menu number", list, true, "2", 0, "choice"},
		{"template button", btn, true, "Setuju", 0, ""},
		{"location", loc, true, "[lokasi -6.20000,106.80000] Puskesmas", 0, ""},
		{"unsupported is kept visibly", unsup, true, "[pesan tidak didukung: unsupported]", 0, "unsupported"},
		{"reaction stores nothing", react, false, "", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.fake.Deliver(context.Background(), tc.body); err != nil {
				t.Fatal(err)
			}
			var in channels.Inbound
			select {
			case in = <-r.got:
			default:
				if tc.stored {
					t.Fatal("nothing delivered to the sink")
				}
				return
			}
			if !tc.stored {
				t.Fatalf("delivered %+v", in)
			}
			if in.From != "+6281299990000" || in.Name != "Dewi" || in.Channel != channels.WhatsApp || in.ExternalID == "" {
				t.Errorf("inbound %+v", in)
			}
			if in.Text != tc.text || len(in.Attachments) != tc.attachments {
				t.Errorf("text %q with %d attachments, want %q with %d", in.Text, len(in.Attachments), tc.text, tc.attachments)
			}
			if tc.meta != "" && in.Meta[tc.meta] == "" {
				t.Errorf("Meta[%s] unset: %v", tc.meta, in.Meta)
			}
			if tc.name == "document keeps its name" && (in.Attachments[0].Name != "surat.pdf" || in.Attachments[0].ContentType != "application/pdf") {
				t.Errorf("document %+v", in.Attachments[0])
			}
			if tc.name == "image within the cap" && !bytes.Equal(in.Attachments[0].Data, small) {
				t.Error("image bytes differ")
			}
		})
	}
}
