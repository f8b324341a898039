package bot_test

import (
	"lindungi/internal/app/apptest"
	"testing"
)

// TestSlotFillingThroughSimulator is issue 16's "must show 2": the whole
// story in one message goes straight to the question for what is missing
// (the phone), and the filed ticket carries the name, NIK and birth date
// read from that message.
func TestSlotFillingThroughSimulator(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	from := "+6281700000016"
	rs := ta.Say(from, "sertifikat dosis 2 sy blm muncul, nama Budi Santoso NIK 3174011203850001 lahir 12-03-1985")
	apptest.MustReply(t, rs, "*nomor HP yang didaftarkan saat vaksinasi*")
	for _, asked := range []string{"*nama lengkap*", "Mohon tuliskan *NIK*", "Mohon tuliskan *tanggal lahir*"} {
		if apptest.Contains(rs, asked) {
			t.Errorf("asked again for what the message said (%q): %q", asked, rs)
		}
	}
	apptest.MustReply(t, ta.Say(from, "0812-3456-7890"), "*foto*")
	apptest.MustReply(t, ta.Say(from, "lewati"), "- Tanggal lahir: 12-03-1985")
	rs = ta.Say(from, "ya")
	num := apptest.TicketNumber.FindString(rs[0])
	if num == "" {
		t.Fatalf("no ticket number in %q", rs)
	}
	var d apptest.TicketDetail
	ta.Call("GET", "/api/v1/tickets/"+num, nil, &d)
	for k, want := range map[string]string{"name": "Budi Santoso", "nik": "3174011203850001", "dob": "1985-03-12", "phone": "+6281234567890", "dose": "2"} {
		if got := d.Ticket.Fields[k]; got != want {
			t.Errorf("ticket %s field %s = %q, want %q", num, k, got, want)
		}
	}
	if d.Ticket.Category != "certificate_missing" {
		t.Errorf("category %q", d.Ticket.Category)
	}
}
