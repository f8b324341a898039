package web_test

import (
	"fmt"
	"strings"
	"testing"

	"lindungi/internal/app/apptest"
)

// A hand-off ticket takes its subject and category from the citizen's
// first substantive message after the hand-off; a greeting does not
// count, and later messages do not change it again.
func TestHandoffTicketTakesItsTopic(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	for i, tc := range []struct {
		name                 string
		after                []string
		wantSubject, wantCat string
	}{
		{"certificate", []string{"halo", "sertifikat vaksin dosis kedua saya belum muncul", "tolong dibantu soal login juga"},
			"sertifikat vaksin dosis kedua saya belum muncul", "certificate_missing"},
		{"sentence without a category", []string{"ok", "saya ingin menanyakan sesuatu yang cukup panjang"},
			"saya ingin menanyakan sesuatu yang cukup panjang", "other"},
		{"only greetings", []string{"halo", "ok"}, "Permintaan bicara dengan petugas", "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			citizen := fmt.Sprintf("+628130000%04d", i+10)
			ta.Say(citizen, "halo")
			number := apptest.TicketNumber.FindString(strings.Join(ta.Say(citizen, "bicara dengan petugas"), "\n"))
			if number == "" {
				t.Fatal("no ticket on hand-off")
			}
			// The bot stays quiet during a hand-off: post without waiting
			// for replies (delivery is done when the POST answers).
			for _, m := range tc.after {
				if code := ta.Call("POST", "/api/v1/simulator/messages", map[string]string{"from": citizen, "name": "Budi", "text": m}, nil); code != 202 {
					t.Fatalf("post %q: %d", m, code)
				}
			}
			var d struct {
				Ticket struct{ Subject, Category string } `json:"ticket"`
			}
			ta.Call("GET", "/api/v1/tickets/"+number, nil, &d)
			if d.Ticket.Subject != tc.wantSubject || d.Ticket.Category != tc.wantCat {
				t.Errorf("subject %q category %q, want %q %q", d.Ticket.Subject, d.Ticket.Category, tc.wantSubject, tc.wantCat)
			}
		})
	}
}
