package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// loginThrottle bounds console password guessing. Each attempt is reserved
// before the password is checked (check and count under one lock, so
// parallel guesses cannot all slip past), against three budgets per window:
// one account from one address (perPair), one address over all accounts
// (perAddr: a sweep of names), and one account from anywhere (perName:
// distributed guessing — set high, so that someone who knows an operator's
// name cannot lock them out from their own desk with a few wrong guesses).
// It is in memory per process: a restart or another replica starts afresh,
// which still bounds guessing to a few attempts per window per replica.
type loginThrottle struct {
	mu      sync.Mutex
	window  time.Duration
	perPair int
	perAddr int
	perName int
	fails   map[string]*failures
	now     func() time.Time
}

type failures struct {
	n        int
	first    time.Time
	reported bool // the first refusal of this window was audited
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{window: 15 * time.Minute, perPair: 5, perAddr: 20, perName: 50, fails: map[string]*failures{}, now: time.Now}
}

// clientAddr is the address a request came from: the peer, or — when the
// peer is one of the trusted reverse proxies — the last address in
// X-Forwarded-For that is not a trusted proxy itself.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	isTrusted := func(s string) bool {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	if len(trusted) == 0 || !isTrusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		if !isTrusted(h) {
			return h
		}
	}
	return host
}

func (t *loginThrottle) keys(name, addr string) (pair, byAddr, byName string) {
	n := strings.ToLower(strings.TrimSpace(name))
	return "p\x00" + n + "\x00" + addr, "a\x00" + addr, "n\x00" + n
}

// entry returns the live counter for k, starting a new window if the old
// one has passed.
func (t *loginThrottle) entry(k string, now time.Time) *failures {
	f := t.fails[k]
	if f == nil || now.Sub(f.first) >= t.window {
		f = &failures{first: now}
		t.fails[k] = f
	}
	return f
}

// attempt reserves one attempt for name from addr. ok is false when a
// budget is spent; report is true for the first refusal of a window, so a
// flood of refused requests writes one audit row, not one each.
func (t *loginThrottle) attempt(name, addr string) (ok, report bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.fails) > 100_000 {
		// Bound memory under a spray of names: drop what has expired.
		for k, f := range t.fails {
			if now.Sub(f.first) >= t.window {
				delete(t.fails, k)
			}
		}
	}
	pk, ak, nk := t.keys(name, addr)
	counters := []*failures{t.entry(pk, now), t.entry(ak, now), t.entry(nk, now)}
	for i, limit := range []int{t.perPair, t.perAddr, t.perName} {
		if f := counters[i]; f.n >= limit {
			report = !f.reported
			f.reported = true
			return false, report
		}
	}
	for _, f := range counters {
		f.n++
	}
	return true, false
}

// succeeded gives a correct password its reservation back: the account's
// counters are forgotten and the address is not charged for it (a guesser
// who owns one account still cannot reset the address budget with it,
// since only this one attempt is returned).
func (t *loginThrottle) succeeded(name, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pk, ak, nk := t.keys(name, addr)
	delete(t.fails, pk)
	delete(t.fails, nk)
	if f := t.fails[ak]; f != nil && f.n > 0 {
		f.n--
	}
}
