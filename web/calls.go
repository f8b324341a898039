package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"lindungi/accounts"
	"lindungi/bot/conversation"
	"lindungi/channels"
	"lindungi/coded"
	"lindungi/store"
	"lindungi/tickets"
)

// callRequest is POST /api/v1/tickets: a 119 ext. 9 call logged by an
// agent. channel, contact, name, category and text are the contract;
// the rest say how the answer reaches the caller.
type callRequest struct {
	Channel     string     `json:"channel"`
	Contact     string     `json:"contact"`
	Name        string     `json:"name"`
	Category    string     `json:"category"`
	Text        string     `json:"text"`
	NIK         string     `json:"nik"`
	AnswerVia   string     `json:"answerVia"` // whatsapp (default) | email | callback
	Email       string     `json:"email"`
	CallbackDue *time.Time `json:"callbackDue"`
}

// chatChannels are the registered channels a caller's number can have a
// chat contact on, WhatsApp first.
func (s *Server) chatChannels() []string {
	var out []string
	if s.Outbox == nil {
		return out
	}
	for _, c := range s.Outbox.Channels() {
		if n := c.Name(); n != channels.Email {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if a == "whatsapp" {
			return -1
		}
		if b == "whatsapp" {
			return 1
		}
		return strings.Compare(a, b)
	})
	return out
}

// logCall turns a call into a ticket. An answer "by WhatsApp" goes on the
// WhatsApp channel, or on the simulator where the simulator stands in for
// it (development and demos, WhatsApp off).
func (s *Server) logCall(r *http.Request, u accounts.User, c callRequest) (tickets.Ticket, error) {
	if c.Channel != tickets.Phone {
		return tickets.Ticket{}, coded.New(coded.Invalid, "bad_channel", "only calls are logged here: channel must be %q", tickets.Phone)
	}
	phone, ok := conversation.NormalizePhone(c.Contact)
	if !ok {
		return tickets.Ticket{}, coded.New(coded.Invalid, "bad_contact", "contact must be the caller's Indonesian mobile number, like 0812 3456 7890")
	}
	name, _ := conversation.CleanName(c.Name)
	chats := s.chatChannels()
	via := c.AnswerVia
	switch via {
	case "", "whatsapp":
		if len(chats) == 0 {
			return tickets.Ticket{}, coded.New(coded.Unavailable, "no_chat_channel", "no WhatsApp channel is running; answer by e-mail or call back")
		}
		via = chats[0]
	case "email", tickets.Callback:
	default:
		return tickets.Ticket{}, coded.New(coded.Invalid, "bad_answer_via", "answerVia must be whatsapp, email or callback")
	}
	var t tickets.Ticket
	err := s.DB.InTx(r.Context(), func(tx *store.Tx) error {
		var err error
		t, err = s.Tickets.LogCall(r.Context(), tx, tickets.Call{Phone: phone, Name: name, NIK: strings.TrimSpace(c.NIK), Category: c.Category,
			Text: c.Text, Agent: u.Name, AnswerVia: via, Email: strings.TrimSpace(c.Email), CallbackDue: c.CallbackDue}, chats)
		return err
	})
	if err != nil {
		return t, err
	}
	s.audit(r.Context(), u, "ticket.call_logged", "ticket", t.Number, "answer="+via)
	return t, nil
}

func (s *Server) callRoutes(mux *http.ServeMux) {
	staff := []string{accounts.Operator, accounts.Supervisor}
	mux.Handle("POST /api/v1/tickets", s.auth(staff, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		var c callRequest
		if err := DecodeJSON(r, &c); err != nil {
			return err
		}
		t, err := s.logCall(r, u, c)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]any{"ticket": t})
		return nil
	}))
	mux.HandleFunc("GET /calls/new", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		s.render(w, "call.html", map[string]any{"User": u, "CSRF": csrf, "Categories": tickets.Categories, "Today": time.Now().In(wib).Format("2006-01-02")})
		return nil
	}))
	mux.HandleFunc("POST /calls", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		c := callRequest{Channel: tickets.Phone, Contact: r.FormValue("contact"), Name: r.FormValue("name"), NIK: r.FormValue("nik"),
			Category: r.FormValue("category"), Text: r.FormValue("text"), AnswerVia: r.FormValue("answer_via"), Email: r.FormValue("email")}
		if c.AnswerVia == tickets.Callback {
			// The form's date and time are WIB, as the agent promised them.
			due, err := time.ParseInLocation("2006-01-02T15:04", r.FormValue("callback_due"), wib)
			if err != nil {
				return coded.New(coded.Invalid, "bad_callback_due", "Isi tanggal dan jam telepon balik.")
			}
			c.CallbackDue = &due
		}
		t, err := s.logCall(r, u, c)
		if err != nil {
			return err
		}
		http.Redirect(w, r, "/tickets/"+url.PathEscape(t.Number), http.StatusSeeOther)
		return nil
	}))
}
