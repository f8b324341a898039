package email

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync/atomic"
	"testing"

	"lindungi/channels"
	"lindungi/store/storetest"
)

// strictBatchSink stops a batch at its first failure, as the bot does: the
// mail behind it gets channels.ErrNotAttempted.
type strictBatchSink struct{ *batchSink }

func (s strictBatchSink) DeliverBatch(ctx context.Context, ins []channels.Inbound) []error {
	errs := make([]error, len(ins))
	for i := range ins {
		if i > 0 && errs[i-1] != nil {
			errs[i] = channels.ErrNotAttempted
			continue
		}
		errs[i] = s.batchSink.DeliverBatch(ctx, ins[i:i+1])[0]
	}
	return errs
}

// passCounter counts the passes that ended in an error (each one closes
// the connection and waits out a reconnect backoff).
type passCounter struct{ n *atomic.Int64 }

func (h passCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "email: mailbox connection ended, reconnecting" {
		h.n.Add(1)
	}
	return nil
}
func (h passCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h passCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h passCounter) WithGroup(string) slog.Handler            { return h }

// TestPoisonMailWithStrictSink: a mail that always fails, in a chunk given
// to a sink that does not try the mail behind a failure. The poison mail
// fails poisonAfter passes, is stored raw, and the rest of its chunk is
// handed over again at once: every mail is stored once, in UID order, and
// no pass fails because of the innocent mail behind the poison one.
func TestPoisonMailWithStrictSink(t *testing.T) {
	const n = 100
	addr := memIMAP(t)
	db := storetest.SQLite(t)
	appendMsgs(t, addr, "user", "pass", "INBOX", manyMails(1, n)...)
	box := MailboxConfig{Address: "pedulilindungi@kemkes.go.id", IMAPURL: "imap://" + addr, Username: "user", Password: "pass", AfterImport: "keep"}
	var failedPasses atomic.Int64
	r, err := NewRunner(box, fastCfg(), db, slog.New(passCounter{&failedPasses}))
	if err != nil {
		t.Fatal(err)
	}
	ms := newMemSink(db)
	ms.fail = func(in channels.Inbound) error {
		if in.Meta[MetaMessageID] == "m30@example.com" && !in.Unparseable {
			return errors.New("something about this mail")
		}
		return nil
	}
	sink := strictBatchSink{newBatchSink(t, ms, r.box)}
	stop := runRunner(t, r, sink)
	sink.waitFor(t, n, 60e9)
	stop()

	if got := failedPasses.Load(); got != poisonAfter-1 {
		t.Errorf("%d passes failed before every mail was stored, want %d (the poison mail's own failures)", got, poisonAfter-1)
	}
	sink.mu.Lock()
	order := append([]uint32(nil), sink.order...)
	sink.mu.Unlock()
	// The poison mail is stored raw through Deliver, not in a batch.
	if len(order) != n-1 || !sort.SliceIsSorted(order, func(i, j int) bool { return order[i] < order[j] }) {
		t.Errorf("%d first batch deliveries, in order %v; want %d in UID order", len(order), order, n-1)
	}
	if v := sink.violated.Load(); v != 0 {
		t.Errorf("the cursor moved past uncommitted mail %d times", v)
	}
}
