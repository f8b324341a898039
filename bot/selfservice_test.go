package bot_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"lindungi/bot"
	"lindungi/channels"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tickets"
)

// fakeSelf is a SelfService double that records what the bot hands it.
type fakeSelf struct {
	mu        sync.Mutex
	handled   []bot.SelfRequest
	codes     []string
	annotated []int64
	nudged    int
}

func (f *fakeSelf) Takes(channel, category string) bool {
	return channel == "whatsapp" && category == tickets.VaccinationStatus
}
func (f *fakeSelf) IsCode(channel, text string) (string, bool) {
	if text == "KODE 123456" {
		return "123456", true
	}
	return "", false
}
func (f *fakeSelf) Checking(lang string) string             { return "sedang kami periksa" }
func (f *fakeSelf) Annotates(channel, category string) bool { return category == tickets.ChangeData }

// Queue records what the bot queued; a real Queue writes in tx, so the
// bot's turn must hand it the message's transaction.
func (f *fakeSelf) Queue(ctx context.Context, tx *store.Tx, op string, r bot.SelfRequest, code string, ticketID int64) error {
	if tx == nil {
		return fmt.Errorf("queue outside the message's transaction")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch op {
	case bot.SelfLookup:
		f.handled = append(f.handled, r)
	case bot.SelfCode:
		f.codes = append(f.codes, code)
	case bot.SelfAnnotate:
		f.annotated = append(f.annotated, ticketID)
	}
	return nil
}
func (f *fakeSelf) Nudge() {
	f.mu.Lock()
	f.nudged++
	f.mu.Unlock()
}

// TestSelfServiceHook: a finished status flow goes to self-service instead
// of becoming a ticket, with the flow's NIK and birth date; a one-time code
// never reaches the engine; a change-of-data ticket is filed and then
// handed over to be annotated.
func TestSelfServiceHook(t *testing.T) {
	db := storetest.SQLite(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts := tickets.New(db, storetest.Sealer(t))
	ob := channels.NewOutbox(db, channels.OutboxConfig{}, log, prometheus.NewRegistry())
	self := &fakeSelf{}
	b := bot.New(db, ts, ob, bot.Features{SelfService: self}, bot.Config{}, log, prometheus.NewRegistry())
	ctx := context.Background()
	n := 0
	say := func(from, text string) {
		t.Helper()
		n++
		if err := b.Deliver(ctx, channels.Inbound{Channel: "whatsapp", ExternalID: fmt.Sprint("m", n), From: from, Text: text, ReceivedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	const who = "+6281234567890"
	for _, text := range []string{"halo", "5", "LAPOR", "Siti Aminah", "3174055708900003", "17-08-1990", "SAMA", "cek status", "ya"} {
		say(who, text)
	}
	say(who, "KODE 123456")
	for _, text := range []string{"menu", "2", "1", "Siti Aminah", "3174055708900003", "17-08-1990", "SAMA", "Siti Aminah Rahayu", "LEWATI", "ya"} {
		say("+6281200000009", text)
	}
	self.mu.Lock()
	defer self.mu.Unlock()
	if len(self.handled) != 1 {
		t.Fatalf("self-service got %d requests, want 1", len(self.handled))
	}
	r := self.handled[0]
	if r.Kind != tickets.VaccinationStatus || r.From != who || r.Fields["nik"] != "3174055708900003" || r.Fields["dob"] != "1990-08-17" {
		t.Errorf("request %+v", r)
	}
	if len(self.codes) != 1 || self.codes[0] != "123456" {
		t.Errorf("codes %v", self.codes)
	}
	var open int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM tickets WHERE category = 'vaccination_status'`).Scan(&open); err != nil || open != 0 {
		t.Errorf("%d status tickets (%v); the request went to self-service", open, err)
	}
	if self.nudged != 3 {
		t.Errorf("nudged %d times, want once per queued request (3)", self.nudged)
	}
	if len(self.annotated) != 1 {
		t.Errorf("annotated %v, want the change-of-data ticket", self.annotated)
	}
}
