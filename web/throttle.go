package web

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// loginThrottle refuses console logins after too many recent failures, per
// account name and per client address, so a password cannot be guessed at
// bcrypt speed and one address cannot sweep many names. It is in memory per
// process: a restart or another replica starts afresh, which bounds an
// attacker to a few guesses per window per replica — enough against online
// guessing, with nothing to clean up in the database.
type loginThrottle struct {
	mu      sync.Mutex
	window  time.Duration
	perName int
	perAddr int
	fails   map[string]*failures
	now     func() time.Time
}

type failures struct {
	n     int
	first time.Time
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{window: 15 * time.Minute, perName: 5, perAddr: 20, fails: map[string]*failures{}, now: time.Now}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (t *loginThrottle) keys(name, addr string) [2]string {
	return [2]string{"n\x00" + strings.ToLower(strings.TrimSpace(name)), "a\x00" + addr}
}

// blocked reports whether another attempt for name from addr must wait.
func (t *loginThrottle) blocked(name, addr string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	k := t.keys(name, addr)
	for i, limit := range []int{t.perName, t.perAddr} {
		if f := t.fails[k[i]]; f != nil {
			if now.Sub(f.first) >= t.window {
				delete(t.fails, k[i])
			} else if f.n >= limit {
				return true
			}
		}
	}
	return false
}

// failed records a failed attempt.
func (t *loginThrottle) failed(name, addr string) {
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
	for _, k := range t.keys(name, addr) {
		f := t.fails[k]
		if f == nil || now.Sub(f.first) >= t.window {
			f = &failures{first: now}
			t.fails[k] = f
		}
		f.n++
	}
}

// succeeded forgets the account's failures (not the address's: a
// guesser who owns one account must not reset their budget with it).
func (t *loginThrottle) succeeded(name string) {
	t.mu.Lock()
	delete(t.fails, t.keys(name, "")[0])
	t.mu.Unlock()
}
