package web

import (
	"embed"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"lindungi/accounts"
	"lindungi/coded"
	"lindungi/store"
	"lindungi/tickets"
)

//go:embed static/console.js
var staticFS embed.FS

// pollSeconds is how often the inbox refreshes its rows in the browser.
const pollSeconds = 10

// viewLabels name the inbox tabs.
var viewLabels = map[string]string{
	tickets.ViewUnassigned: "Belum ditangani", tickets.ViewMine: "Tiket saya", tickets.ViewAll: "Semua",
	tickets.ViewWaiting: "Menunggu warga", tickets.ViewBreaching: "Melewati SLA",
}

var sortLabels = map[string]string{
	tickets.SortNewest: "Terbaru", tickets.SortOldest: "Terlama menunggu", tickets.SortSLA: "Batas SLA terdekat",
}

// inboxRow is a ticket as one line of the inbox.
type inboxRow struct {
	tickets.Ticket
	SLA    string // "sisa 3 jam 20 menit", "lewat 2 jam", "" when the clock stopped
	Breach bool
	Age    string
}

// months are Indonesian month names: operators read "4 Desember 2026".
var months = [...]string{"Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"}

// whenID formats a time as operators in Indonesia write it, in WIB:
// "4 Desember 2026 08.14 WIB".
func whenID(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	l := t.In(wib)
	return fmt.Sprintf("%d %s %d %02d.%02d WIB", l.Day(), months[l.Month()-1], l.Year(), l.Hour(), l.Minute())
}

// span says a duration in Indonesian, to the minute: "2 hari 3 jam",
// "3 jam 20 menit", "5 menit".
func span(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	m := int(d / time.Minute)
	days, hours, mins := m/(24*60), m/60%24, m%60
	switch {
	case days > 0:
		return fmt.Sprintf("%d hari %d jam", days, hours)
	case hours > 0:
		return fmt.Sprintf("%d jam %d menit", hours, mins)
	default:
		return fmt.Sprintf("%d menit", mins)
	}
}

func (s *Server) inboxRows(ts []tickets.Ticket, now time.Time, lang string) []inboxRow {
	rows := make([]inboxRow, len(ts))
	for i, t := range ts {
		rows[i] = inboxRow{Ticket: t, Age: spanIn(lang, now.Sub(t.CreatedAt))}
		if due := s.Tickets.SLADue(t); due != nil {
			if left := due.Sub(now); left >= 0 {
				rows[i].SLA = trIn(lang, "sisa") + " " + spanIn(lang, left)
			} else {
				rows[i].SLA, rows[i].Breach = trIn(lang, "lewat")+" "+spanIn(lang, left), true
			}
		}
	}
	return rows
}

// inboxFilter reads the inbox's query: the console opens on Unassigned.
func inboxFilter(q url.Values, u accounts.User, api bool) tickets.Filter {
	f := tickets.Filter{Status: q.Get("status"), Category: q.Get("category"), Channel: q.Get("channel"), Q: q.Get("q"),
		Assignee: q.Get("assignee"), View: q.Get("view"), Sort: q.Get("sort"), Cursor: q.Get("cursor"), Me: u.Name}
	if f.View == "" && !api && f.Q == "" && f.Status == "" && f.Assignee == "" {
		f.View = tickets.ViewUnassigned
	}
	return f
}

func (s *Server) inboxPage(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
	q := r.URL.Query()
	f := inboxFilter(q, u, false)
	ts, next, err := s.Tickets.List(r.Context(), f)
	if err != nil {
		return err
	}
	nq := url.Values{}
	for k, v := range q {
		nq[k] = v
	}
	nq.Set("cursor", next)
	tab := func(view string) string {
		v := url.Values{"view": {view}}
		for _, k := range []string{"channel", "category", "sort"} {
			if q.Get(k) != "" {
				v.Set(k, q.Get(k))
			}
		}
		return "/?" + v.Encode()
	}
	type tabLink struct{ View, Label, Href string }
	var tabs []tabLink
	for _, v := range tickets.Views {
		tabs = append(tabs, tabLink{v, viewLabels[v], tab(v)})
	}
	now := store.Now()
	s.render(w, "list.html", map[string]any{"User": u, "CSRF": csrf, "Rows": s.inboxRows(ts, now, langOf(u)), "Next": next, "NextQuery": nq.Encode(),
		"Q": q, "View": f.View, "Tabs": tabs, "Categories": tickets.Categories, "Statuses": tickets.Statuses, "Channels": tickets.Channels,
		"Sorts": tickets.Sorts, "SortLabels": sortLabels, "Poll": pollSeconds, "Refreshed": whenIn(langOf(u), now), "Back": r.URL.RequestURI(), "Failed": q.Get("failed"), "Provider": s.providerDetails()})
	return nil
}

