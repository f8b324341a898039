package simulator

import (
	"context"
	"fmt"

	"lindungi/store"
)

// EraseDeliveries deletes what the simulator "sent" to any of addresses
// (a data-subject erasure or retention reaches its delivery log too).
func EraseDeliveries(ctx context.Context, tx *store.Tx, addresses []string) error {
	// The table comes with migration 0002; a database migrated only that
	// far holds nothing to erase.
	if ok, err := tableExists(ctx, tx, "simulator_deliveries"); err != nil || !ok {
		return err
	}
	in, args := store.InList(addresses)
	if _, err := tx.Exec(ctx, `DELETE FROM simulator_deliveries WHERE recipient IN (`+in+`)`, args...); err != nil {
		return fmt.Errorf("simulator: erase deliveries: %w", err)
	}
	return nil
}

func tableExists(ctx context.Context, tx *store.Tx, name string) (bool, error) {
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if tx.Dialect() == store.Postgres {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	}
	var n int
	if err := tx.QueryRow(ctx, q, name).Scan(&n); err != nil {
		return false, fmt.Errorf("simulator: table %s: %w", name, err)
	}
	return n > 0, nil
}
