package tracing

import (
	"context"
	"fmt"
	"time"

	"lindungi/store"
)

// CaseStatus is a case as a health officer follows it: where its consent,
// upload and notifications stand. Counts only: nothing says who the case
// is (no phone) or who was notified.
type CaseStatus struct {
	ID             int64     `json:"id"`
	Officer        string    `json:"officer"`
	MarkedAt       time.Time `json:"markedAt"`
	OnsetDate      string    `json:"onsetDate,omitempty"`
	SpecimenDate   string    `json:"specimenDate,omitempty"`
	InfectiousFrom time.Time `json:"infectiousFrom"`
	// Consent is requested, given, refused or expired (asked, never
	// answered in time).
	Consent  string `json:"consent"`
	Uploads  int    `json:"uploads"`
	Notified int    `json:"notified"` // contacts told to test and quarantine
}

// Consent states of a case.
const (
	ConsentRequested = "requested"
	ConsentGiven     = "given"
	ConsentRefused   = "refused"
	ConsentExpired   = "expired"
)

// Cases lists the newest cases (at most limit), those marked by officer
// only unless officer is "" (all officers). officer is the actor the case
// was marked by (accounts.User.Actor()).
func (s *Service) Cases(ctx context.Context, officer string, limit int) ([]CaseStatus, error) {
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	now := s.now()
	q := `SELECT c.id, c.officer, c.created_at, c.onset_date, c.specimen_date, c.infectious_from,
		COALESCE((SELECT CASE WHEN k.answered_at IS NULL THEN (CASE WHEN k.expires_at > ? THEN 'requested' ELSE 'expired' END)
			WHEN k.answer THEN 'given' ELSE 'refused' END
			FROM tracing_consents k WHERE k.case_id = c.id ORDER BY k.id DESC LIMIT 1), 'requested'),
		(SELECT COUNT(*) FROM tracing_uploads u WHERE u.case_id = c.id)
		FROM tracing_cases c`
	args := []any{now}
	if officer != "" {
		q += ` WHERE c.officer = ?`
		args = append(args, officer)
	}
	q += fmt.Sprintf(` ORDER BY c.id DESC LIMIT %d`, limit)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("tracing: cases: %w", err)
	}
	defer rows.Close()
	out := []CaseStatus{}
	for rows.Next() {
		var c CaseStatus
		if err := rows.Scan(&c.ID, &c.Officer, &c.MarkedAt, &c.OnsetDate, &c.SpecimenDate, &c.InfectiousFrom, &c.Consent, &c.Uploads); err != nil {
			return nil, fmt.Errorf("tracing: cases: %w", err)
		}
		c.MarkedAt, c.InfectiousFrom = c.MarkedAt.UTC(), c.InfectiousFrom.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	// Notifications per case in one pass over the exposures (which have
	// no index by upload: matching never needs one).
	ids := make([]int64, 0, len(out))
	at := map[int64]int{}
	for i, c := range out {
		if c.Uploads > 0 {
			ids = append(ids, c.ID)
			at[c.ID] = i
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := store.InList(ids)
	nrows, err := s.db.Query(ctx, `SELECT u.case_id, COUNT(*) FROM tracing_exposures e JOIN tracing_uploads u ON u.id = e.upload_id
		WHERE e.notified_at IS NOT NULL AND u.case_id IN (`+in+`) GROUP BY u.case_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("tracing: cases notified: %w", err)
	}
	defer nrows.Close()
	for nrows.Next() {
		var id int64
		var n int
		if err := nrows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("tracing: cases notified: %w", err)
		}
		out[at[id]].Notified = n
	}
	return out, nrows.Err()
}

// Stats are Sijejak's aggregates since a time, for the dashboard.
type Stats struct {
	Cases         int `json:"cases"`
	Consents      int `json:"consents"` // consents given
	Uploads       int `json:"uploads"`
	Notifications int `json:"notifications"` // exposure prompts sent
}

// StatsSince counts cases marked, consents given, uploads received and
// exposure notifications sent since since. Rows past their retention are
// purged, so older periods count less than happened.
func (s *Service) StatsSince(ctx context.Context, since time.Time) (Stats, error) {
	var st Stats
	err := s.db.QueryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM tracing_cases WHERE created_at >= ?),
		(SELECT COUNT(*) FROM tracing_consents WHERE answered_at >= ? AND answer = ?),
		(SELECT COUNT(*) FROM tracing_uploads WHERE received_at >= ?),
		(SELECT COUNT(*) FROM tracing_exposures WHERE notified_at >= ?)`,
		since, since, true, since, since).Scan(&st.Cases, &st.Consents, &st.Uploads, &st.Notifications)
	if err != nil {
		return st, fmt.Errorf("tracing: stats: %w", err)
	}
	return st, nil
}
