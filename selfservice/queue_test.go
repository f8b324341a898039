package selfservice_test

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lindungi/registry"
	"lindungi/selfservice"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tickets"
)

// queue writes r as the bot does: in a transaction of its own standing for
// the citizen's message, and returns the row's ID.
func (e *env) queue(op string, r selfservice.Request, code string) int64 {
	e.t.Helper()
	ctx := context.Background()
	err := e.db.InTx(ctx, func(tx *store.Tx) error { return e.svc.Queue(ctx, tx, op, r, code, 0) })
	if err != nil {
		e.t.Fatal(err)
	}
	var id int64
	if err := e.db.QueryRow(ctx, `SELECT MAX(id) FROM selfservice_pending`).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// run starts the service's workers until the test ends.
func (e *env) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.svc.Run(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

// TestQueuedRequestOutlivesRestart: a request queued with the citizen's
// message and never carried out (the process died after the commit) is
// answered by the next process that runs the workers, once, and the row
// goes in the answer's transaction. The row keeps the NIK sealed.
func TestQueuedRequestOutlivesRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { testQueuedRequestOutlivesRestart(t, newEnvWith(t, db, nil)) })
}

func testQueuedRequestOutlivesRestart(t *testing.T, e *env) {
	e.queue(selfservice.OpLookup, e.req(tickets.VaccinationStatus, phoneSit, nikSiti, dobSiti), "")
	var body []byte
	if err := e.db.QueryRow(context.Background(), `SELECT body FROM selfservice_pending`).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(body, []byte(nikSiti)) || bytes.Contains(body, []byte("6281234567890")) {
		t.Fatal("pending request holds the NIK or the number in clear")
	}
	if n := e.count(`SELECT COUNT(*) FROM selfservice_pending`); n != 1 {
		t.Fatalf("%d pending rows, want 1", n)
	}
	e.run() // the restarted process
	e.svc.Nudge()
	out := e.next(1)
	if !bytes.Contains([]byte(out[0].Text), []byte("Siti Aminah")) {
		t.Errorf("answer %q", out[0].Text)
	}
	waitPending(t, e, 0)
	time.Sleep(200 * time.Millisecond)
	if n := len(e.wa.Sent()); n != 1 {
		t.Errorf("%d messages sent, want the one answer", n)
	}
}

// TestTakenRequestWaitsForItsLease: a row a worker took and never finished
// (it died) is left alone until its lease ends, then carried out once.
func TestTakenRequestWaitsForItsLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { testTakenRequestWaitsForItsLease(t, newEnvWith(t, db, nil)) })
}

func testTakenRequestWaitsForItsLease(t *testing.T, e *env) {
	var skew atomic.Int64
	selfservice.SetClock(e.svc, func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	id := e.queue(selfservice.OpLookup, e.req(tickets.VaccinationStatus, phoneSit, nikSiti, dobSiti), "")
	if ok, err := selfservice.Take(context.Background(), e.svc, id); err != nil || !ok {
		t.Fatalf("take: %v %v", ok, err)
	}
	if ok, _ := selfservice.Take(context.Background(), e.svc, id); ok {
		t.Fatal("a taken row was taken again inside its lease")
	}
	e.run()
	e.svc.Nudge()
	time.Sleep(300 * time.Millisecond)
	if n := len(e.wa.Sent()); n != 0 {
		t.Fatalf("%d messages sent while another worker held the row", n)
	}
	skew.Store(int64(2 * time.Hour)) // the dead worker's lease is over
	e.svc.Nudge()
	e.next(1)
	waitPending(t, e, 0)
}

// TestQueuedCodeAndErasure: a queued one-time code unlocks the waiting
// look-up; an erasure removes a contact's waiting requests.
func TestQueuedCodeAndErasure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { testQueuedCodeAndErasure(t, newEnvWith(t, db, nil)) })
}

