// Package audit owns the append-only audit log: who (actor) did what
// (action) to which record (object type + ID), when. UU 27/2022 asks that all
// processing of personal data be logged; the log itself holds none — object
// IDs only, never names, NIK, phone numbers, e-mail addresses or message text.
//
// There is deliberately no update or delete API. The database enforces the
// same (migration 0006): UPDATE is refused, and DELETE only succeeds for rows
// older than five years, which is what the audit-retention job purges.
package audit

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"lindungi/store"
)

// Execer is what Record writes through: both *store.DB and *store.Tx, so an
// audit row can commit atomically with the change it describes.
type Execer interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// Querier is what List reads through (*store.DB or *store.Tx).
type Querier interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// Entry is one audit row.
type Entry struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Action     string    `json:"action"`
	ObjectType string    `json:"objectType"`
	ObjectID   string    `json:"objectId"`
	Detail     string    `json:"detail,omitempty"`
}

// Now is the clock for new rows.
var Now = store.Now

// Things that must never reach the log even if a caller slips: an e-mail
// address, or a run of 9+ digits (phone number, NIK).
var (
	emailRE  = regexp.MustCompile(`[^\s@"'<>]+@[^\s@"'<>]+\.[A-Za-z]{2,}`)
	digitsRE = regexp.MustCompile(`\+?\d[\d \-]{7,}\d`)
)

// Redact masks e-mail addresses and long digit runs (phones, NIK) in s.
func Redact(s string) string {
	s = emailRE.ReplaceAllString(s, "[redacted]")
	return digitsRE.ReplaceAllStringFunc(s, func(m string) string {
		n := 0
		for _, c := range m {
			if c >= '0' && c <= '9' {
				n++
			}
		}
		if n < 9 {
			return m
		}
		return "[redacted]"
	})
}

// Record appends one row. detail is free text for humans (counts, old→new
// status); anything in it that looks like an e-mail address, phone number or
// NIK is masked before it is written.
func Record(ctx context.Context, q Execer, actor, action, objectType, objectID, detail string) error {
	if actor == "" || action == "" {
		return fmt.Errorf("audit: actor and action are required")
	}
	_, err := q.Exec(ctx, `INSERT INTO audit_log (at, actor, action, object_type, object_id, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		Now(), actor, action, objectType, objectID, Redact(detail))
	if err != nil {
		return fmt.Errorf("audit: record %s: %w", action, err)
	}
	return nil
}

// Filter narrows List. Empty fields match everything; Since is inclusive,
// Until exclusive.
type Filter struct {
	Actor      string
	Action     string // exact, or a prefix ending in "." (e.g. "privacy.")
	ObjectType string
	ObjectID   string
	Since      time.Time
	Until      time.Time
}

// MaxLimit caps one page.
const MaxLimit = 500

// List returns rows newest first, at most limit (default 50, capped at
// MaxLimit), starting after cursor (empty: from the newest). next is the
// cursor for the following page, empty when there is none.
func List(ctx context.Context, db Querier, f Filter, cursor string, limit int) (entries []Entry, next string, err error) {
	if limit <= 0 {
		limit = 50
	}
	if limit > MaxLimit {
		limit = MaxLimit
	}
	var where []string
	var args []any
	if cursor != "" {
		id, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || id <= 0 {
			return nil, "", fmt.Errorf("audit: bad cursor")
		}
		where, args = append(where, "id < ?"), append(args, id)
	}
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			where, args = append(where, "action LIKE ?"), append(args, strings.NewReplacer("%", "", "_", "").Replace(f.Action)+"%")
		} else {
			where, args = append(where, "action = ?"), append(args, f.Action)
		}
	}
	if f.ObjectType != "" {
		where, args = append(where, "object_type = ?"), append(args, f.ObjectType)
	}
	if f.ObjectID != "" {
		where, args = append(where, "object_id = ?"), append(args, f.ObjectID)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, f.Until.UTC())
	}
	q := `SELECT id, at, actor, action, object_type, object_id, detail FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	entries = []Entry{}
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.Detail); err != nil {
			return nil, "", fmt.Errorf("audit: list: %w", err)
		}
		e.At = e.At.UTC()
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("audit: list: %w", err)
	}
	if len(entries) > limit {
		entries = entries[:limit]
		next = strconv.FormatInt(entries[limit-1].ID, 10)
	}
	return entries, next, nil
}

// DeleteBefore deletes up to limit rows older than cutoff in tx and returns
// how many (the audit-retention job calls it batch by batch). The database
// refuses to delete rows younger than five years whatever cutoff says.
func DeleteBefore(ctx context.Context, tx *store.Tx, cutoff time.Time, limit int) (int64, error) {
	q := `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? LIMIT ?)`
	if tx.Dialect() == store.Postgres {
		// "= ANY(ARRAY(subquery))" is an index lookup by id; PostgreSQL
		// plans "IN (subquery)" as a scan of the whole table per batch.
		q = `DELETE FROM audit_log WHERE id = ANY(ARRAY(SELECT id FROM audit_log WHERE at < ? LIMIT ?))`
	}
	res, err := tx.Exec(ctx, q, cutoff.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("audit: purge: %w", err)
	}
	return res.RowsAffected()
}
