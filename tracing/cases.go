package tracing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"lindungi/audit"
	"lindungi/channels"
	"lindungi/store"
)

// Case is a citizen marked positive by a health officer.
type Case struct {
	ID             int64
	DeviceID       int64
	ConsentID      int64
	InfectiousFrom time.Time
}

// MarkPositive records a positive case for a registered phone and asks the
// citizen for consent to upload, on the configured channel, in their
// language. onset or specimen (calendar dates; either may be zero) sets the
// start of the infectious window.
func (s *Service) MarkPositive(ctx context.Context, officer, phone string, onset, specimen time.Time) (Case, error) {
	var c Case
	phone, err := NormalisePhone(phone)
	if err != nil {
		return c, err
	}
	if officer == "" {
		return c, fmt.Errorf("tracing: officer required")
	}
	ref := onset
	if ref.IsZero() || (!specimen.IsZero() && specimen.Before(ref)) {
		ref = specimen
	}
	if ref.IsZero() {
		return c, ErrNoDate
	}
	day := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2006-01-02")
	}
	y, m, d := ref.Date()
	c.InfectiousFrom = time.Date(y, m, d, 0, 0, 0, 0, s.cfg.Location).Add(-s.cfg.InfectiousBefore).UTC()
	now := s.now()
	idx := s.phoneIndex(phone)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id FROM tracing_devices WHERE phone_index = ?`, idx).Scan(&c.DeviceID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotRegistered
		}
		if err != nil {
			return err
		}
		purpose := now.Add(s.cfg.ConsentTTL + s.cfg.UploadWindow)
		if err := tx.QueryRow(ctx, `INSERT INTO tracing_cases (device_id, officer, onset_date, specimen_date, infectious_from, created_at, purge_after) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			c.DeviceID, officer, day(onset), day(specimen), c.InfectiousFrom, now, purpose.Add(s.cfg.Retention)).Scan(&c.ID); err != nil {
			return fmt.Errorf("tracing: insert case: %w", err)
		}
		if err := audit.Record(ctx, tx, "officer:"+officer, "case_marked_positive", "tracing_case", fmt.Sprint(c.ID), ""); err != nil {
			return err
		}
		lang := s.langOfTx(ctx, tx, phone)
		text := s.CitizenText(lang, "consent_request")
		msgID, err := s.sender.Enqueue(ctx, tx, channels.Outbound{Channel: s.cfg.Channel, To: phone, Kind: "prompt", Text: text, Meta: map[string]string{"tracing": "consent_request", "lang": normLang(lang)}})
		if err != nil {
			return err
		}
		exp := now.Add(s.cfg.ConsentTTL)
		if err := tx.QueryRow(ctx, `INSERT INTO tracing_consents (case_id, device_id, lang, channel, request_id, requested_at, expires_at, text_shown, purge_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			c.ID, c.DeviceID, lang, s.cfg.Channel, msgID, now, exp, text, exp.Add(s.cfg.Retention)).Scan(&c.ConsentID); err != nil {
			return fmt.Errorf("tracing: insert consent: %w", err)
		}
		return audit.Record(ctx, tx, "officer:"+officer, "consent_requested", "tracing_consent", fmt.Sprint(c.ConsentID), "channel="+s.cfg.Channel)
	})
	return c, err
}

// pendingConsent finds the newest unanswered, unexpired consent request for
// the phone.
func (s *Service) pendingConsent(ctx context.Context, tx *store.Tx, phone string, now time.Time) (id, caseID, deviceID int64, err error) {
	phone, err = NormalisePhone(phone)
	if err != nil {
		return 0, 0, 0, err
	}
	err = tx.QueryRow(ctx, `SELECT c.id, c.case_id, c.device_id FROM tracing_consents c JOIN tracing_devices d ON d.id = c.device_id
		WHERE d.phone_index = ? AND c.answered_at IS NULL AND c.expires_at > ? ORDER BY c.requested_at DESC, c.id DESC LIMIT 1`,
		s.phoneIndex(phone), now).Scan(&id, &caseID, &deviceID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, 0, ErrNoConsent
	}
	return id, caseID, deviceID, err
}

// PendingConsent reports whether phone has a consent request waiting for an
// answer (the bot asks before reading SETUJU/YES/TOLAK/NO as one).
func (s *Service) PendingConsent(ctx context.Context, tx *store.Tx, channel, phone string) (bool, error) {
	if !s.fromTracingChannel(channel) {
		return false, nil
	}
	_, _, _, err := s.pendingConsent(ctx, tx, phone, s.now())
	if errors.Is(err, ErrNoConsent) || errors.Is(err, ErrBadPhone) {
		return false, nil
	}
	return err == nil, err
}

// RecordConsent stores the citizen's answer (the bot calls it inside the
// transaction that stores their message). textShown is the question as the
// bot showed it; empty keeps the request's text. A yes opens one upload
// window. The bot answers the citizen itself, e.g. with
// CitizenText(lang, "consent_thanks_yes"/"consent_thanks_no").
func (s *Service) RecordConsent(ctx context.Context, tx *store.Tx, channel, phone string, yes bool, textShown string) error {
	if !s.fromTracingChannel(channel) {
		return ErrNoConsent
	}
	now := s.now()
	id, caseID, deviceID, err := s.pendingConsent(ctx, tx, phone, now)
	if err != nil {
		return err
	}
	purge := now.Add(s.cfg.Retention)
	if yes {
		purge = now.Add(s.cfg.UploadWindow + s.cfg.Retention)
	}
	q := `UPDATE tracing_consents SET answered_at = ?, answer = ?, purge_after = ? WHERE id = ?`
	args := []any{now, yes, purge, id}
	if textShown != "" {
		q = `UPDATE tracing_consents SET answered_at = ?, answer = ?, purge_after = ?, text_shown = ? WHERE id = ?`
		args = []any{now, yes, purge, textShown, id}
	}
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("tracing: record consent: %w", err)
	}
	actor := fmt.Sprintf("device:%d", deviceID)
	if err := audit.Record(ctx, tx, actor, map[bool]string{true: "consent_given", false: "consent_refused"}[yes], "tracing_consent", fmt.Sprint(id), ""); err != nil {
		return err
	}
	if yes {
		var wid int64
		closes := now.Add(s.cfg.UploadWindow)
		if err := tx.QueryRow(ctx, `INSERT INTO tracing_upload_windows (case_id, device_id, consent_id, opens_at, closes_at, purge_after) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			caseID, deviceID, id, now, closes, closes.Add(s.cfg.Retention)).Scan(&wid); err != nil {
			return fmt.Errorf("tracing: open upload window: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE tracing_cases SET purge_after = ? WHERE id = ?`, closes.Add(s.cfg.Retention), caseID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, actor, "upload_window_opened", "tracing_upload_window", fmt.Sprint(wid), ""); err != nil {
			return err
		}
	}
	return nil
}

