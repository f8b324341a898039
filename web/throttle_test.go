package web

import (
	"testing"
	"time"
)

func TestLoginThrottle(t *testing.T) {
	clock := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	th := newLoginThrottle()
	th.now = func() time.Time { return clock }
	for i := 0; i < th.perName; i++ {
		if th.blocked("Ani", "10.0.0.1") {
			t.Fatalf("blocked after %d failures", i)
		}
		th.failed("Ani", "10.0.0.1")
	}
	steps := []struct {
		name, addr string
		want       bool
		why        string
	}{
		{"Ani", "10.0.0.1", true, "name over its limit"},
		{" ani ", "10.0.0.9", true, "the same account from elsewhere, differently spelt"},
		{"budi", "10.0.0.1", false, "another account from the same address, under the address limit"},
	}
	for _, s := range steps {
		if got := th.blocked(s.name, s.addr); got != s.want {
			t.Errorf("%s: blocked=%v, want %v", s.why, got, s.want)
		}
	}
	// One address sweeping many names hits the address limit.
	for i := 0; i < th.perAddr; i++ {
		th.failed(string(rune('a'+i%26))+"x", "10.0.0.2")
	}
	if !th.blocked("new-name", "10.0.0.2") {
		t.Error("address over its limit not blocked")
	}
	// A success clears the account, not the address.
	th.succeeded("Ani")
	if th.blocked("ani", "10.0.0.3") {
		t.Error("account still blocked after a successful login")
	}
	if !th.blocked("someone", "10.0.0.2") {
		t.Error("a success elsewhere reset the address budget")
	}
	// The window passes.
	clock = clock.Add(th.window)
	if th.blocked("new-name", "10.0.0.2") {
		t.Error("still blocked after the window")
	}
}