// take assigns the ticket to the operator who pressed "take" and goes back
// to where they were (the inbox, or the ticket).
func (s *Server) take(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
	t, err := s.Tickets.Resolve(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.DB.InTx(r.Context(), func(tx *store.Tx) error { return s.Tickets.Take(r.Context(), tx, t.ID, u.Name) }); err != nil {
		return err
	}
	s.audit(r.Context(), u, "ticket.take", "ticket", t.Number, "")
	http.Redirect(w, r, localBack(r.FormValue("back"), "/tickets/"+url.PathEscape(t.Number)), http.StatusSeeOther)
	return nil
}

// localBack accepts only a path on this site as a redirect target, so a
// crafted form cannot send the operator elsewhere.
func localBack(back, fallback string) string {
	u, err := url.Parse(back)
	// "//host" and "/\host" are other sites to a browser.
	if back == "" || err != nil || u.Scheme != "" || u.Host != "" || back[0] != '/' || (len(back) > 1 && (back[1] == '/' || back[1] == '\\')) {
		return fallback
	}
	return back
}

func serveConsoleJS(w http.ResponseWriter, r *http.Request) {
	b, _ := staticFS.ReadFile("static/console.js")
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// maxBulk bounds one bulk action: a page of the inbox.
const maxBulk = 200

// bulk applies one action to the tickets ticked in the inbox: take them,
// assign them to an operator, or close them (each closed chat ticket asks
// its citizen for a rating). Each ticket is its own transaction, so one
// that cannot move (already someone else's, already closed) is reported
// without holding back the others.
func (s *Server) bulk(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
	numbers := r.Form["n"]
	if len(numbers) == 0 {
		return coded.New(coded.Invalid, "nothing_selected", "Belum ada tiket yang dipilih.")
	}
	if len(numbers) > maxBulk {
		return coded.New(coded.Invalid, "too_many", "Paling banyak %d tiket sekaligus.", maxBulk)
	}
	action, assignee := r.FormValue("action"), strings.TrimSpace(r.FormValue("assignee"))
	switch action {
	case "take", "close":
	case "assign":
		ok, err := s.Accounts.Active(r.Context(), assignee)
		if err != nil {
			return err
		}
		if !ok {
			return coded.New(coded.Invalid, "unknown_assignee", "no active operator is called %q", assignee)
		}
	default:
		return coded.New(coded.Invalid, "bad_action", "Tindakan tidak dikenal.")
	}
	failed := 0
	for _, n := range numbers {
		t, err := s.Tickets.Resolve(r.Context(), n)
		if err == nil {
			err = s.DB.InTx(r.Context(), func(tx *store.Tx) error {
				switch action {
				case "take":
					return s.Tickets.Take(r.Context(), tx, t.ID, u.Name)
				case "assign":
					_, err := s.Tickets.Update(r.Context(), tx, t, tickets.Patch{Assignee: &assignee})
					return err
				default:
					closed := tickets.Closed
					_, err := s.closeAndAsk(r.Context(), tx, t, tickets.Patch{Status: &closed})
					return err
				}
			})
		}
		if err != nil {
			if _, ok := coded.As(err); !ok {
				return err
			}
			failed++
			continue
		}
		s.audit(r.Context(), u, "ticket.bulk_"+action, "ticket", t.Number, "")
	}
	back := localBack(r.FormValue("back"), "/")
	if failed > 0 {
		back = addQuery(back, "failed", strconv.Itoa(failed))
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

func addQuery(path, k, v string) string {
	u, err := url.Parse(path)
	if err != nil {
		return path
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}