// CitizenText is a citizen-facing text (texts.json) in lang ("id", "en";
// anything else gets Indonesian) with this deployment's numbers filled in.
// Keys: consent_request, consent_thanks_yes, consent_thanks_no,
// exposure_prompt, otp, registration_confirmed, registration_failed.
func (s *Service) CitizenText(lang, key string) string {
	return Text(normLang(lang), key, map[string]string{
		"days":    fmt.Sprint(int(s.cfg.RecordRetention / (24 * time.Hour))),
		"hours":   fmt.Sprint(int(s.cfg.UploadWindow / time.Hour)),
		"minutes": fmt.Sprint(int(s.cfg.OTPTTL / time.Minute)),
	})
}

// Authorisation answers GET /api/tracing/v1/upload-authorisation.
type Authorisation struct {
	Authorised bool      `json:"authorised"`
	ExpiresAt  time.Time `json:"expiresAt,omitzero"`
}

type window struct {
	id, caseID int64
	closes     time.Time
	infectious time.Time
}

func (s *Service) openWindow(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) *sql.Row
}, d Device, now time.Time) (window, error) {
	var w window
	err := q.QueryRow(ctx, `SELECT w.id, w.case_id, w.closes_at, c.infectious_from FROM tracing_upload_windows w JOIN tracing_cases c ON c.id = w.case_id
		WHERE w.device_id = ? AND w.opens_at <= ? AND w.closes_at > ? ORDER BY w.closes_at DESC LIMIT 1`, d.ID, now, now).Scan(&w.id, &w.caseID, &w.closes, &w.infectious)
	if errors.Is(err, sql.ErrNoRows) {
		return w, ErrNotAuthorised
	}
	return w, err
}

// UploadAuthorisation reports whether the device has a consented, open
// upload window.
func (s *Service) UploadAuthorisation(ctx context.Context, d Device) (Authorisation, error) {
	w, err := s.openWindow(ctx, s.db, d, s.now())
	if errors.Is(err, ErrNotAuthorised) {
		return Authorisation{}, nil
	}
	if err != nil {
		return Authorisation{}, err
	}
	return Authorisation{Authorised: true, ExpiresAt: w.closes}, nil
}
