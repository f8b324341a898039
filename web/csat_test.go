package web_test

import (
	"strings"
	"testing"

	"lindungi/internal/app/apptest"
)

// When an operator closes a ticket, the citizen is asked on their channel
// to rate the service 1–5; their number lands on the ticket.
func TestCSATWhenOperatorCloses(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	const citizen = "+6281234500222"
	number := apptest.FileComplaint(t, ta, citizen, "3174014501900022", "Sertifikat belum muncul")
	var before struct {
		NextCursor string `json:"next_cursor"`
	}
	ta.Call("GET", "/api/v1/simulator/messages?to="+apptest.URLQ(citizen), nil, &before)
	closed := "closed"
	if code := ta.Call("PATCH", "/api/v1/tickets/"+number, map[string]*string{"status": &closed}, nil); code != 200 {
		t.Fatalf("close: %d", code)
	}
	asked := strings.Join(ta.Replies(citizen, before.NextCursor), "\n")
	if !strings.Contains(asked, number) || !strings.Contains(asked, "Seberapa puas") {
		t.Fatalf("after closing, the citizen received %q; want the rating question for %s", asked, number)
	}
	apptest.MustReply(t, ta.Say(citizen, "4"), "Terima kasih atas penilaian")
	var d struct {
		Ticket struct{ Rating int } `json:"ticket"`
	}
	ta.Call("GET", "/api/v1/tickets/"+number, nil, &d)
	if d.Ticket.Rating != 4 {
		t.Errorf("rating on the ticket %d, want 4", d.Ticket.Rating)
	}
}
