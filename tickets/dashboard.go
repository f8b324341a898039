package tickets

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// Dashboard is the figures behind the console's dashboard. Counts only:
// never who.
type Dashboard struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Days are WIB calendar days, oldest first.
	Days []DayFlow `json:"days"`
	// Backlog counts open and pending tickets by category and by age.
	BacklogByCategory map[string]int `json:"backlogByCategory"`
	BacklogByAge      []AgeBucket    `json:"backlogByAge"`
	// Percentiles in seconds over tickets created in the window.
	FirstResponse Percentiles `json:"firstResponseSeconds"`
	Resolution    Percentiles `json:"resolutionSeconds"`
	// SLABreaching: open or pending now, unanswered past the SLA.
	SLABreaching int  `json:"slaBreaching"`
	CSAT         CSAT `json:"csat"`
	// Comments are the latest comments citizens wrote after rating a
	// ticket closed in the window, newest first (at most MaxDashboardComments).
	// Free text: the console masks NIKs and phone numbers in it.
	Comments []CSATComment `json:"csatComments"`
	// BotContained is the share of tickets of the window closed without an
	// operator's reply (the bot and the citizen finished them).
	BotContained float64 `json:"botContained"`
}

// CSATComment is one citizen's comment on a closed ticket.
type CSATComment struct {
	Number   string    `json:"ticket"`
	Rating   int       `json:"rating,omitempty"`
	Comment  string    `json:"comment"`
	ClosedAt time.Time `json:"closedAt"`
}

// MaxDashboardComments bounds the dashboard's comment list.
const MaxDashboardComments = 10

// DayFlow is one day's tickets in (created) and out (closed) by channel.
type DayFlow struct {
	Day string         `json:"day"` // 2026-12-04
	In  map[string]int `json:"in"`
	Out map[string]int `json:"out"`
}

// AgeBucket counts backlog tickets younger than Under (the last bucket has
// no bound).
type AgeBucket struct {
	Label string `json:"label"`
	Count int    `json:"count"`
	under time.Duration
}

// Percentiles of a duration, in seconds; N is how many values.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// CSAT summarises the ratings of tickets closed in the window.
type CSAT struct {
	Asked   int     `json:"asked"`
	Rated   int     `json:"rated"`
	Average float64 `json:"average"`
	Scores  [5]int  `json:"scores"` // how many 1, 2, 3, 4, 5
}

func percentiles(v []float64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	slices.Sort(v)
	at := func(p float64) float64 { return v[min(len(v)-1, int(p*float64(len(v))))] }
	return Percentiles{N: len(v), P50: at(0.5), P90: at(0.9), P99: at(0.99)}
}

// Dashboard computes the figures for tickets of the last days days.
func (s *Store) Dashboard(ctx context.Context, days int) (Dashboard, error) {
	now := s.Now().UTC()
	today := time.Date(now.In(jakarta).Year(), now.In(jakarta).Month(), now.In(jakarta).Day(), 0, 0, 0, 0, jakarta)
	since := today.AddDate(0, 0, -(days - 1)).UTC()
	d := Dashboard{Since: since, Until: now, BacklogByCategory: map[string]int{}}
	index := map[string]int{}
	for i := range days {
		day := today.AddDate(0, 0, -(days - 1 - i)).Format("2006-01-02")
		index[day] = i
		d.Days = append(d.Days, DayFlow{Day: day, In: map[string]int{}, Out: map[string]int{}})
	}
	rows, err := s.db.Query(ctx, `SELECT channel, status, created_at, first_response_at, resolved_at, closed_at, rating, csat_asked_at, csat_comment, number
		FROM tickets WHERE created_at >= ? OR closed_at >= ?`, since, since)
	if err != nil {
		return d, fmt.Errorf("tickets: dashboard: %w", err)
	}
	defer rows.Close()
	var first, resolved []float64
	var created, contained int
	var sum int
	for rows.Next() {
		var ch, status string
		var at time.Time
		var fr, rs, cl, asked sql.NullTime
		var rating int
		var comment, number string
		if err := rows.Scan(&ch, &status, &at, &fr, &rs, &cl, &rating, &asked, &comment, &number); err != nil {
			return d, fmt.Errorf("tickets: dashboard: %w", err)
		}
		if !at.Before(since) {
			created++
			if i, ok := index[at.In(jakarta).Format("2006-01-02")]; ok {
				d.Days[i].In[ch]++
			}
			if fr.Valid {
				first = append(first, fr.Time.Sub(at).Seconds())
			}
			if rs.Valid {
				resolved = append(resolved, rs.Time.Sub(at).Seconds())
			}
			if status == Closed && !fr.Valid {
				contained++
			}
		}
		if cl.Valid && !cl.Time.Before(since) {
			if i, ok := index[cl.Time.In(jakarta).Format("2006-01-02")]; ok {
				d.Days[i].Out[ch]++
			}
			if asked.Valid {
				d.CSAT.Asked++
			}
			if comment != "" {
				d.Comments = append(d.Comments, CSATComment{Number: number, Rating: rating, Comment: comment, ClosedAt: cl.Time.UTC()})
			}
			if rating >= 1 && rating <= 5 {
				d.CSAT.Rated++
				d.CSAT.Scores[rating-1]++
				sum += rating
			}
		}
	}
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("tickets: dashboard: %w", err)
	}
	slices.SortFunc(d.Comments, func(a, b CSATComment) int { return b.ClosedAt.Compare(a.ClosedAt) })
	if len(d.Comments) > MaxDashboardComments {
		d.Comments = d.Comments[:MaxDashboardComments]
	}
	if d.Comments == nil {
		d.Comments = []CSATComment{}
	}
	d.FirstResponse, d.Resolution = percentiles(first), percentiles(resolved)
	if d.CSAT.Rated > 0 {
		d.CSAT.Average = float64(sum) / float64(d.CSAT.Rated)
	}
	if created > 0 {
		d.BotContained = float64(contained) / float64(created)
	}
	d.BacklogByAge = []AgeBucket{{Label: "< 4 jam", under: 4 * time.Hour}, {Label: "4–24 jam", under: 24 * time.Hour},
		{Label: "1–3 hari", under: 72 * time.Hour}, {Label: "> 3 hari"}}
	brows, err := s.db.Query(ctx, `SELECT category, created_at, first_response_at FROM tickets WHERE status IN ('open', 'pending')`)
	if err != nil {
		return d, fmt.Errorf("tickets: dashboard backlog: %w", err)
	}
	defer brows.Close()
	for brows.Next() {
		var cat string
		var at time.Time
		var fr sql.NullTime
		if err := brows.Scan(&cat, &at, &fr); err != nil {
			return d, fmt.Errorf("tickets: dashboard backlog: %w", err)
		}
		d.BacklogByCategory[cat]++
		age := now.Sub(at)
		for i := range d.BacklogByAge {
			if b := &d.BacklogByAge[i]; b.under == 0 || age < b.under {
				b.Count++
				break
			}
		}
		if !fr.Valid && age > s.cfg.SLA {
			d.SLABreaching++
		}
	}
	return d, brows.Err()
}
