package cloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"lindungi/channels"
	"lindungi/channels/whatsapp/cloud"
	"lindungi/channels/whatsapp/cloud/graphfake"
	"lindungi/store/storetest"
)

// A one-time code outside the 24-hour window goes as the configured
// authentication template, in the shape Meta documents for sending one:
// the code as the body's parameter and as the copy-code (URL) button's.
// Both producers' shapes work; a code without the code in Meta is held.
func TestOneTimeCodeTemplateOutsideWindow(t *testing.T) {
	db := storetest.SQLite(t)
	r := newRig(t, db, graphfake.Options{}, cloud.Config{Templates: map[string]cloud.Template{
		"otp": {Name: "lindungi_otp", Languages: map[string]string{"id": "id", "en": "en_US"}}}})
	ctx := context.Background()
	for i, tc := range []struct {
		name string
		meta map[string]string
		code string // "" : held
	}{
		{"Sijejak's code", map[string]string{"tracing": "otp", "code": "482913"}, "482913"},
		{"self-service's code", map[string]string{"template": "otp", "code": "739164", "lang": "en"}, "739164"},
		{"a code without Meta code is held", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := "+62812555500" + string(rune('0'+i))
			err := r.ch.Send(ctx, channels.Outbound{ID: channels.NewID(), Channel: channels.WhatsApp, To: to, Kind: channels.KindOTP,
				Text: "Kode Anda: " + tc.code, Meta: tc.meta})
			sent := r.fake.Sent(to[1:])
			if tc.code == "" {
				if !errors.Is(err, channels.ErrHeld) || len(sent) != 0 {
					t.Fatalf("err %v, sent %+v", err, sent)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(sent) != 1 || sent[0].Template != "lindungi_otp" {
				t.Fatalf("sent %+v", sent)
			}
			var req struct {
				Template struct {
					Components []struct {
						Type       string `json:"type"`
						SubType    string `json:"sub_type"`
						Index      string `json:"index"`
						Parameters []struct {
							Type string `json:"type"`
							Text string `json:"text"`
						} `json:"parameters"`
					} `json:"components"`
				} `json:"template"`
			}
			if err := json.Unmarshal(sent[0].Raw, &req); err != nil {
				t.Fatal(err)
			}
			c := req.Template.Components
			if len(c) != 2 || c[0].Type != "body" || c[1].Type != "button" || c[1].SubType != "url" || c[1].Index != "0" ||
				len(c[0].Parameters) != 1 || c[0].Parameters[0].Text != tc.code || len(c[1].Parameters) != 1 || c[1].Parameters[0].Text != tc.code {
				t.Fatalf("components %s", sent[0].Raw)
			}
		})
	}
}
