package store

import "time"

// RebindForTest exposes rebind to the external test package.
func RebindForTest(q string) string { return rebind(q) }

// SetJoinWait changes how long db's GroupTxWithNext requests wait.
func SetJoinWait(db *DB, d time.Duration) { db.joinWait.Store(int64(d)) }

// SetWALLimit changes the WAL size (pages) past which db's writers
// checkpoint themselves.
func SetWALLimit(db *DB, pages int64) { db.walLimit.Store(pages) }

// WALBig reports whether db's writers are checkpointing themselves.
func WALBig(db *DB) bool { return db.walBig.Load() }

// BreakWriter closes db's writer connection under it, as a failure would.
func BreakWriter(db *DB) {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	if db.writer != nil {
		db.writer.Close()
	}
}

// Checkpoints is how many WAL checkpoints db ran itself.
func Checkpoints(db *DB) int64 { return db.ckpts.Load() }
