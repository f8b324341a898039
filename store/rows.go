package store

import (
	"context"
	"fmt"
	"strings"
)

// Rows collects rows for one table and writes them with multi-row INSERT
// statements. A statement's fixed cost (database/sql, cgo, SQLite's VDBE
// set-up, bind calls) is most of a small insert's price, so staging a
// mailbox chunk's rows and writing each table once is several times faster
// than an INSERT per row (measured in bot.BenchmarkEmailWriter).
//
// Rows holds no database state: whoever stages rows must Flush them before
// anything in the same transaction reads those tables, and before any other
// insert into a table whose ids were reserved with ReserveIDs.
type Rows struct {
	head   string // "INSERT INTO t (a, b) VALUES "
	tuple  string // "(?, ?)"
	suffix string // e.g. " ON CONFLICT (id) DO NOTHING"
	cols   int
	vals   []any
}

// NewRows stages rows for INSERT INTO table (cols…); suffix (may be empty)
// follows the VALUES list of every statement.
func NewRows(table, suffix string, cols ...string) *Rows {
	return &Rows{
		head:   "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ",
		tuple:  "(" + Placeholders(len(cols)) + ")",
		suffix: suffix,
		cols:   len(cols),
	}
}

// Add stages one row; it panics on a wrong number of values, which is a
// programming error that no input can cause.
func (r *Rows) Add(vals ...any) {
	if len(vals) != r.cols {
		panic(fmt.Sprintf("store: %s: %d values for %d columns", r.head, len(vals), r.cols))
	}
	r.vals = append(r.vals, vals...)
}

// Len is the number of staged rows.
func (r *Rows) Len() int { return len(r.vals) / r.cols }

// maxParams keeps a statement under both engines' bind limits (SQLite
// 32766 since 3.32, PostgreSQL 65535) with a margin.
const maxParams = 30000

// Flush writes the staged rows in tx, as few statements as the bind limit
// allows, and empties r.
func (r *Rows) Flush(ctx context.Context, tx *Tx) error {
	per := max(1, maxParams/r.cols)
	for len(r.vals) > 0 {
		n := min(per, r.Len())
		var sb strings.Builder
		sb.Grow(len(r.head) + n*(len(r.tuple)+2) + len(r.suffix))
		sb.WriteString(r.head)
		for i := range n {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(r.tuple)
		}
		sb.WriteString(r.suffix)
		if _, err := tx.Exec(ctx, sb.String(), r.vals[:n*r.cols]...); err != nil {
			return err
		}
		r.vals = r.vals[n*r.cols:]
	}
	r.vals = nil
	return nil
}

// Placeholders is "?, ?, …" for n values.
func Placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// InList makes the "?, ?, …" of an IN list and its arguments; an empty
// list is "NULL", which matches nothing and keeps the SQL valid.
func InList[T any](vals []T) (string, []any) {
	if len(vals) == 0 {
		return "NULL", nil
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return Placeholders(len(vals)), args
}

// maxInList is the longest IN list InBatches hands out: far below the bind
// limits, and short enough for the planner to use an index.
const maxInList = 500

// InBatches calls fn with consecutive parts of vals of at most maxInList
// values, for lookups by a long IN list.
func InBatches[T any](vals []T, fn func(part []T) error) error {
	for len(vals) > 0 {
		part := vals[:min(len(vals), maxInList)]
		vals = vals[len(part):]
		if err := fn(part); err != nil {
			return err
		}
	}
	return nil
}

// ReserveIDs returns n new ids for table's id column, so that rows staged
// in Rows can reference each other before they are written. On PostgreSQL
// they come from the column's sequence. On SQLite they follow the
// current MAX(id): the writer holds the only write lock, so nobody else
// can take them, but they stay valid only until something else inserts
// into the table in this transaction (Rows says so to its users).
func (tx *Tx) ReserveIDs(ctx context.Context, table string, n int) ([]int64, error) {
	ids := make([]int64, 0, n)
	if n <= 0 {
		return ids, nil
	}
	if tx.db.dialect == SQLite {
		var last int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM `+table).Scan(&last); err != nil {
			return nil, fmt.Errorf("store: reserve ids: %w", err)
		}
		for i := range n {
			ids = append(ids, last+1+int64(i))
		}
		return ids, nil
	}
	rows, err := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence(?::text, 'id')) FROM generate_series(1, ?::int)`, table, n)
	if err != nil {
		return nil, fmt.Errorf("store: reserve ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: reserve ids: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reserve ids: %w", err)
	}
	if len(ids) != n {
		return nil, fmt.Errorf("store: reserve ids: %d of %d", len(ids), n)
	}
	return ids, nil
}
