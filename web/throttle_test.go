package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestLoginThrottle(t *testing.T) {
	clock := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	th := newLoginThrottle()
	th.now = func() time.Time { return clock }
	try := func(name, addr string) bool { ok, _ := th.attempt(name, addr, false); return ok }

	for i := 0; i < th.perPair; i++ {
		if !try("Ani", "10.0.0.1") {
			t.Fatalf("refused after %d attempts", i)
		}
	}
	steps := []struct {
		name, addr string
		want       bool
		why        string
	}{
		{"Ani", "10.0.0.1", false, "account and address over the pair limit"},
		{" ani ", "10.0.0.1", false, "the same account, differently spelt"},
		{"Ani", "10.0.0.9", true, "the operator from her own desk is not locked out by someone else's guesses"},
		{"budi", "10.0.0.1", true, "another account from the same address, under the address limit"},
	}
	for _, s := range steps {
		if got := try(s.name, s.addr); got != s.want {
			t.Errorf("%s: allowed=%v, want %v", s.why, got, s.want)
		}
	}
	// The first refusal of a window is reported once, not per request.
	_, r1 := th.attempt("Ani", "10.0.0.1", false)
	_, r2 := th.attempt("Ani", "10.0.0.1", false)
	if r1 || r2 {
		t.Errorf("refusals reported again (%v, %v) after the first", r1, r2)
	}
	// One address sweeping many names hits the address limit.
	for i := 0; i < th.perAddr; i++ {
		try(string(rune('a'+i%26))+"x", "10.0.0.2")
	}
	if ok, report := th.attempt("new-name", "10.0.0.2", false); ok || !report {
		t.Errorf("address over its limit: allowed=%v report=%v, want refused and reported", ok, report)
	}
	// Citra logs in from her desk; then someone guesses her password from
	// many addresses, past the account's distributed budget.
	if !try("citra", "10.0.5.5") {
		t.Fatal("first login refused")
	}
	th.succeeded("citra", "10.0.5.5")
	for i := 1; i < th.perName; i++ { // her own login was the first
		try("citra", netip.AddrFrom4([4]byte{192, 168, byte(i / 250), byte(i % 250)}).String())
	}
	// Past it, guessing slows to one attempt per slowEvery from all
	// addresses together ...
	if !try("citra", "172.16.0.1") {
		t.Error("the first attempt past the distributed budget should pass (slowly)")
	}
	if ok, report := th.attempt("citra", "172.16.0.2", false); ok || !report {
		t.Errorf("a second attempt within slowEvery: allowed=%v report=%v, want refused and reported", ok, report)
	}
	clock = clock.Add(th.slowEvery)
	if !try("citra", "172.16.0.3") || try("citra", "172.16.0.4") {
		t.Error("after slowEvery exactly one more attempt should pass")
	}
	// ... while Citra is not held up at all: from a new address with her
	// device cookie, or at her own desk.
	if ok, _ := th.attempt("citra", "10.9.9.9", true); !ok {
		t.Error("Citra refused from a new address with her device cookie")
	}
	for i := 0; i < th.perPair; i++ {
		if !try("citra", "10.0.5.5") {
			t.Fatalf("Citra refused at her own desk (attempt %d) while others guess her password", i)
		}
	}
	// A success returns its reservation: the account is free again, the
	// address is not charged for the good attempt.
	th.succeeded("Ani", "10.0.0.9")
	th.succeeded("Ani", "10.0.0.1")
	if !try("ani", "10.0.0.3") {
		t.Error("account still blocked after a successful login")
	}
	// The window passes.
	clock = clock.Add(th.window)
	if !try("new-name", "10.0.0.2") || !try("citra", "172.16.0.1") || !try("citra", "172.16.0.9") {
		t.Error("still refused after the window")
	}
}

func TestClientAddrBehindTrustedProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	for _, c := range []struct {
		peer, xff string
		trusted   []netip.Prefix
		want      string
	}{
		{"203.0.113.7:5555", "", trusted, "203.0.113.7"},
		{"203.0.113.7:5555", "198.51.100.1", trusted, "203.0.113.7"}, // untrusted peer: header ignored
		{"10.1.2.3:443", "198.51.100.1", trusted, "198.51.100.1"},
		{"10.1.2.3:443", "6.6.6.6, 198.51.100.1, 10.9.9.9", trusted, "198.51.100.1"}, // spoofed left part ignored
		{"10.1.2.3:443", "", trusted, "10.1.2.3"},
		{"10.1.2.3:443", "198.51.100.1", nil, "10.1.2.3"}, // no proxies configured
	} {
		r := httptest.NewRequest("POST", "/login", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientAddr(r, c.trusted); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}
