package whatsapp

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mau.fi/whatsmeow"

	"lindungi/channels"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in, want string
		perm     bool
	}{
		{"+6281110500567", "6281110500567@s.whatsapp.net", false},
		{"081110500567", "6281110500567@s.whatsapp.net", false},
		{"+62 811-1050-0567", "6281110500567@s.whatsapp.net", false},
		{"+4915123456789", "4915123456789@s.whatsapp.net", false},
		{"lid:123456789012345", "123456789012345@lid", false},
		{"lid:", "", true},
		{"lid:1@lid", "", true},
		{"hello", "", true},
		{"", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			j, err := parseAddress(tc.in)
			if tc.perm {
				if !errors.Is(err, channels.ErrPermanent) {
					t.Fatalf("parseAddress(%q) err = %v, want ErrPermanent", tc.in, err)
				}
				return
			}
			if err != nil || j.String() != tc.want {
				t.Fatalf("parseAddress(%q) = %v, %v; want %s", tc.in, j, err, tc.want)
			}
		})
	}
}

func TestMessageID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"3EB0A1B2C3D4E5F60718", "3EB0A1B2C3D4E5F60718"}, // channels.NewID shape: unchanged
		{"3eb0a1b2c3d4e5f60718", string(MessageID("3eb0a1b2c3d4e5f60718"))},
	}
	for _, tc := range tests {
		if got := string(MessageID(tc.in)); got != tc.want {
			t.Errorf("MessageID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{"outbox-42", "3eb0a1b2c3d4e5f60718", "3EB0A1B2C3D4E5F60718/1"} {
		a, b := MessageID(in), MessageID(in)
		if a != b || !validID.MatchString(string(a)) {
			t.Errorf("MessageID(%q) = %q, %q: want deterministic upper-case hex", in, a, b)
		}
	}
	if MessageID("a") == MessageID("b") {
		t.Error("different outbox IDs collide")
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"message from 6281234567890@s.whatsapp.net", "message from …7890@s.whatsapp.net"},
		{"device 6281110500567:3@s.whatsapp.net and 100000000000001@lid", "device …0567:3@s.whatsapp.net and …0001@lid"},
		{"code 515 at 12345", "code 515 at 12345"},
	}
	for _, tc := range tests {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestE164(t *testing.T) {
	for in, want := range map[string]string{"6281110500567": "+6281110500567", "4915123456789": "+4915123456789"} {
		if got := e164(in); got != want {
			t.Errorf("e164(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrintQR(t *testing.T) {
	var b strings.Builder
	if err := PrintQR(&b, "2@ref,noise,identity,adv"); err != nil || !strings.Contains(b.String(), "█") {
		t.Fatalf("PrintQR = %v, %q", err, b.String())
	}
}

func TestSendErrRedactsAndClassifies(t *testing.T) {
	c := &Channel{}
	tests := []struct {
		err      error
		notReady bool
	}{
		{fmt.Errorf("no LID found for 6281234567890@s.whatsapp.net"), false},
		{fmt.Errorf("send: %w (6281234567890)", whatsmeow.ErrNotConnected), true},
	}
	for _, tc := range tests {
		got := c.sendErr(tc.err)
		if strings.Contains(got.Error(), "6281234567890") {
			t.Errorf("error text leaks a phone number: %q", got)
		}
		if errors.Is(got, channels.ErrNotReady) != tc.notReady {
			t.Errorf("%q: ErrNotReady = %v, want %v", got, !tc.notReady, tc.notReady)
		}
	}
}
