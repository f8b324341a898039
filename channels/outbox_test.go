package channels_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/store"
	"lindungi/store/storetest"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startOutbox(t *testing.T, db *store.DB, rec *channels.Recorder, cfg channels.OutboxConfig) *channels.Outbox {
	t.Helper()
	ob := channels.NewOutbox(db, cfg, quietLog(), nil)
	ob.Register(rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ob
}

func enqueue(t *testing.T, db *store.DB, ob *channels.Outbox, m channels.Outbound) string {
	t.Helper()
	var id string
	err := db.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		id, err = ob.Enqueue(context.Background(), tx, m)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func status(t *testing.T, db *store.DB, id string) (string, int) {
	t.Helper()
	var s string
	var n int
	if err := db.QueryRow(context.Background(), `SELECT status, attempts FROM outbox WHERE id = ?`, id).Scan(&s, &n); err != nil {
		t.Fatal(err)
	}
	return s, n
}

func waitStatus(t *testing.T, db *store.DB, id, want string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second) // failure guard, not a timing assertion
	for time.Now().Before(deadline) {
		if s, n := status(t, db, id); s == want {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
	s, _ := status(t, db, id)
	t.Fatalf("row %s: status %s, want %s", id, s, want)
	return 0
}

func TestOutboxDeliversInOrderWithStableIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec := channels.NewRecorder("simulator")
		ob := startOutbox(t, db, rec, channels.OutboxConfig{})
		var ids []string
		for i := 0; i < 20; i++ {
			ids = append(ids, enqueue(t, db, ob, channels.Outbound{Channel: "simulator", To: "a", Text: fmt.Sprint(i)}))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if !rec.WaitFor(ctx, 20) {
			t.Fatalf("delivered %d of 20", len(rec.Sent()))
		}
		for i, m := range rec.Sent() {
			if m.ID != ids[i] || m.Text != fmt.Sprint(i) {
				t.Errorf("message %d: id %s text %q, want %s %q", i, m.ID, m.Text, ids[i], fmt.Sprint(i))
			}
		}
		waitStatus(t, db, ids[19], "sent")
	})
}

func TestOutboxRetriesWithSameIDThenSucceeds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec := channels.NewRecorder("simulator")
		rec.Fail = func(m channels.Outbound, attempt int) error {
			if attempt < 3 {
				return errors.New("ack timeout")
			}
			return nil
		}
		ob := startOutbox(t, db, rec, channels.OutboxConfig{BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Poll: 5 * time.Millisecond})
		id := enqueue(t, db, ob, channels.Outbound{Channel: "simulator", To: "a", Text: "x"})
		if n := waitStatus(t, db, id, "sent"); n != 3 {
			t.Errorf("attempts = %d, want 3", n)
		}
		if rec.Tries(id) != 3 || len(rec.Sent()) != 1 || rec.Sent()[0].ID != id {
			t.Errorf("tries %d, sent %v", rec.Tries(id), rec.Sent())
		}
	})
}

func TestOutboxDeadLettersPermanentAndExhausted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec := channels.NewRecorder("simulator")
		rec.Fail = func(m channels.Outbound, attempt int) error {
			if m.To == "gone" {
				return fmt.Errorf("not on WhatsApp: %w", channels.ErrPermanent)
			}
			return errors.New("flaky")
		}
		ob := startOutbox(t, db, rec, channels.OutboxConfig{MaxAttempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Poll: 5 * time.Millisecond})
		var deadIDs []string
		ob.OnDead = func(ctx context.Context, tx *store.Tx, m channels.Outbound, reason string) error {
			deadIDs = append(deadIDs, m.ID)
			return nil
		}
		perm := enqueue(t, db, ob, channels.Outbound{Channel: "simulator", To: "gone", Text: "x"})
		flaky := enqueue(t, db, ob, channels.Outbound{Channel: "simulator", To: "b", Text: "y"})
		if n := waitStatus(t, db, perm, "dead"); n != 1 {
			t.Errorf("permanent failure took %d attempts, want 1", n)
		}
		if n := waitStatus(t, db, flaky, "dead"); n != 3 {
			t.Errorf("exhausted after %d attempts, want 3", n)
		}
		if len(deadIDs) != 2 {
			t.Errorf("OnDead called for %v", deadIDs)
		}
		// The console shows why each was given up.
		why, err := ob.DeliveryFailures(context.Background(), []string{perm, flaky})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(why[perm], "not on WhatsApp") || !strings.Contains(why[flaky], "flaky") {
			t.Errorf("delivery failures %q", why)
		}
	})
}

