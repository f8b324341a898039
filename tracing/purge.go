package tracing

import (
	"context"
	"fmt"
	"time"

	"lindungi/audit"
	"lindungi/store"
)

// purgeTables, children before parents so a batch never cascades far.
var purgeTables = []string{
	"tracing_exposures",
	"tracing_uploads",
	"tracing_upload_windows",
	"tracing_consents",
	"tracing_cases",
	"tracing_otps",
	"tracing_registrations",
	"tracing_rate_limits",
	"tracing_keys",
	"tracing_devices",
}

// Purge deletes every tracing row whose purpose ended more than its
// retention ago (purge_after ≤ now), in batches of PurgeBatch rows, and
// drops raw uploads that were never matched within the record retention.
// It returns rows deleted per table.
func (s *Service) Purge(ctx context.Context, now time.Time) (map[string]int64, error) {
	now = now.UTC()
	out := map[string]int64{}
	rowid := "rowid"
	if s.db.Dialect() == store.Postgres {
		rowid = "ctid"
	}
	for {
		res, err := s.db.Exec(ctx, `UPDATE tracing_uploads SET raw_sealed = NULL WHERE id IN (SELECT id FROM tracing_uploads WHERE raw_sealed IS NOT NULL AND received_at <= ? LIMIT ?)`,
			now.Add(-s.cfg.RecordRetention), s.cfg.PurgeBatch)
		if err != nil {
			return out, fmt.Errorf("tracing: purge raw uploads: %w", err)
		}
		n, _ := res.RowsAffected()
		out["tracing_uploads.raw"] += n
		if n < int64(s.cfg.PurgeBatch) {
			break
		}
	}
	for _, t := range purgeTables {
		for {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			res, err := s.db.Exec(ctx, `DELETE FROM `+t+` WHERE `+rowid+` IN (SELECT `+rowid+` FROM `+t+` WHERE purge_after <= ? LIMIT ?)`, now, s.cfg.PurgeBatch)
			if err != nil {
				return out, fmt.Errorf("tracing: purge %s: %w", t, err)
			}
			n, _ := res.RowsAffected()
			out[t] += n
			if n < int64(s.cfg.PurgeBatch) {
				break
			}
		}
	}
	var total int64
	for _, n := range out {
		total += n
	}
	if total > 0 {
		detail := ""
		for _, t := range append([]string{"tracing_uploads.raw"}, purgeTables...) {
			if out[t] > 0 {
				detail += fmt.Sprintf("%s=%d ", t, out[t])
			}
		}
		if err := audit.Record(ctx, s.db, "system:purge-tracing", "purged", "tracing", "", detail); err != nil {
			return out, err
		}
	}
	if out["tracing_keys"] > 0 {
		if err := s.loadKeys(ctx); err != nil {
			return out, err
		}
	}
	return out, nil
}
