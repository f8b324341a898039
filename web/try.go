package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"lindungi/accounts"
	"lindungi/channels"
	"lindungi/channels/simulator"
	"lindungi/coded"
)

// tryAddress is the simulator "phone" of an operator's test citizen on the
// try-it page. The server chooses it, never the operator, and it is no
// phone number: whatever Sijejak accepts only from the sender's own number
// (a SIJEJAK code, a consent answer) cannot be given in a real citizen's
// name from here, even where the simulator is the tracing channel (demos),
// and elsewhere the bot refuses the simulator for them anyway.
func tryAddress(u accounts.User) string {
	a := "coba:" + u.Name
	if len(a) > 64 {
		// A long name would be cut and could meet another's: the
		// account's number is unique.
		a = fmt.Sprintf("coba:#%d", u.ID)
	}
	return a
}

// tryLine is one message of the try-it conversation.
type tryLine struct {
	Out  bool // the bot's (or an operator's) message to the test citizen
	Text string
	At   time.Time
}

var errTryOff = coded.New(coded.NotFound, "page_not_found", "Halaman yang Anda tuju tidak ada. Periksa alamatnya, atau kembali ke daftar tiket.")

// tryRoutes is "try the bot": an operator types as a test citizen on the
// simulator channel and reads the bot's answers as the simulator delivered
// them. Only while the simulator is on (a development and demo tool);
// otherwise the page does not exist.
func (s *Server) tryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /try", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		if s.Simulator == nil {
			return errTryOff
		}
		addr := tryAddress(u)
		in, err := s.Tickets.InboundOf(r.Context(), channels.Simulator, addr, 50)
		if err != nil {
			return err
		}
		out, err := s.Simulator.Sent(r.Context(), addr, 0, 0)
		if err != nil {
			return err
		}
		if len(out) > 50 {
			out = out[len(out)-50:]
		}
		var lines []tryLine
		for _, m := range in {
			lines = append(lines, tryLine{Text: m.Text, At: m.CreatedAt})
		}
		for _, m := range out {
			lines = append(lines, tryLine{Out: true, Text: m.Text, At: m.DeliveredAt})
		}
		slices.SortStableFunc(lines, func(a, b tryLine) int { return a.At.Compare(b.At) })
		s.render(w, "try.html", map[string]any{"User": u, "CSRF": csrf, "Lines": lines, "Address": addr})
		return nil
	}))
	mux.HandleFunc("POST /try", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		if s.Simulator == nil {
			return errTryOff
		}
		text := strings.TrimSpace(r.FormValue("text"))
		if text == "" {
			return coded.New(coded.Invalid, "empty_text", "text is empty")
		}
		// The same path as the simulator's API: the message arrives on
		// the simulator channel, and the bot decides what it may do there.
		in, err := simulator.Inbound(simulator.Submission{From: tryAddress(u), Name: "Warga uji", Text: text})
		if err != nil {
			return err
		}
		if err := s.Bot.Deliver(r.Context(), in); err != nil {
			return err
		}
		http.Redirect(w, r, "/try", http.StatusSeeOther)
		return nil
	}))
}
