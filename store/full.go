package store

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// IsStorageFull reports whether err is the database saying its disk is
// full (SQLITE_FULL, PostgreSQL 53100 disk_full). The transaction that hit
// it was rolled back whole, so the caller can say "nothing was stored, try
// again later" instead of a generic internal error.
func IsStorageFull(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrFull {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "53100"
}

// MinFreeBytes is the free space under which readiness reports the disk as
// full: below it a burst of mail with attachments would start failing.
const MinFreeBytes = 64 << 20

// FreeBytes reports the free space on the SQLite file's file system; ok is
// false on PostgreSQL (its server watches its own disk) or where the file
// system cannot tell.
func (db *DB) FreeBytes() (free uint64, ok bool) {
	if db.dialect != SQLite || db.Path == "" {
		return 0, false
	}
	return freeBytes(db.Path)
}
