package tracing

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"lindungi/store"
	"lindungi/store/storetest"
)

// Wrong register and verify calls for a phone, from someone else's address,
// used to spend the phone's hourly budget: ten of them kept its owner from
// registering for an hour. Now the budgets are per (phone, address), the
// number of live codes per phone is capped by retiring the oldest, and the
// owner registers as usual.
func TestAbuseDoesNotBlockOwnersRegistration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Config{})
		svc := f.svc
		const attacker, owner = "203.0.113.66", "10.1.2.3"
		for i := 0; i < 3*svc.cfg.VerifyPerPhone; i++ {
			_, err := svc.VerifyFrom(ctx, phoneA, attacker, fmt.Sprintf("WRONG%03d", i), "")
			if !errors.Is(err, ErrBadCode) && !errors.Is(err, ErrTooMany) {
				t.Fatalf("attacker's verify %d: %v", i, err)
			}
		}
		if _, err := svc.VerifyFrom(ctx, phoneA, attacker, "WRONG999", ""); !errors.Is(err, ErrTooMany) {
			t.Errorf("the attacker's own budget is not limited: %v", err)
		}
		// The attacker also asks for codes for the phone, from many addresses.
		for i := 0; i < 4*svc.cfg.LiveCodesPerPhone; i++ {
			if _, _, err := svc.Register(ctx, phoneA, fmt.Sprintf("198.51.100.%d", i/2)); err != nil {
				t.Fatalf("attacker's register %d: %v", i, err)
			}
		}
		if n := count(t, db, `SELECT COUNT(*) FROM tracing_registrations WHERE phone_index = ? AND expires_at > ?`, svc.phoneIndex(phoneA), f.clk.Now()); n != svc.cfg.LiveCodesPerPhone {
			t.Errorf("%d live codes for one phone, want the cap %d", n, svc.cfg.LiveCodesPerPhone)
		}
		// The owner registers: code, WhatsApp message, token.
		code, _, err := svc.Register(ctx, phoneA, owner)
		if err != nil {
			t.Fatalf("owner's register: %v", err)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return svc.ConfirmCode(ctx, tx, "whatsapp", phoneA, code) }); err != nil {
			t.Fatalf("owner's SIJEJAK message: %v", err)
		}
		tok, err := svc.VerifyFrom(ctx, phoneA, owner, code, "")
		if err != nil {
			t.Fatalf("owner's verify after the attacker's calls: %v", err)
		}
		if _, err := svc.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
	})
}

// register/otp used to send a WhatsApp OTP to any valid number: anyone could
// make the Ministry's number write to strangers. Only a phone with a
// registered device gets one; the answer is the same either way.
func TestOTPOnlyForRegisteredPhones(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Config{})
		if err := f.svc.SendOTP(ctx, phoneC, "10.0.0.5"); err != nil {
			t.Fatalf("OTP for an unregistered phone: %v, want the same answer as for a registered one", err)
		}
		if got := f.sender.to(phoneC, ""); len(got) != 0 {
			t.Errorf("%d messages to a phone that never registered", len(got))
		}
		if n := count(t, db, `SELECT COUNT(*) FROM tracing_otps`); n != 0 {
			t.Errorf("%d OTPs stored for a phone that never registered", n)
		}
		f.register(t, phoneC)
		if err := f.svc.SendOTP(ctx, phoneC, "10.0.0.5"); err != nil {
			t.Fatal(err)
		}
		if got := f.sender.to(phoneC, "otp"); len(got) != 1 {
			t.Errorf("%d OTP messages to a registered phone, want 1", len(got))
		}
	})
}
