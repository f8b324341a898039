package web_test

import (
	"context"
	"net/url"
	"sync"
	"testing"

	"lindungi/accounts"
	"lindungi/internal/app/apptest"
)

// Guesses sent in parallel must not all be checked against the password
// before the first failure is counted: each attempt is reserved first.
func TestLoginThrottleHoldsUnderConcurrentGuesses(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	if _, err := ta.Accounts.Add(context.Background(), "petugas.budi", accounts.Operator); err != nil {
		t.Fatal(err)
	}
	client := apptest.NoRedirects
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0 // attempts whose password was actually verified (answer e=1)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			res, err := client.PostForm(ta.Base+"/login", url.Values{"name": {"petugas.budi"}, "password": {"guess-" + string(rune('a'+i))}})
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			if res.Header.Get("Location") == "/login?e=1" {
				mu.Lock()
				checked++
				mu.Unlock()
			}
		}(i)
	}
	close(start)
	wg.Wait()
	if checked > 5 {
		t.Errorf("throttle bypassed: %d password guesses verified for one account inside one window, limit is 5", checked)
	}
}

// Audit rows are kept five years and cost a durable write each: a flood of
// refused, unauthenticated logins must write one per throttled key and
// window, not one per request.
func TestLoginThrottleAuditsOncePerWindow(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	client := apptest.NoRedirects
	post := func() string {
		res, err := client.PostForm(ta.Base+"/login", url.Values{"name": {"admin"}, "password": {"x"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header.Get("Location")
	}
	for i := 0; i < 5; i++ {
		post()
	}
	const flood = 300
	for i := 0; i < flood; i++ {
		if loc := post(); loc != "/login?e=wait" {
			t.Fatalf("attempt %d: %q, want throttled", i, loc)
		}
	}
	if n := ta.Count(t, `SELECT COUNT(*) FROM audit_log WHERE action = 'login.throttled'`); n != 1 {
		t.Errorf("%d audit rows for %d refused requests, want 1", n, flood)
	}
}
