package web

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"lindungi/accounts"
	"lindungi/channels/email"
	"lindungi/tickets"
	"lindungi/tracing"
)

// dashboardDays is the window of the dashboard.
const dashboardDays = 14

type dashboardView struct {
	tickets.Dashboard
	Channels map[string]string `json:"channels"` // channel → state
	// Sijejak is nil when tracing is off. Aggregates only.
	Sijejak *tracing.Stats `json:"sijejak,omitempty"`
	// Mailboxes is each imported mailbox's health, as /readyz reports it
	// (this replica's view: a mailbox another replica leads is not here).
	Mailboxes []email.MailboxHealth `json:"mailboxes"`
}

func (s *Server) dashboard(r *http.Request) (dashboardView, error) {
	d, err := s.Tickets.Dashboard(r.Context(), dashboardDays)
	if err != nil {
		return dashboardView{}, err
	}
	// Comments are citizens' free text: NIKs and phone numbers in them are
	// masked, as on the ticket page before an audited reveal.
	for i := range d.Comments {
		d.Comments[i].Comment = maskPersonal(d.Comments[i].Comment)
	}
	v := dashboardView{Dashboard: d, Channels: map[string]string{}, Mailboxes: []email.MailboxHealth{}}
	if s.Outbox != nil {
		for _, c := range s.Outbox.Channels() {
			v.Channels[c.Name()] = string(c.State())
			if rr, ok := c.(readinessReporter); ok {
				if det, _ := rr.Readiness(); det != nil {
					if m, ok := det.(map[string]any); ok {
						if boxes, ok := m["mailboxes"].([]email.MailboxHealth); ok {
							v.Mailboxes = append(v.Mailboxes, boxes...)
						}
					}
				}
			}
		}
	}
	if s.Tracing != nil {
		st, err := s.Tracing.StatsSince(r.Context(), d.Since)
		if err != nil {
			return v, err
		}
		v.Sijejak = &st
	}
	return v, nil
}

// bar is one bar of a chart.
type bar struct {
	Label string
	Value float64
	Text  string
}

// barChart draws horizontal bars as SVG, server-side: no script, no CDN.
// Labels are escaped; everything else is numbers.
func barChart(title string, bars []bar, color string) template.HTML {
	const rowH, labelW, barW = 22, 170, 380
	maxV := 0.0
	for _, b := range bars {
		maxV = max(maxV, b.Value)
	}
	var sb strings.Builder
	h := rowH*len(bars) + 8
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%d" height="%d" viewBox="0 0 %d %d"><title>%s</title>`,
		labelW+barW+70, h, labelW+barW+70, h, template.HTMLEscapeString(title))
	for i, b := range bars {
		y := i*rowH + 4
		w := 0.0
		if maxV > 0 {
			w = b.Value / maxV * barW
		}
		fmt.Fprintf(&sb, `<text x="%d" y="%d" font-size="12" text-anchor="end">%s</text>`, labelW-6, y+14, template.HTMLEscapeString(b.Label))
		fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, labelW, y+2, w, rowH-6, color)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%d" font-size="12">%s</text>`, float64(labelW)+w+4, y+14, template.HTMLEscapeString(b.Text))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// flowChart draws tickets in and out per day as paired columns.
func flowChart(lang string, days []tickets.DayFlow) template.HTML {
	const colW, h, top = 44, 160, 16
	total := func(m map[string]int) int {
		n := 0
		for _, v := range m {
			n += v
		}
		return n
	}
	maxV := 1
	for _, d := range days {
		maxV = max(maxV, total(d.In), total(d.Out))
	}
	var sb strings.Builder
	w := colW*len(days) + 20
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%d" height="%d" viewBox="0 0 %d %d"><title>%s</title>`, w, h+40, w, h+40, template.HTMLEscapeString(trIn(lang, "Tiket masuk dan keluar per hari")))
	for i, d := range days {
		x := 10 + i*colW
		in, out := total(d.In), total(d.Out)
		hi, ho := float64(in)/float64(maxV)*h, float64(out)/float64(maxV)*h
		fmt.Fprintf(&sb, `<rect x="%d" y="%.1f" width="16" height="%.1f" fill="#0b6e4f"><title>%s %d</title></rect>`, x, top+h-hi, hi, trIn(lang, "masuk"), in)
		fmt.Fprintf(&sb, `<rect x="%d" y="%.1f" width="16" height="%.1f" fill="#b7791f"><title>%s %d</title></rect>`, x+18, top+h-ho, ho, trIn(lang, "keluar"), out)
		fmt.Fprintf(&sb, `<text x="%d" y="%d" font-size="10">%s</text>`, x, top+h+14, d.Day[8:10]+"/"+d.Day[5:7])
		fmt.Fprintf(&sb, `<text x="%d" y="%d" font-size="10">%d/%d</text>`, x, top+h+28, in, out)
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

func humanSeconds(lang string, s float64) string {
	if s <= 0 {
		return "—"
	}
	return spanIn(lang, time.Duration(s)*time.Second)
}

func (s *Server) dashboardRoutes(mux *http.ServeMux) {
	staff := []string{accounts.Operator, accounts.Supervisor}
	mux.Handle("GET /api/v1/dashboard", s.auth(staff, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		v, err := s.dashboard(r)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"dashboard": v})
		return nil
	}))
	mux.HandleFunc("GET /dashboard", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		v, err := s.dashboard(r)
		if err != nil {
			return err
		}
		lang := langOf(u)
		var cats []bar
		for _, c := range tickets.Categories {
			n := v.BacklogByCategory[c]
			cats = append(cats, bar{labelIn(lang, c), float64(n), fmt.Sprint(n)})
		}
		var ages []bar
		for _, a := range v.BacklogByAge {
			ages = append(ages, bar{trIn(lang, a.Label), float64(a.Count), fmt.Sprint(a.Count)})
		}
		var scores []bar
		for i, n := range v.CSAT.Scores {
			scores = append(scores, bar{fmt.Sprintf("%s %d", trIn(lang, "Nilai"), i+1), float64(n), fmt.Sprint(n)})
		}
		chs := make([]string, 0, len(v.Channels))
		for c := range v.Channels {
			chs = append(chs, c)
		}
		slices.Sort(chs)
		s.render(w, "dashboard.html", map[string]any{"User": u, "CSRF": csrf, "D": v, "ChannelNames": chs,
			"Flow":     flowChart(lang, v.Days),
			"Backlog":  barChart(trIn(lang, "Antrean menurut kategori"), cats, "#0b6e4f"),
			"Ages":     barChart(trIn(lang, "Antrean menurut umur"), ages, "#567"),
			"Scores":   barChart(trIn(lang, "Penilaian warga"), scores, "#b7791f"),
			"FirstP50": humanSeconds(lang, v.FirstResponse.P50), "FirstP90": humanSeconds(lang, v.FirstResponse.P90),
			"ResP50": humanSeconds(lang, v.Resolution.P50), "ResP90": humanSeconds(lang, v.Resolution.P90),
			"CSATAvg": fmt.Sprintf("%.1f", v.CSAT.Average), "Contained": fmt.Sprintf("%.0f%%", v.BotContained*100)})
		return nil
	}))
}