func testQueuedCodeAndErasure(t *testing.T, e *env) {
	e.run()
	r := e.req(tickets.VaccinationStatus, stranger, nikSiti, dobSiti)
	e.queue(selfservice.OpLookup, r, "")
	e.svc.Nudge()
	var code string
	for _, m := range e.next(2) { // the code to the registered number, "code sent" to the asker
		if m.Kind == "otp" {
			code = codeRE.FindString(m.Text)
		}
	}
	if code == "" {
		t.Fatal("no one-time code sent")
	}
	e.queue(selfservice.OpCode, selfservice.Request{Channel: "whatsapp", From: stranger, ContactID: r.ContactID, Lang: "id"}, code)
	e.svc.Nudge()
	if out := e.next(1); !bytes.Contains([]byte(out[0].Text), []byte("Siti Aminah")) {
		t.Errorf("after the code: %q", out[0].Text)
	}
	waitPending(t, e, 0)

	// Erasure: a request waiting for a retry goes with the contact.
	ctx := context.Background()
	err := e.db.InTx(ctx, func(tx *store.Tx) error {
		if err := e.svc.Queue(ctx, tx, selfservice.OpLookup, r, "", 0); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE selfservice_pending SET not_before = ?`, time.Now().Add(time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.db.InTx(ctx, func(tx *store.Tx) error {
		n, err := e.svc.ErasePending(ctx, tx, []int64{r.ContactID})
		if err == nil && n != 1 {
			t.Errorf("erased %d, want 1", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitPending(t, e, 0)
}

func waitPending(t *testing.T, e *env, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := e.svc.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pending requests, want %d", n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestErasedWhileCarriedOut: a row erased while a worker carries it out is
// not answered (the answer's transaction finds the row gone and rolls
// back): an erasure does not bring the citizen's data back as a reply or
// a ticket.
func TestErasedWhileCarriedOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnvWith(t, db, nil)
		ctx := context.Background()
		r := e.req(tickets.CertificateMissing, phoneAgu, nikAgus, dobAgus) // would file a ticket
		id := e.queue(selfservice.OpLookup, r, "")
		ok, err := selfservice.TakeThen(ctx, e.svc, id, func() {
			if err := e.db.InTx(ctx, func(tx *store.Tx) error {
				_, err := e.svc.ErasePending(ctx, tx, []int64{r.ContactID})
				return err
			}); err != nil {
				t.Fatal(err)
			}
		})
		if err != nil || !ok {
			t.Fatalf("take: %v %v", ok, err)
		}
		time.Sleep(200 * time.Millisecond)
		if n := len(e.wa.Sent()); n != 0 {
			t.Errorf("%d messages sent for an erased request", n)
		}
		if n := e.count(`SELECT COUNT(*) FROM tickets`); n != 0 {
			t.Errorf("%d tickets filed for an erased request", n)
		}
	})
}

// hangingRegistry never answers within the call's time.
type hangingRegistry struct{ registry.Registry }

func (h hangingRegistry) FindPerson(ctx context.Context, nik, dob string) (registry.Person, error) {
	<-ctx.Done()
	return registry.Person{}, ctx.Err()
}

// TestSlowRegistryCountsNothing: a registry that does not answer in time
// is answered "try later", and the attempt is given back even though the
// call's time ran out (on PostgreSQL a cancelled context used to fail the
// give-back, so each retry counted one more and the record's own owner was
// locked out). After more slow answers than the limit the owner is served.
func TestSlowRegistryCountsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var slow atomic.Bool
		slow.Store(true)
		e := newEnvWith(t, db, func(r registry.Registry) registry.Registry {
			return switchable{Registry: r, slow: &slow}
		})
		selfservice.SetLookupTimeout(e.svc, 150*time.Millisecond)
		e.run()
		for range 6 {
			e.queue(selfservice.OpLookup, e.req(tickets.VaccinationStatus, phoneSit, nikSiti, dobSiti), "")
			e.svc.Nudge()
			if m := e.next(1)[0]; !strings.Contains(m.Text, "coba lagi") {
				t.Fatalf("slow registry answered %q", m.Text)
			}
		}
		waitPending(t, e, 0)
		slow.Store(false)
		e.queue(selfservice.OpLookup, e.req(tickets.VaccinationStatus, phoneSit, nikSiti, dobSiti), "")
		e.svc.Nudge()
		if m := e.next(1)[0]; !strings.Contains(m.Text, "Siti Aminah") {
			t.Errorf("after the slow spell the owner got %q", m.Text)
		}
	})
}

type switchable struct {
	registry.Registry
	slow *atomic.Bool
}

func (s switchable) FindPerson(ctx context.Context, nik, dob string) (registry.Person, error) {
	if s.slow.Load() {
		return hangingRegistry{}.FindPerson(ctx, nik, dob)
	}
	return s.Registry.FindPerson(ctx, nik, dob)
}

// TestRetryDoesNotCountTwice: a look-up whose run counted the sender's
// attempt and then died is retried without counting it again.
func TestRetryDoesNotCountTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnvWith(t, db, nil)
		ctx := context.Background()
		// The first run: a wrong birth date, counted, then the process died
		// before the answer (the row still says its attempt is counted).
		e.svc.Handle(ctx, e.req(tickets.VaccinationStatus, stranger, nikSiti, "1990-01-01"))
		e.next(1)
		id := e.queue(selfservice.OpLookup, e.req(tickets.VaccinationStatus, stranger, nikSiti, "1990-01-02"), "")
		if _, err := e.db.Exec(ctx, `UPDATE selfservice_senders SET failures = failures + 1`); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.Exec(ctx, `UPDATE selfservice_pending SET counted = 1 WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
		e.run()
		e.svc.Nudge()
		if m := e.next(1)[0]; !strings.Contains(m.Text, "Sisa percobaan: 3") {
			t.Errorf("the retried wrong attempt answered %q, want it counted once (3 left)", m.Text)
		}
	})
}

// TestWaitingRequestsExported: a data export lists the citizen's requests
// still waiting for the registry (when, how many tries), not their NIK.
func TestWaitingRequestsExported(t *testing.T) {
	e := newEnv(t)
	r := e.req(tickets.VaccinationStatus, phoneSit, nikSiti, dobSiti)
	e.queue(selfservice.OpLookup, r, "")
	got, err := e.svc.ExportPending(context.Background(), []int64{r.ContactID})
	if err != nil || len(got) != 1 || got[0].Since.IsZero() {
		t.Fatalf("export: %+v %v", got, err)
	}
	if other, _ := e.svc.ExportPending(context.Background(), []int64{r.ContactID + 1000}); len(other) != 0 {
		t.Errorf("another contact's export lists %+v", other)
	}
}
