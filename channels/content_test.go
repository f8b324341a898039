package channels_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/store"
	"lindungi/store/storetest"
)

// reporter is a Recorder whose provider reports delivery by webhook, as
// the WhatsApp Cloud API does.
type reporter struct{ *channels.Recorder }

func (reporter) ReportsDelivery() bool { return true }

func runOutbox(t *testing.T, db *store.DB, ch channels.Channel, cfg channels.OutboxConfig, now func() time.Time) *channels.Outbox {
	t.Helper()
	ob := channels.NewOutbox(db, cfg, quietLog(), nil)
	if now != nil {
		ob.Now = now
	}
	ob.Register(ch)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ob
}

func row(t *testing.T, db *store.DB, id string) (recipient, payload, lastError string) {
	t.Helper()
	if err := db.QueryRow(context.Background(), `SELECT recipient, payload, last_error FROM outbox WHERE id = ?`, id).Scan(&recipient, &payload, &lastError); err != nil {
		t.Fatal(err)
	}
	return
}

// A provider that reports delivery by webhook may say a message "sent"
// (accepted) failed after all: an erasure confirmation, an export or a
// one-time code must still be there to send again, or be released when
// held, and is dropped only once the citizen has it.
func TestWebhookChannelKeepsContentUntilDelivered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, kind := range []string{channels.KindErasure, channels.KindExport, channels.KindOTP} {
			for _, tc := range []struct {
				name    string
				outcome error
			}{
				{"retried", fmt.Errorf("131000 something went wrong")},
				{"held", fmt.Errorf("131047 re-engagement: %w", channels.ErrHeld)},
			} {
				t.Run(kind+" "+tc.name, func(t *testing.T) {
					ctx := context.Background()
					rec := channels.NewRecorder("whatsapp")
					ob := runOutbox(t, db, reporter{rec}, channels.OutboxConfig{Poll: 5 * time.Millisecond, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}, nil)
					to := "+6281200" + fmt.Sprint(time.Now().UnixNano()%100000)
					id := enqueue(t, db, ob, channels.Outbound{Channel: "whatsapp", To: to, Kind: kind, Text: "rahasia 482913"})
					waitStatus(t, db, id, "sent")
					if r, p, _ := row(t, db, id); r != to || !strings.Contains(p, "482913") {
						t.Fatalf("accepted, not delivered: recipient %q, payload %s", r, p)
					}
					if err := ob.RecordDelivery(ctx, id, channels.DeliveryFailed, tc.outcome); err != nil {
						t.Fatal(err)
					}
					if tc.name == "held" {
						waitStatus(t, db, id, "held")
						if n, err := ob.ReleaseHeld(ctx, "whatsapp", to); err != nil || n != 1 {
							t.Fatalf("released %d, %v", n, err)
						}
					}
					for rec.Tries(id) < 2 {
						time.Sleep(5 * time.Millisecond)
					}
					waitStatus(t, db, id, "sent")
					got := rec.Sent()
					if len(got) != 2 || got[1].To != to || !strings.Contains(got[1].Text, "482913") {
						t.Fatalf("sent again: %+v", got)
					}
					if err := ob.RecordDelivery(ctx, id, channels.DeliveryDelivered, nil); err != nil {
						t.Fatal(err)
					}
					if r, p, _ := row(t, db, id); strings.Contains(p, "482913") || (kind != channels.KindOTP && r != "erased") {
						t.Fatalf("delivered: recipient %q, payload %s", r, p)
					}
				})
			}
		}
	})
}

// A row whose content was dropped at "sent" (a channel without delivery
// reports, or content dropped on delivery) and reported failed later is
// dead-lettered with the reason, never queued or held empty.
func TestFailureAfterContentDroppedIsDeadLettered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, tc := range []struct {
			name    string
			outcome error
		}{
			{"retry", fmt.Errorf("131000 something went wrong")},
			{"not ready", fmt.Errorf("190: %w", channels.ErrNotReady)},
			{"held", fmt.Errorf("131047: %w", channels.ErrHeld)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				rec := channels.NewRecorder("whatsapp")
				ob := runOutbox(t, db, rec, channels.OutboxConfig{Poll: 5 * time.Millisecond}, nil)
				var flagged atomic.Int32
				ob.OnDead = func(ctx context.Context, tx *store.Tx, m channels.Outbound, reason string) error {
					flagged.Add(1)
					return nil
				}
				id := enqueue(t, db, ob, channels.Outbound{Channel: "whatsapp", To: "+628123456789", Kind: channels.KindExport, Text: "ekspor"})
				waitStatus(t, db, id, "sent")
				if err := ob.RecordDelivery(ctx, id, channels.DeliveryFailed, tc.outcome); err != nil {
					t.Fatal(err)
				}
				if s, _ := status(t, db, id); s != "dead" {
					t.Fatalf("status %s, want dead", s)
				}
				if _, _, why := row(t, db, id); !strings.Contains(why, "content was dropped") {
					t.Errorf("last_error %q", why)
				}
				if flagged.Load() != 1 {
					t.Errorf("OnDead ran %d times", flagged.Load())
				}
			})
		}
	})
}

// A one-time code held outside the 24-hour window is released only while
// it can still be valid; an older one is dead-lettered with the reason.
func TestReleaseHeldDropsExpiredCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, tc := range []struct {
			name     string
			kind     string
			age      time.Duration
			released bool
		}{
			{"fresh code", channels.KindOTP, time.Minute, true},
			{"expired code", channels.KindOTP, channels.OTPLifetime + time.Minute, false},
			{"old reply", "reply", 3 * time.Hour, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				var shift atomic.Int64
				var open atomic.Bool
				rec := channels.NewRecorder("whatsapp")
				rec.Fail = func(m channels.Outbound, attempt int) error {
					if !open.Load() {
						return fmt.Errorf("outside the window: %w", channels.ErrHeld)
					}
					return nil
				}
				ob := runOutbox(t, db, rec, channels.OutboxConfig{Poll: 5 * time.Millisecond}, func() time.Time { return time.Now().Add(time.Duration(shift.Load())) })
				to := "+6281300" + fmt.Sprint(time.Now().UnixNano()%100000)
				id := enqueue(t, db, ob, channels.Outbound{Channel: "whatsapp", To: to, Kind: tc.kind, Text: "Kode 739164"})
				waitStatus(t, db, id, "held")
				shift.Store(int64(tc.age))
				open.Store(true)
				n, err := ob.ReleaseHeld(ctx, "whatsapp", to)
				if err != nil {
					t.Fatal(err)
				}
				if tc.released {
					if n != 1 {
						t.Fatalf("released %d", n)
					}
					waitStatus(t, db, id, "sent")
					return
				}
				if s, _ := status(t, db, id); n != 0 || s != "dead" {
					t.Fatalf("released %d, status %s", n, s)
				}
				if _, p, why := row(t, db, id); strings.Contains(p, "739164") || !strings.Contains(why, "expired") {
					t.Errorf("payload %s, last_error %q", p, why)
				}
			})
		}
	})
}
