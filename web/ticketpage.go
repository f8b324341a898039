package web

import (
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"lindungi/accounts"
	"lindungi/coded"
	"lindungi/store"
	"lindungi/tickets"
)

// fieldLabels are the Indonesian names of a ticket's fields, in the order
// the page lists them; a field without a label follows, under its key.
var fieldLabels = []struct{ Key, Label string }{
	{"name", "Nama lengkap"}, {"nik", "NIK"}, {"dob", "Tanggal lahir"}, {"phone", "Nomor HP"},
	{"data_field", "Data yang diubah"}, {"new_value", "Nilai baru"}, {"description", "Uraian keluhan"},
	{"attachment", "Lampiran"}, {"lang", "Bahasa"}, {"answer_via", "Jawaban melalui"}, {"email", "Surel"},
}

// fieldValues turn stored values into words.
var fieldValues = map[string]string{
	"lang:id": "Bahasa Indonesia", "lang:en": "Bahasa Inggris", "attachment:yes": "ada", "attachment:no": "tidak ada",
	"data_field:name": "nama", "data_field:dob": "tanggal lahir", "data_field:phone": "nomor HP", "data_field:nik": "NIK",
	"answer_via:whatsapp": "WhatsApp", "answer_via:email": "surel", "answer_via:callback": "telepon balik",
}

// secretFields are shown masked until the operator asks to see them; that
// request is audited.
var secretFields = map[string]func(string) string{"nik": tickets.MaskNIK, "phone": maskPhone}

type fieldRow struct{ Label, Value string }

func ticketFields(f map[string]string, reveal bool) []fieldRow {
	return ticketFieldsIn(f, reveal, "id")
}

// ticketFieldsIn is ticketFields with labels and words in lang.
func ticketFieldsIn(f map[string]string, reveal bool, lang string) []fieldRow {
	var rows []fieldRow
	seen := map[string]bool{}
	show := func(k, label string) {
		v := f[k]
		seen[k] = true
		if v == "" {
			return
		}
		if mask, ok := secretFields[k]; ok && !reveal {
			v = mask(v)
		} else if w, ok := fieldValues[k+":"+v]; ok {
			v = trIn(lang, w)
		} else if k == "dob" && len(v) == 10 {
			if d, err := time.Parse("2006-01-02", v); err == nil {
				month := months[d.Month()-1]
				if lang == langEN {
					month = monthsEN[d.Month()-1]
				}
				v = strconv.Itoa(d.Day()) + " " + month + " " + strconv.Itoa(d.Year())
			}
		}
		rows = append(rows, fieldRow{trIn(lang, label), v})
	}
	for _, l := range fieldLabels {
		show(l.Key, l.Label)
	}
	var rest []string
	for k := range f {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		show(k, k)
	}
	return rows
}

// maskPhone keeps the country and operator prefix and the last four
// digits: +62812****0077.
func maskPhone(p string) string {
	if len(p) < 9 {
		return strings.Repeat("*", len(p))
	}
	return p[:6] + strings.Repeat("*", len(p)-10) + p[len(p)-4:]
}

var (
	nikInText   = regexp.MustCompile(`\b\d{16}\b`)
	phoneInText = regexp.MustCompile(`(\+62|\b62|\b0)8\d{7,12}\b`)
)

// maskPersonal masks NIKs and mobile numbers inside free text (the bot's
// confirmation repeats them, citizens type them): the page shows them
// only after an audited reveal.
func maskPersonal(s string) string {
	s = nikInText.ReplaceAllStringFunc(s, tickets.MaskNIK)
	return phoneInText.ReplaceAllStringFunc(s, func(p string) string {
		return p[:len(p)-8] + "****" + p[len(p)-4:]
	})
}

