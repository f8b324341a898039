package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// loginThrottle bounds console password guessing without handing an
// attacker a way to lock an operator out. Each attempt is reserved before
// the password is checked (check and count under one lock, so parallel
// guesses cannot all slip past), against:
//
//   - one account from one address (perPair): the hard lock, and the only
//     one that involves the account's own desk;
//   - one address over all accounts (perAddr: a sweep of names);
//   - one account from anywhere (perName: distributed guessing). Past this
//     budget the account is not locked: attempts go on at one per slowEvery
//     from all addresses together, which bounds guessing, and the
//     operator's own attempts are exempt — from an address the account
//     logged in from (known, for knownFor), or from a browser holding the
//     account's device cookie (deviceCookie: it survives a restart and
//     works on every replica) — so someone who knows an operator's name
//     cannot keep them out of the console.
//
// It is in memory per process: a restart or another replica starts afresh,
// which still bounds guessing to a few attempts per window per replica.
type loginThrottle struct {
	mu        sync.Mutex
	window    time.Duration
	perPair   int
	perAddr   int
	perName   int
	slowEvery time.Duration
	knownFor  time.Duration
	fails     map[string]*failures
	// slow holds, per account past its budget, when the last slow attempt
	// was let through.
	slow map[string]time.Time
	// known holds the last successful login per (account, address) pair.
	known map[string]time.Time
	now   func() time.Time
}

type failures struct {
	n        int
	first    time.Time
	reported bool // the first refusal of this window was audited
}

// maxEntries bounds each map under a spray of names or addresses.
const maxEntries = 100_000

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{window: 15 * time.Minute, perPair: 5, perAddr: 20, perName: 50,
		slowEvery: 30 * time.Second, knownFor: 30 * 24 * time.Hour,
		fails: map[string]*failures{}, slow: map[string]time.Time{}, known: map[string]time.Time{}, now: time.Now}
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
// flood of refused requests writes one audit row, not one each. device
// says the browser showed the account's device cookie.
func (t *loginThrottle) attempt(name, addr string, device bool) (ok, report bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.prune(now)
	pk, ak, nk := t.keys(name, addr)
	pair, byAddr := t.entry(pk, now), t.entry(ak, now)
	refuse := func(f *failures) (bool, bool) {
		report = !f.reported
		f.reported = true
		return false, report
	}
	if pair.n >= t.perPair {
		return refuse(pair)
	}
	if byAddr.n >= t.perAddr {
		return refuse(byAddr)
	}
	if last, ok := t.known[pk]; !device && (!ok || now.Sub(last) >= t.knownFor) {
		byName := t.entry(nk, now)
		if byName.n >= t.perName {
			if last, ok := t.slow[nk]; ok && now.Sub(last) < t.slowEvery {
				return refuse(byName)
			}
			t.slow[nk] = now
		}
		byName.n++
	}
	pair.n++
	byAddr.n++
	return true, false
}

// prune drops what has expired once a map grows large.
func (t *loginThrottle) prune(now time.Time) {
	if len(t.fails) > maxEntries {
		for k, f := range t.fails {
			if now.Sub(f.first) >= t.window {
				delete(t.fails, k)
			}
		}
	}
	if len(t.slow) > maxEntries {
		for k, last := range t.slow {
			if now.Sub(last) >= t.slowEvery {
				delete(t.slow, k)
			}
		}
	}
	if len(t.known) > maxEntries {
		for k, last := range t.known {
			if now.Sub(last) >= t.knownFor {
				delete(t.known, k)
			}
		}
	}
}

// succeeded gives a correct password its reservation back and remembers
// the address as the account's own: the pair's counter is forgotten and the
// address is not charged for the good attempt (a guesser who owns one
// account still cannot reset the address budget with it, since only this
// one attempt is returned). The account's distributed budget is left as it
// is: the operator is exempt from it at this address now, and a guesser is
// not given a fresh one.
func (t *loginThrottle) succeeded(name, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pk, ak, _ := t.keys(name, addr)
	delete(t.fails, pk)
	if f := t.fails[ak]; f != nil && f.n > 0 {
		f.n--
	}
	if len(t.known) < maxEntries {
		t.known[pk] = t.now()
	} else if _, ok := t.known[pk]; ok {
		t.known[pk] = t.now()
	}
}
