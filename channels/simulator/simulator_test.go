package simulator_test

import (
	"context"
	"testing"

	"lindungi/channels"
	"lindungi/channels/simulator"
	"lindungi/store"
	"lindungi/store/storetest"
)

// A reader's cursor must keep working after an erasure deletes a contact's
// deliveries: the next delivery gets a sequence number above every one
// handed out before (SQLite used to reuse MAX(seq)+1, so the erasure
// confirmation fell behind `lindungi chat`'s cursor and was never shown).
func TestSentAfterErasureIsNotBehindTheCursor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sim := simulator.New(db)
		const to = "+6281200000077"
		for _, id := range []string{"out-1", "out-2", "out-3"} {
			if err := sim.Send(ctx, channels.Outbound{ID: id, To: to, Kind: "text", Text: "balasan " + id}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := sim.Sent(ctx, to, 0, 0)
		if err != nil || len(got) != 3 {
			t.Fatalf("before erasure: %d messages, err %v", len(got), err)
		}
		cursor := got[len(got)-1].Seq

		// What privacy's erasure does to the simulator's log.
		if _, err := db.Exec(ctx, `DELETE FROM simulator_deliveries WHERE recipient = ?`, to); err != nil {
			t.Fatal(err)
		}
		if err := sim.Send(ctx, channels.Outbound{ID: "out-confirm", To: to, Kind: "text", Text: "data Anda sudah dihapus"}); err != nil {
			t.Fatal(err)
		}
		after, err := sim.Sent(ctx, to, cursor, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != 1 || after[0].ID != "out-confirm" {
			t.Fatalf("after the cursor %d: %+v, want the confirmation", cursor, after)
		}
		if after[0].Seq <= cursor {
			t.Errorf("confirmation got seq %d, not above the cursor %d", after[0].Seq, cursor)
		}
	})
}
