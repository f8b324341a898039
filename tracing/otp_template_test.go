package tracing

import (
	"context"
	"regexp"
	"testing"

	"lindungi/store"
	"lindungi/store/storetest"
)

// Outside WhatsApp's 24-hour window a code can only go as an
// authentication template, which the Cloud provider fills from the
// message's Meta: the code must be there, not only in the text.
func TestOTPCarriesItsCodeForTheTemplate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, Config{})
		f.register(t, phoneB)
		if err := f.svc.SendOTP(context.Background(), phoneB, "10.0.0.2"); err != nil {
			t.Fatal(err)
		}
		msgs := f.sender.to(phoneB, "otp")
		if len(msgs) != 1 {
			t.Fatalf("otp messages %+v", msgs)
		}
		code := regexp.MustCompile(`\b\d{6}\b`).FindString(msgs[0].Text)
		if code == "" || msgs[0].Meta["code"] != code || msgs[0].Meta["tracing"] != "otp" {
			t.Fatalf("text code %q, meta %v", code, msgs[0].Meta)
		}
	})
}
