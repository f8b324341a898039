package main

import (
	"strings"
	"testing"
)

// When an operator closes a ticket, the citizen is asked on their channel
// to rate the service 1–5; their number lands on the ticket.
func TestCSATWhenOperatorCloses(t *testing.T) {
	ta := startApp(t, testConfig(t))
	const citizen = "+6281234500222"
	number := fileComplaint(t, ta, citizen, "3174014501900022", "Sertifikat belum muncul")
	var before struct {
		NextCursor string `json:"next_cursor"`
	}
	ta.call("GET", "/api/v1/simulator/messages?to="+urlq(citizen), nil, &before)
	closed := "closed"
	if code := ta.call("PATCH", "/api/v1/tickets/"+number, map[string]*string{"status": &closed}, nil); code != 200 {
		t.Fatalf("close: %d", code)
	}
	asked := strings.Join(ta.replies(citizen, before.NextCursor), "\n")
	if !strings.Contains(asked, number) || !strings.Contains(asked, "Seberapa puas") {
		t.Fatalf("after closing, the citizen received %q; want the rating question for %s", asked, number)
	}
	mustReply(t, ta.say(citizen, "4"), "Terima kasih atas penilaian")
	var d struct {
		Ticket struct{ Rating int } `json:"ticket"`
	}
	ta.call("GET", "/api/v1/tickets/"+number, nil, &d)
	if d.Ticket.Rating != 4 {
		t.Errorf("rating on the ticket %d, want 4", d.Ticket.Rating)
	}
}
