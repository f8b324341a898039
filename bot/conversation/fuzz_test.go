package conversation

import (
	"strings"
	"testing"
	"time"
)

// FuzzStep drives every flow and step with arbitrary text: the engine must
// not panic, must keep stored fields within their caps, and must answer
// every message that is not auto-generated or on a handed-off ticket.
func FuzzStep(f *testing.F) {
	for _, s := range []string{"", "1", "menu", "batal", "ya", "SIJEJAK AB12CD", "3171011708850001",
		strings.Repeat("x", 2<<10), "\x00\x00", "🙏", "\u202e", "17-08-1985", "0812 3456 7890"} {
		for _, flow := range []string{"", "certificate_missing", "change_data", "help", "rating", "confirm_delete", "bogus"} {
			f.Add(s, flow, "nik", false, false)
		}
	}
	steps := []string{"name", "nik", "dob", "phone", "description", "attachment", "data_field", "new_value", "confirm", "menu", ""}
	e := New(Config{})
	f.Fuzz(func(t *testing.T, text, flow, step string, hasTicket, consent bool) {
		for _, s := range append(steps, step) {
			st := State{Flow: flow, Step: s, Fields: map[string]string{"data_field": "dob", "category": "sijejak"}}
			in := Input{Text: text, Now: ScriptStart.Add(time.Hour), PendingConsent: consent}
			if hasTicket {
				in.OpenTicket = &Ticket{Number: "PL-2026-000001", Status: "open", Category: "other"}
			}
			next, actions := e.Step(st, in)
			replied := false
			for _, a := range actions {
				if a.Kind == KindReply {
					replied = true
					if a.Text == "" {
						t.Fatal("empty reply")
					}
				}
			}
			for _, a := range actions {
				if a.Kind == KindReply && !strings.Contains(a.Text, " ") {
					t.Fatalf("reply %q looks like a bare catalogue key", a.Text)
				}
			}
			if !replied {
				t.Fatalf("no reply to %q in %s/%s", text, flow, s)
			}
			if n := len([]rune(next.Fields["name"])); n > MaxName {
				t.Fatalf("name of %d runes stored", n)
			}
			if n := len([]rune(next.Fields["description"])); n > MaxDescription {
				t.Fatalf("description of %d runes stored", n)
			}
		}
	})
}
