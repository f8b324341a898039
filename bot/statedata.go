package bot

import (
	"context"
	"fmt"

	"lindungi/store"
)

// ExportStates returns the conversation state the bot keeps per contact
// (raw JSON by contact id), for a data-subject export; nil when none.
func ExportStates(ctx context.Context, db *store.DB, contactIDs []int64) (map[int64]string, error) {
	cin, cargs := store.InList(contactIDs)
	rows, err := db.Query(ctx, `SELECT contact_id, state FROM bot_state WHERE contact_id IN (`+cin+`)`, cargs...)
	if err != nil {
		return nil, fmt.Errorf("bot: export state: %w", err)
	}
	defer rows.Close()
	var out map[int64]string
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, err
		}
		if out == nil {
			out = map[int64]string{}
		}
		out[id] = st
	}
	return out, rows.Err()
}

// EraseStates forgets the contacts' conversations.
func EraseStates(ctx context.Context, tx *store.Tx, contactIDs []int64) error {
	cin, cargs := store.InList(contactIDs)
	if _, err := tx.Exec(ctx, `DELETE FROM bot_state WHERE contact_id IN (`+cin+`)`, cargs...); err != nil {
		return fmt.Errorf("bot: erase state: %w", err)
	}
	return nil
}
