package channels_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/store"
	"lindungi/store/storetest"
)

// A held message is neither retried nor dead-lettered; it goes out once
// released. A deferred one waits without spending an attempt.
func TestOutboxHeldAndDeferred(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec := channels.NewRecorder("simulator")
		released := make(chan struct{})
		rec.Fail = func(m channels.Outbound, attempt int) error {
			switch m.Text {
			case "hold me":
				select {
				case <-released:
					return nil
				default:
					return fmt.Errorf("outside the window: %w", channels.ErrHeld)
				}
			case "later":
				return fmt.Errorf("quota: %w", channels.ErrDeferred)
			}
			return nil
		}
		ob := startOutbox(t, db, rec, channels.OutboxConfig{MaxAttempts: 2, Poll: 5 * time.Millisecond, MaxBackoff: time.Hour})
		held := enqueue(t, db, ob, channels.Outbound{Channel: "simulator", To: "a", Text: "hold me"})
		later := enqueue(t, db, ob, channels.Outbound{Channel: "simulator", To: "b", Text: "later"})
		waitStatus(t, db, held, "held")
		for rec.Tries(later) < 1 {
			time.Sleep(10 * time.Millisecond)
		}
		var why string
		db.QueryRow(context.Background(), `SELECT last_error FROM outbox WHERE id = ?`, held).Scan(&why)
		if why != "outside the window: held" {
			t.Errorf("held reason %q", why)
		}
		if s, n := waitStatusN(t, db, later, "queued"); s != "queued" || n != 0 {
			t.Errorf("deferred row: %s with %d attempts", s, n)
		}
		close(released)
		if n, err := ob.ReleaseHeld(context.Background(), "simulator", "a"); err != nil || n != 1 {
			t.Fatalf("released %d, %v", n, err)
		}
		waitStatus(t, db, held, "sent")
	})
}

func waitStatusN(t *testing.T, db *store.DB, id, want string) (string, int) {
	t.Helper()
	waitStatus(t, db, id, want)
	return status(t, db, id)
}

// Provider reports only move a message forward, whatever their order; a
// permanent failure dead-letters it through OnDead.
func TestRecordDeliveryMonotonic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec := channels.NewRecorder("whatsapp")
		ob := startOutbox(t, db, rec, channels.OutboxConfig{Poll: 5 * time.Millisecond})
		var dead []string
		ob.OnDead = func(ctx context.Context, tx *store.Tx, m channels.Outbound, reason string) error {
			dead = append(dead, m.ID)
			return nil
		}
		a := enqueue(t, db, ob, channels.Outbound{Channel: "whatsapp", To: "+628111", Text: "a"})
		b := enqueue(t, db, ob, channels.Outbound{Channel: "whatsapp", To: "+628222", Text: "b"})
		waitStatus(t, db, a, "sent")
		waitStatus(t, db, b, "sent")
		ctx := context.Background()
		for _, st := range []string{"read", "sent", "delivered", "read", "bogus"} {
			if err := ob.RecordDelivery(ctx, a, st, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := ob.RecordDelivery(ctx, "no-such-row", "read", nil); err != nil {
			t.Fatal(err)
		}
		perm := fmt.Errorf("131026: %w", channels.ErrPermanent)
		for i := 0; i < 2; i++ {
			if err := ob.RecordDelivery(ctx, b, channels.DeliveryFailed, perm); err != nil {
				t.Fatal(err)
			}
		}
		states, err := ob.DeliveryStates(ctx, []string{a, b})
		if err != nil {
			t.Fatal(err)
		}
		if states[a] != "read" || states[b] != "dead" || len(dead) != 1 || dead[0] != b {
			t.Fatalf("states %v, dead %v", states, dead)
		}
	})
}
