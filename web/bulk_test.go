package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/internal/app/apptest"
)

// The inbox's bulk actions: take several tickets at once, refuse (and
// count) the ones another operator already has, assign, and close.
func TestConsoleBulkActions(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	ctx := context.Background()
	var numbers []string
	for i := range 3 {
		var created struct {
			Ticket struct{ ID string } `json:"ticket"`
		}
		if code := ta.Call("POST", "/api/v1/tickets", map[string]any{"channel": "phone", "contact": fmt.Sprintf("08123450030%d", i), "name": "Warga",
			"text": "Menanyakan status vaksinasi", "answerVia": "callback", "callbackDue": "2030-01-02T10:00:00+07:00"}, &created); code != 201 {
			t.Fatalf("log call: %d", code)
		}
		numbers = append(numbers, created.Ticket.ID)
	}
	session := func(name string) (string, string) {
		acc, err := ta.Accounts.Add(ctx, name, accounts.Operator)
		if err != nil {
			t.Fatal(err)
		}
		sid, csrf, _, err := ta.Accounts.Login(ctx, name, acc.Password, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return sid, csrf
	}
	sari, sariCSRF := session("sari")
	joko, jokoCSRF := session("joko")
	post := func(sid, csrf string, form url.Values) string {
		form.Set("csrf", csrf)
		form.Set("back", "/?view=unassigned")
		req, _ := http.NewRequest("POST", ta.Base+"/tickets/bulk", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "lindungi_session", Value: sid})
		res, err := apptest.NoRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("bulk %v: %d %s", form, res.StatusCode, b)
		}
		return res.Header.Get("Location")
	}
	assignees := func() map[string]string {
		out := map[string]string{}
		for _, n := range numbers {
			var d struct {
				Ticket struct{ Assignee, Status string } `json:"ticket"`
			}
			ta.Call("GET", "/api/v1/tickets/"+n, nil, &d)
			out[n] = d.Ticket.Assignee + "/" + d.Ticket.Status
		}
		return out
	}
	if loc := post(sari, sariCSRF, url.Values{"action": {"take"}, "n": numbers[:2]}); loc != "/?view=unassigned" {
		t.Errorf("after taking two, back to %q", loc)
	}
	// Joko ticks all three: the two of Sari's are refused and counted.
	if loc := post(joko, jokoCSRF, url.Values{"action": {"take"}, "n": numbers}); !strings.Contains(loc, "failed=2") {
		t.Errorf("taking tickets of another: back to %q, want failed=2", loc)
	}
	want := map[string]string{numbers[0]: "sari/open", numbers[1]: "sari/open", numbers[2]: "joko/open"}
	if got := assignees(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after the takes %v, want %v", got, want)
	}
	post(sari, sariCSRF, url.Values{"action": {"assign"}, "assignee": {"joko"}, "n": numbers[:1]})
	post(joko, jokoCSRF, url.Values{"action": {"close"}, "n": numbers})
	want = map[string]string{numbers[0]: "joko/closed", numbers[1]: "sari/closed", numbers[2]: "joko/closed"}
	if got := assignees(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after assign and close %v, want %v", got, want)
	}
}
