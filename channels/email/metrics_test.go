package email

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"lindungi/channels"
	"lindungi/store/storetest"
)

// blockingSink holds every batch until release is closed.
type blockingSink struct {
	*memSink
	release chan struct{}
}

func (s blockingSink) Deliver(ctx context.Context, in channels.Inbound) error {
	<-s.release
	return s.memSink.Deliver(ctx, in)
}

// mailboxMetrics gathers the channel's series for its one mailbox.
func mailboxMetrics(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := m.GetGauge().GetValue()
			if m.GetCounter() != nil {
				v = m.GetCounter().GetValue()
			}
			out[mf.GetName()] = v
		}
	}
	return out
}

// heldMailbox runs a channel over an in-memory mailbox holding n mails,
// with its collector registered and a sink that holds every delivery until
// release is closed. stop cancels the run (releasing the sink if it was
// not) and waits for it; it runs at cleanup too, once.
func heldMailbox(t *testing.T, n int) (ch *Channel, reg *prometheus.Registry, release func(), stop func()) {
	t.Helper()
	addr := memIMAP(t)
	db := storetest.SQLite(t)
	appendMsgs(t, addr, "user", "pass", "INBOX", manyMails(1, n)...)
	cfg := fastCfg()
	cfg.Mailboxes = []MailboxConfig{{Address: "pedulilindungi@kemkes.go.id", IMAPURL: "imap://" + addr, Username: "user", Password: "pass", AfterImport: "seen"}}
	ch, err := New(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg = prometheus.NewRegistry()
	reg.MustRegister(ch)
	sink := blockingSink{newMemSink(db), make(chan struct{})}
	var once sync.Once
	release = func() { once.Do(func() { close(sink.release) }) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, sink) }()
	var stopped sync.Once
	stop = func() {
		stopped.Do(func() {
			cancel()
			release() // let a held delivery see the cancelled context
			<-done
		})
	}
	t.Cleanup(stop)
	return ch, reg, release, stop
}

// waitMetrics polls the channel's series until ok holds (a failure guard,
// not a timing).
func waitMetrics(t *testing.T, reg *prometheus.Registry, what string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := mailboxMetrics(t, reg)
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: metrics %v", what, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMailboxMetrics: while a pass is stuck at the store, the backlog
// gauge shows the mail waiting on the server; once it is stored the
// backlog is zero, the counter has all of it, the session is up and the
// last completed pass is recent.
func TestMailboxMetrics(t *testing.T) {
	const n = 40
	_, reg, release, _ := heldMailbox(t, n)
	m := waitMetrics(t, reg, "backlog while the store is held", func(m map[string]float64) bool { return m["lindungi_email_backlog"] == n })
	if m["lindungi_email_connected"] != 1 || m["lindungi_email_imported_total"] != 0 || m["lindungi_email_last_pass_timestamp_seconds"] != 0 {
		t.Errorf("while held: %v; want connected, nothing imported, no pass completed", m)
	}
	release()
	m = waitMetrics(t, reg, "after the import", func(m map[string]float64) bool {
		return m["lindungi_email_backlog"] == 0 && m["lindungi_email_last_pass_timestamp_seconds"] > 0
	})
	if m["lindungi_email_imported_total"] != n {
		t.Errorf("imported_total %v, want %d", m["lindungi_email_imported_total"], n)
	}
	if age := float64(time.Now().UnixNano())/1e9 - m["lindungi_email_last_pass_timestamp_seconds"]; age < 0 || age > 60 {
		t.Errorf("last pass %.0f s ago", age)
	}
}

// TestMailboxMetricsAfterStop: a runner that stops mid-pass (shutdown, or
// the mailbox's leadership went to another replica) reports no backlog,
// and a mailbox in standby on this replica exports no series at all.
func TestMailboxMetricsAfterStop(t *testing.T) {
	const n = 12
	ch, reg, _, stop := heldMailbox(t, n) // never released before the stop
	waitMetrics(t, reg, "backlog while the store is held", func(m map[string]float64) bool { return m["lindungi_email_backlog"] == n })
	stop()
	if m := mailboxMetrics(t, reg); m["lindungi_email_backlog"] != 0 {
		t.Errorf("after the runner stopped: backlog %v, want 0", m["lindungi_email_backlog"])
	}
	ch.Runners()[0].setState(channels.StateStandby)
	if m := mailboxMetrics(t, reg); len(m) != 0 {
		t.Errorf("a standby mailbox exports %v, want nothing", m)
	}
}
