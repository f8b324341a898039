package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"lindungi/config"
	"lindungi/internal/app/apptest"
	"lindungi/store"
	"lindungi/store/storetest"
)

// TestInboxAtScale is issue 18's must-show 3, run by hand: with
// LINDUNGI_TEST_SCALE=1000000 it fills the database with that many tickets
// (most closed, as in life) and times the inbox views over HTTP next to
// GET /healthz in the same run, on SQLite and (with
// LINDUNGI_TEST_POSTGRES_URL) PostgreSQL. It asserts what each view
// returns; the timings are reported, not asserted (a shared machine is no
// place for timed assertions).
func TestInboxAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LINDUNGI_TEST_SCALE"))
	if n <= 0 {
		t.Skip("set LINDUNGI_TEST_SCALE=1000000 to measure the inbox at scale")
	}
	t.Run("sqlite", func(t *testing.T) { inboxAtScale(t, apptest.Config(t, "LINDUNGI_LOG_LEVEL=error"), n) })
	t.Run("postgres", func(t *testing.T) {
		inboxAtScale(t, apptest.Config(t, "LINDUNGI_LOG_LEVEL=error", "LINDUNGI_DATABASE_URL="+storetest.PostgresURL(t)), n)
	})
}

func inboxAtScale(t *testing.T, cfg config.Config, n int) {
	ta := apptest.Start(t, cfg)
	ctx := context.Background()
	db := ta.DB
	start := time.Now()
	now := time.Now().UTC()
	var contact int64
	err := db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		contact, err = tx.InsertID(ctx, `INSERT INTO contacts (channel, address, name, lang, created_at, updated_at) VALUES ('simulator', '+6281200000000', 'Skala', 'id', ?, ?) RETURNING id`, now, now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	statuses := []string{"closed", "closed", "closed", "closed", "closed", "closed", "closed", "resolved", "open", "pending"}
	const batch = 20000
	for lo := 0; lo < n; lo += batch {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			rows := store.NewRows("tickets", "", "number", "contact_id", "channel", "subject", "category", "status", "assignee", "created_at", "updated_at", "first_response_at")
			for i := lo; i < min(lo+batch, n); i++ {
				at := now.Add(-time.Duration(n-i) * 15 * time.Second)
				st := statuses[i%len(statuses)]
				assignee := ""
				if i%3 == 0 {
					assignee = fmt.Sprintf("petugas%d", i%20)
				}
				var fr any
				if st != "open" || i%2 == 0 {
					fr = at.Add(time.Hour)
				}
				rows.Add(fmt.Sprintf("PL-S-%07d", i), contact, "simulator", "keluhan", "certificate_missing", st, assignee, at, at, fr)
			}
			return rows.Flush(ctx, tx)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if db.Dialect() == store.Postgres {
		db.Exec(ctx, `ANALYZE tickets`)
	} else {
		db.Exec(ctx, `ANALYZE`)
	}
	t.Logf("%s: %d tickets inserted in %s", db.Dialect(), n, time.Since(start).Round(time.Second))

	if _, err := ta.Accounts.Add(ctx, "petugas3", "operator"); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest("GET", ta.Base+path, nil)
		req.Header.Set("Authorization", "Bearer "+ta.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	measure := func(path string) (p50, p99 time.Duration) {
		var d []time.Duration
		for range 200 {
			s := time.Now()
			if code, body := get(path); code != 200 {
				t.Fatalf("%s: %d %s", path, code, body)
			}
			d = append(d, time.Since(s))
		}
		slices.Sort(d)
		return d[len(d)/2], d[len(d)*99/100]
	}
	hp50, hp99 := measure("/healthz")
	t.Logf("%s trivial handler GET /healthz: p50 %s p99 %s", db.Dialect(), hp50, hp99)
	for _, path := range []string{
		"/api/v1/tickets?view=unassigned", "/api/v1/tickets?view=mine", "/api/v1/tickets?view=all",
		"/api/v1/tickets?view=waiting", "/api/v1/tickets?view=breaching", "/api/v1/tickets?view=unassigned&sort=oldest",
		"/api/v1/tickets?view=unassigned&sort=sla", "/api/v1/tickets?assignee=petugas3", "/api/v1/tickets?q=PL-S-0000042",
	} {
		p50, p99 := measure(path)
		t.Logf("%s GET %s: p50 %s p99 %s", db.Dialect(), path, p50, p99)
	}
	// What the views return at this size: a full page of the right tickets.
	var page struct {
		Tickets []struct{ Status, Assignee string } `json:"tickets"`
	}
	ta.Call("GET", "/api/v1/tickets?view=unassigned", nil, &page)
	if len(page.Tickets) != 50 {
		t.Errorf("unassigned: %d tickets, want a page of 50", len(page.Tickets))
	}
	for _, tk := range page.Tickets {
		if tk.Assignee != "" || (tk.Status != "open" && tk.Status != "pending") {
			t.Errorf("unassigned view holds %+v", tk)
		}
	}
}