func TestOutboxHoldsWhileNotReady(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec := channels.NewRecorder("simulator")
		ready := make(chan struct{})
		rec.Fail = func(m channels.Outbound, attempt int) error {
			select {
			case <-ready:
				return nil
			default:
				return channels.ErrNotReady
			}
		}
		ob := startOutbox(t, db, rec, channels.OutboxConfig{MaxAttempts: 2, Poll: 5 * time.Millisecond})
		id := enqueue(t, db, ob, channels.Outbound{Channel: "simulator", To: "a", Text: "x"})
		for rec.Tries(id) < 3 {
			time.Sleep(50 * time.Millisecond)
		}
		if s, n := status(t, db, id); s == "dead" || n != 0 {
			t.Fatalf("while not ready: status %s attempts %d, want queued with 0 attempts", s, n)
		}
		close(ready)
		waitStatus(t, db, id, "sent")
	})
}

func TestOutboxReclaimsAbandonedRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// A row a crashed worker left in "sending" is sent again once its
		// claim expires — with the same ID.
		ctx := context.Background()
		past := store.Now().Add(-time.Hour)
		if _, err := db.Exec(ctx, `INSERT INTO outbox (id, channel, recipient, kind, payload, status, attempts, next_attempt_at, claimed_until, created_at)
			VALUES ('3EB0ABANDONED', 'simulator', 'a', 'reply', '{"text":"hi"}', 'sending', 0, ?, ?, ?)`, past, past, past); err != nil {
			t.Fatal(err)
		}
		rec := channels.NewRecorder("simulator")
		startOutbox(t, db, rec, channels.OutboxConfig{Poll: 5 * time.Millisecond})
		waitStatus(t, db, "3EB0ABANDONED", "sent")
		if s := rec.Sent(); len(s) != 1 || s[0].ID != "3EB0ABANDONED" || s[0].Text != "hi" {
			t.Fatalf("sent %+v", s)
		}
	})
}

// A one-time code is in clear in the outbox only until it is sent (or given
// up on): afterwards the row keeps its recipient and status, not the code.
// Other kinds keep their text (the conversation history needs it).
func TestOutboxForgetsOneTimeCodesOnceDone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		rec := channels.NewRecorder("simulator")
		rec.Fail = func(m channels.Outbound, attempt int) error {
			if m.To == "gone" {
				return fmt.Errorf("not on WhatsApp: %w", channels.ErrPermanent)
			}
			return nil
		}
		ob := startOutbox(t, db, rec, channels.OutboxConfig{Poll: 5 * time.Millisecond})
		sent := enqueue(t, db, ob, channels.Outbound{Channel: "simulator", To: "+628121111111", Kind: "otp", Text: "Kode Sijejak Anda: 482913"})
		dead := enqueue(t, db, ob, channels.Outbound{Channel: "simulator", To: "gone", Kind: "otp", Text: "Kode Sijejak Anda: 739164"})
		reply := enqueue(t, db, ob, channels.Outbound{Channel: "simulator", To: "+628121111111", Kind: "reply", Text: "Terima kasih 555"})
		waitStatus(t, db, sent, "sent")
		waitStatus(t, db, dead, "dead")
		waitStatus(t, db, reply, "sent")
		if got := rec.Sent(); len(got) != 2 || !strings.Contains(got[0].Text+got[1].Text, "482913") {
			t.Fatalf("the channel did not get the code: %+v", got)
		}
		for _, c := range []struct {
			id, code, to string
			keep         bool
		}{{sent, "482913", "+628121111111", false}, {dead, "739164", "gone", false}, {reply, "555", "+628121111111", true}} {
			var payload, to string
			if err := db.QueryRow(context.Background(), `SELECT payload, recipient FROM outbox WHERE id = ?`, c.id).Scan(&payload, &to); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(payload, c.code) != c.keep {
				t.Errorf("row %s: payload %s (code kept: %v, want %v)", c.id, payload, !c.keep, c.keep)
			}
			if to != c.to {
				t.Errorf("row %s: recipient %q, want %q", c.id, to, c.to)
			}
		}
	})
}
