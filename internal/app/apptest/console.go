package apptest

import (
	"strings"
	"testing"
)

// FileComplaint walks the bot's certificate complaint as citizen over the
// simulator and returns the ticket number (the console's tests start from
// a ticket a citizen made the ordinary way).
func FileComplaint(t testing.TB, g *Gateway, citizen, nik, text string) string {
	t.Helper()
	MustReply(t, g.Say(citizen, "halo"), "Selamat datang")
	MustReply(t, g.Say(citizen, "1"), "nama lengkap")
	MustReply(t, g.Say(citizen, "Budi Santoso"), "NIK")
	MustReply(t, g.Say(citizen, nik), "tanggal lahir")
	MustReply(t, g.Say(citizen, "05-01-1990"), "nomor HP")
	MustReply(t, g.Say(citizen, "081234567890"), "jelaskan")
	MustReply(t, g.Say(citizen, text), "foto")
	MustReply(t, g.Say(citizen, "lewati"), nik)
	number := TicketNumber.FindString(strings.Join(g.Say(citizen, "ya"), "\n"))
	if number == "" {
		t.Fatal("no ticket number in the confirmation")
	}
	return number
}
