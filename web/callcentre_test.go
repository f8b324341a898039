package web_test

import (
	"net/http"
	"strings"
	"testing"

	"lindungi/internal/app/apptest"
)

// TestCallCentreAPI: a 119 call logged through the API becomes a phone
// ticket; the caller's WhatsApp chat (the simulator stands in for it in
// tests) is the same person, so the call shows among their other tickets
// and the operator's answer reaches their chat; a call-back ticket refuses
// a reply; notes never reach the citizen; bad calls are refused with codes.
func TestCallCentreAPI(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	const caller, nik = "+6281234500099", "3174014501900003"
	apptest.FileComplaint(t, ta, caller, nik, "Sertifikat belum muncul")

	var created struct {
		Ticket struct {
			ID, Channel, Contact, Category, AnswerVia string
		} `json:"ticket"`
	}
	code := ta.Call("POST", "/api/v1/tickets", map[string]any{"channel": "phone", "contact": "0812-3450-0099", "name": "Budi Santoso",
		"category": "certificate_missing", "text": "Menelepon lagi: sertifikat dosis 2 masih belum muncul."}, &created)
	if code != http.StatusCreated || created.Ticket.Channel != "phone" || created.Ticket.Contact != caller || created.Ticket.AnswerVia != "simulator" {
		t.Fatalf("log call: %d %+v", code, created.Ticket)
	}
	call := created.Ticket.ID

	// The call is in the caller's history with their chat ticket, and the
	// phone channel is a valid filter.
	var list struct {
		Tickets []struct{ ID string } `json:"tickets"`
	}
	if code := ta.Call("GET", "/api/v1/tickets?channel=phone", nil, &list); code != 200 || len(list.Tickets) != 1 || list.Tickets[0].ID != call {
		t.Errorf("channel=phone: %d %+v", code, list.Tickets)
	}
	if code := ta.Call("GET", "/api/v1/tickets?view=unassigned", nil, &list); code != 200 || len(list.Tickets) != 2 {
		t.Errorf("view=unassigned: %d %+v", code, list.Tickets)
	}

	// A note, then an answer: only the answer reaches the caller's chat.
	var before struct {
		NextCursor string `json:"next_cursor"`
	}
	ta.Call("GET", "/api/v1/simulator/messages?to="+apptest.URLQ(caller), nil, &before)
	const secret = "Catatan internal: cek PCare dulu"
	if code := ta.Call("POST", "/api/v1/tickets/"+call+"/notes", map[string]string{"text": secret}, nil); code != http.StatusCreated {
		t.Fatalf("note: %d", code)
	}
	if code := ta.Call("POST", "/api/v1/tickets/"+call+"/replies", map[string]string{"text": "Bapak Budi, sertifikat sudah kami terbitkan ulang."}, nil); code != http.StatusCreated {
		t.Fatalf("reply to a call: %d", code)
	}
	got := strings.Join(ta.Replies(caller, before.NextCursor), "\n")
	if !strings.Contains(got, "sudah kami terbitkan ulang") || strings.Contains(got, "Catatan internal") {
		t.Errorf("the caller's chat received %q: want the answer and never the note", got)
	}
	var d apptest.TicketDetail
	ta.Call("GET", "/api/v1/tickets/"+call, nil, &d)
	for _, m := range d.Ticket.Messages {
		if strings.Contains(m.Text, secret) {
			t.Error("a note appears among the ticket's messages")
		}
	}

	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"not a phone channel", map[string]any{"channel": "whatsapp", "contact": caller, "name": "A", "text": "x"}, 400},
		{"not a mobile number", map[string]any{"channel": "phone", "contact": "12345", "name": "A", "text": "x"}, 400},
		{"nothing said", map[string]any{"channel": "phone", "contact": caller, "name": "A", "text": " "}, 400},
		{"unknown category", map[string]any{"channel": "phone", "contact": caller, "name": "A", "text": "x", "category": "lain"}, 400},
		{"e-mail answer without address", map[string]any{"channel": "phone", "contact": caller, "name": "A", "text": "x", "answerVia": "email"}, 400},
		{"call-back without time", map[string]any{"channel": "phone", "contact": caller, "name": "A", "text": "x", "answerVia": "callback"}, 400},
		{"bad NIK", map[string]any{"channel": "phone", "contact": caller, "name": "A", "text": "x", "nik": "123"}, 400},
	} {
		if code := ta.Call("POST", "/api/v1/tickets", tc.body, nil); code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, code, tc.want)
		}
	}

	// A call-back: a reply has nowhere to go, and says so.
	code = ta.Call("POST", "/api/v1/tickets", map[string]any{"channel": "phone", "contact": "081299990000", "name": "Sari", "text": "Minta ditelepon balik",
		"answerVia": "callback", "callbackDue": "2030-01-02T10:00:00+07:00"}, &created)
	if code != http.StatusCreated {
		t.Fatalf("callback call: %d", code)
	}
	if code := ta.Call("POST", "/api/v1/tickets/"+created.Ticket.ID+"/replies", map[string]string{"text": "halo"}, nil); code != http.StatusConflict {
		t.Errorf("reply to a call-back ticket: %d, want 409", code)
	}
}
