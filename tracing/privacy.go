package tracing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"lindungi/store"
)

// PrivacyHolder lets a citizen's data-subject request reach Sijejak data
// (privacy.Holder): the device registered to their phone, its cases,
// consents, upload windows, uploads and exposures (cascading deletes), and
// pending registration codes and OTPs. Audit rows (IDs only) stay.
type PrivacyHolder struct{ S *Service }

// Name implements privacy.Holder.
func (h PrivacyHolder) Name() string { return "sijejak" }

// Registration is what an export shows of a citizen's Sijejak data.
type Registration struct {
	RegisteredAt time.Time       `json:"registeredAt"`
	Cases        int             `json:"positiveCases"`
	Consents     []ConsentRecord `json:"consents"`
	Exposures    []string        `json:"exposureDays"`
}

// ConsentRecord is one consent question and its answer.
type ConsentRecord struct {
	RequestedAt time.Time  `json:"requestedAt"`
	AnsweredAt  *time.Time `json:"answeredAt,omitempty"`
	Answer      *bool      `json:"answer,omitempty"`
	TextShown   string     `json:"textShown"`
}

// Export implements privacy.Holder; phones are E.164.
func (h PrivacyHolder) Export(ctx context.Context, phones []string) (any, error) {
	var out []Registration
	for _, p := range phones {
		np, err := NormalisePhone(p)
		if err != nil {
			continue
		}
		var r Registration
		var devID int64
		err = h.S.db.QueryRow(ctx, `SELECT id, created_at FROM tracing_devices WHERE phone_index = ?`, h.S.phoneIndex(np)).Scan(&devID, &r.RegisteredAt)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tracing: export: %w", err)
		}
		h.S.db.QueryRow(ctx, `SELECT COUNT(*) FROM tracing_cases WHERE device_id = ?`, devID).Scan(&r.Cases)
		rows, err := h.S.db.Query(ctx, `SELECT requested_at, answered_at, answer, text_shown FROM tracing_consents WHERE device_id = ? ORDER BY id`, devID)
		if err != nil {
			return nil, fmt.Errorf("tracing: export: %w", err)
		}
		for rows.Next() {
			var c ConsentRecord
			var at sql.NullTime
			var ans sql.NullBool
			if err := rows.Scan(&c.RequestedAt, &at, &ans, &c.TextShown); err != nil {
				rows.Close()
				return nil, err
			}
			if at.Valid {
				c.AnsweredAt = &at.Time
			}
			if ans.Valid {
				c.Answer = &ans.Bool
			}
			r.Consents = append(r.Consents, c)
		}
		rows.Close()
		erows, err := h.S.db.Query(ctx, `SELECT day FROM tracing_exposures WHERE device_id = ? ORDER BY day`, devID)
		if err != nil {
			return nil, err
		}
		for erows.Next() {
			var d string
			erows.Scan(&d)
			r.Exposures = append(r.Exposures, d)
		}
		erows.Close()
		out = append(out, r)
	}
	return out, nil
}

// Erase implements privacy.Holder inside the deletion transaction.
func (h PrivacyHolder) Erase(ctx context.Context, tx *store.Tx, phones []string) (int64, error) {
	var n int64
	for _, p := range phones {
		np, err := NormalisePhone(p)
		if err != nil {
			continue
		}
		idx := h.S.phoneIndex(np)
		for _, q := range []string{
			`DELETE FROM tracing_devices WHERE phone_index = ?`, // cascades to cases, consents, windows, uploads, exposures
			`DELETE FROM tracing_registrations WHERE phone_index = ?`,
			`DELETE FROM tracing_otps WHERE phone_index = ?`,
		} {
			res, err := tx.Exec(ctx, q, idx)
			if err != nil {
				return n, fmt.Errorf("tracing: erase: %w", err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
	}
	return n, nil
}