// looksLikePhone says whether a contact address is a phone number (and so
// masked like one).
func looksLikePhone(a string) bool {
	if len(a) < 9 || a[0] != '+' {
		return false
	}
	for _, r := range a[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

var (
	waBold   = regexp.MustCompile(`(^|[\s(])\*([^*\n]+)\*`)
	waItalic = regexp.MustCompile(`(^|[\s(])_([^_\n]+)_`)
	waStrike = regexp.MustCompile(`(^|[\s(])~([^~\n]+)~`)
)

// waFormat renders WhatsApp's markup (*bold*, _italic_, ~strike~, line
// breaks). The text is escaped first and the markup characters survive
// escaping unchanged, so the only tags in the result are the ones added
// here.
func waFormat(s string) template.HTML {
	e := template.HTMLEscapeString(s)
	e = waBold.ReplaceAllString(e, "$1<strong>$2</strong>")
	e = waItalic.ReplaceAllString(e, "$1<em>$2</em>")
	e = waStrike.ReplaceAllString(e, "$1<s>$2</s>")
	e = strings.ReplaceAll(e, "\n", "<br>")
	return template.HTML(e)
}

// threadEntry is one item of the ticket page's conversation: a message of
// the citizen or an operator, or an internal note.
type threadEntry struct {
	Kind    string // in | out | note
	Who     string
	At      time.Time
	Message *tickets.Message
	Note    *tickets.Note
}

// botAuthor is how the bot signs what it sends.
const botAuthor = "bot"

func (s *Server) ticketPage(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string, reveal bool) error {
	t, msgs, err := s.ticketDetail(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.audit(r.Context(), u, "ticket.read", "ticket", t.Number, "console")
	if reveal {
		// Who saw a NIK in clear, and when: the reason the mask exists.
		s.audit(r.Context(), u, "ticket.reveal", "ticket", t.Number, "nik,phone")
	}
	views, read := s.mailHTML(r.Context(), t, msgs)
	if len(read) > 0 {
		s.audit(r.Context(), u, "attachment.read", "ticket", t.Number, "console inline "+idList(read))
	}
	if !reveal {
		for i := range msgs {
			msgs[i].Text, msgs[i].Subject = maskPersonal(msgs[i].Text), maskPersonal(msgs[i].Subject)
		}
		t.Subject = maskPersonal(t.Subject)
		t.CSATComment = maskPersonal(t.CSATComment)
	}
	notes, err := s.Tickets.Notes(r.Context(), t.ID)
	if err != nil {
		return err
	}
	if !reveal {
		for i := range notes {
			notes[i].Text = maskPersonal(notes[i].Text)
		}
	}
	others, err := s.Tickets.PersonTickets(r.Context(), t, 20)
	if err != nil {
		return err
	}
	canned, err := s.Tickets.CannedReplies(r.Context())
	if err != nil {
		return err
	}
	var thread []threadEntry
	bot := 0
	chat := t.Channel != tickets.Phone && t.Channel != "email"
	description := t.Fields["description"]
	if !reveal {
		description = maskPersonal(description)
	}
	for i := range msgs {
		m := &msgs[i]
		if m.Direction == "out" && m.From == botAuthor {
			bot++
			continue
		}
		// A chat complaint starts with the citizen answering the bot's
		// questions (menu number, name, NIK…): those answers are in the
		// fields and the folded transcript. The thread keeps the complaint
		// itself and everything after the ticket was opened.
		if chat && m.Direction == "in" && m.CreatedAt.Before(t.CreatedAt) && m.Text != description {
			continue
		}
		who := "Warga"
		if m.Direction == "out" {
			who = m.From
		}
		thread = append(thread, threadEntry{Kind: m.Direction, Who: who, At: m.CreatedAt, Message: m})
	}
	for i := range notes {
		thread = append(thread, threadEntry{Kind: "note", Who: notes[i].Author, At: notes[i].CreatedAt, Note: &notes[i]})
	}
	sort.SliceStable(thread, func(i, j int) bool { return thread[i].At.Before(thread[j].At) })
	draft := ""
	if id, err := strconv.ParseInt(r.URL.Query().Get("canned"), 10, 64); err == nil {
		c, err := s.Tickets.CannedReply(r.Context(), id)
		if err != nil {
			return err
		}
		draft = c.Expand(t)
	}
	contact := t.Contact
	if !reveal && looksLikePhone(contact) {
		contact = maskPhone(contact)
	}
	s.render(w, "ticket.html", map[string]any{"User": u, "CSRF": csrf, "T": t, "Contact": contact, "Fields": ticketFieldsIn(t.Fields, reveal, langOf(u)),
		"Revealed": reveal, "Thread": thread, "Transcript": msgs, "BotCount": bot, "HTML": views, "Others": others,
		"Canned": canned, "Draft": draft, "SLADue": s.Tickets.SLADue(t),
		"Categories": tickets.Categories, "Statuses": tickets.Statuses, "Sent": r.URL.Query().Get("sent") != "",
		"Noted": r.URL.Query().Get("noted") != ""})
	return nil
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request, u accounts.User, text string) (tickets.Ticket, tickets.Note, error) {
	t, err := s.Tickets.Resolve(r.Context(), r.PathValue("id"))
	if err != nil {
		return t, tickets.Note{}, err
	}
	var n tickets.Note
	err = s.DB.InTx(r.Context(), func(tx *store.Tx) error {
		var err error
		n, err = s.Tickets.AddNote(r.Context(), tx, t.ID, u.Name, text)
		return err
	})
	if err == nil {
		s.audit(r.Context(), u, "ticket.note", "ticket", t.Number, "")
	}
	return t, n, err
}

// ticketRoutes are the ticket page's own: notes, reveal, and the JSON
// twins of the console's notes and canned replies.
func (s *Server) ticketRoutes(mux *http.ServeMux) {
	staff := []string{accounts.Operator, accounts.Supervisor}
	mux.HandleFunc("GET /tickets/{id}", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		return s.ticketPage(w, r, u, csrf, false)
	}))
	mux.HandleFunc("POST /tickets/{id}/reveal", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		return s.ticketPage(w, r, u, csrf, true)
	}))
	mux.HandleFunc("POST /tickets/{id}/notes", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		t, _, err := s.addNote(w, r, u, r.FormValue("text"))
		if err != nil {
			return err
		}
		http.Redirect(w, r, "/tickets/"+url.PathEscape(t.Number)+"?noted=1", http.StatusSeeOther)
		return nil
	}))
	mux.Handle("POST /api/v1/tickets/{id}/notes", s.auth(staff, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		var body struct {
			Text string `json:"text"`
		}
		if err := DecodeJSON(r, &body); err != nil {
			return err
		}
		_, n, err := s.addNote(w, r, u, body.Text)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]any{"note": n})
		return nil
	}))
	mux.Handle("GET /api/v1/canned-replies", s.auth(staff, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		cs, err := s.Tickets.CannedReplies(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"canned_replies": cs, "variables": tickets.CannedVariables, "next_cursor": ""})
		return nil
	}))
	// Supervisors keep the canned replies; operators only use them.
	sup := []string{accounts.Supervisor}
	mux.Handle("POST /api/v1/canned-replies", s.auth(sup, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		var c tickets.Canned
		if err := DecodeJSON(r, &c); err != nil {
			return err
		}
		if c.ID != 0 {
			return coded.New(coded.Invalid, "bad_id", "leave id out to create; PUT /api/v1/canned-replies/{id} replaces one")
		}
		return s.saveCanned(w, r, u, c, http.StatusCreated)
	}))
	mux.Handle("PUT /api/v1/canned-replies/{cid}", s.auth(sup, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		var c tickets.Canned
		if err := DecodeJSON(r, &c); err != nil {
			return err
		}
		id, err := strconv.ParseInt(r.PathValue("cid"), 10, 64)
		if err != nil {
			return coded.New(coded.NotFound, "canned_not_found", "no such canned reply")
		}
		c.ID = id
		return s.saveCanned(w, r, u, c, http.StatusOK)
	}))
	mux.Handle("DELETE /api/v1/canned-replies/{cid}", s.auth(sup, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		id, err := strconv.ParseInt(r.PathValue("cid"), 10, 64)
		if err != nil {
			return coded.New(coded.NotFound, "canned_not_found", "no such canned reply")
		}
		if err := s.DB.InTx(r.Context(), func(tx *store.Tx) error { return s.Tickets.DeleteCanned(r.Context(), tx, id) }); err != nil {
			return err
		}
		s.audit(r.Context(), u, "canned.delete", "canned_reply", strconv.FormatInt(id, 10), "")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
}

func (s *Server) saveCanned(w http.ResponseWriter, r *http.Request, u accounts.User, c tickets.Canned, status int) error {
	err := s.DB.InTx(r.Context(), func(tx *store.Tx) error {
		var err error
		c, err = s.Tickets.SaveCanned(r.Context(), tx, c, u.Name)
		return err
	})
	if err != nil {
		return err
	}
	s.audit(r.Context(), u, "canned.save", "canned_reply", strconv.FormatInt(c.ID, 10), "")
	writeJSON(w, status, map[string]any{"canned_reply": c})
	return nil
}

// cannedRoutes: every operator reads the list; supervisors keep it.
func (s *Server) cannedRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /canned", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		cs, err := s.Tickets.CannedReplies(r.Context())
		if err != nil {
			return err
		}
		s.render(w, "canned.html", map[string]any{"User": u, "CSRF": csrf, "Canned": cs, "CanEdit": u.Has(accounts.Supervisor)})
		return nil
	}))
	mux.HandleFunc("POST /canned", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		if !u.Has(accounts.Supervisor) {
			return coded.New(coded.Forbidden, "forbidden", "Hanya supervisor yang dapat mengubah balasan siap pakai.")
		}
		var c tickets.Canned
		err := s.DB.InTx(r.Context(), func(tx *store.Tx) error {
			var err error
			c, err = s.Tickets.SaveCanned(r.Context(), tx, tickets.Canned{Title: r.FormValue("title"), Text: r.FormValue("text")}, u.Name)
			return err
		})
		if err != nil {
			return err
		}
		s.audit(r.Context(), u, "canned.save", "canned_reply", strconv.FormatInt(c.ID, 10), "console")
		http.Redirect(w, r, "/canned", http.StatusSeeOther)
		return nil
	}))
	mux.HandleFunc("POST /canned/{cid}/delete", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		if !u.Has(accounts.Supervisor) {
			return coded.New(coded.Forbidden, "forbidden", "Hanya supervisor yang dapat mengubah balasan siap pakai.")
		}
		id, err := strconv.ParseInt(r.PathValue("cid"), 10, 64)
		if err != nil {
			return coded.New(coded.NotFound, "canned_not_found", "Balasan siap pakai tidak ditemukan.")
		}
		if err := s.DB.InTx(r.Context(), func(tx *store.Tx) error { return s.Tickets.DeleteCanned(r.Context(), tx, id) }); err != nil {
			return err
		}
		s.audit(r.Context(), u, "canned.delete", "canned_reply", strconv.FormatInt(id, 10), "console")
		http.Redirect(w, r, "/canned", http.StatusSeeOther)
		return nil
	}))
}
