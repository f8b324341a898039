package email

import (
	"context"
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

// TestMailboxMetrics: while a pass is stuck at the store, the backlog
// gauge shows the mail waiting on the server; once it is stored the
// backlog is zero, the counter has all of it, the session is up and the
// last completed pass is recent.
func TestMailboxMetrics(t *testing.T) {
	const n = 40
	addr := memIMAP(t)
	db := storetest.SQLite(t)
	appendMsgs(t, addr, "user", "pass", "INBOX", manyMails(1, n)...)
	cfg := fastCfg()
	cfg.Mailboxes = []MailboxConfig{{Address: "pedulilindungi@kemkes.go.id", IMAPURL: "imap://" + addr, Username: "user", Password: "pass", AfterImport: "seen"}}
	ch, err := New(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(ch)
	sink := blockingSink{newMemSink(db), make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, sink) }()
	defer func() {
		cancel()
		<-done
	}()

	wait := func(what string, ok func(map[string]float64) bool) map[string]float64 {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second) // failure guard only
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
	m := wait("backlog while the store is held", func(m map[string]float64) bool { return m["lindungi_email_backlog"] == n })
	if m["lindungi_email_connected"] != 1 || m["lindungi_email_imported_total"] != 0 || m["lindungi_email_last_pass_timestamp_seconds"] != 0 {
		t.Errorf("while held: %v; want connected, nothing imported, no pass completed", m)
	}
	close(sink.release)
	m = wait("after the import", func(m map[string]float64) bool {
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
	addr := memIMAP(t)
	db := storetest.SQLite(t)
	appendMsgs(t, addr, "user", "pass", "INBOX", manyMails(1, n)...)
	cfg := fastCfg()
	cfg.Mailboxes = []MailboxConfig{{Address: "pedulilindungi@kemkes.go.id", IMAPURL: "imap://" + addr, Username: "user", Password: "pass", AfterImport: "seen"}}
	ch, err := New(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(ch)
	sink := blockingSink{newMemSink(db), make(chan struct{})} // never released
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, sink) }()
	deadline := time.Now().Add(30 * time.Second) // failure guard only
	for mailboxMetrics(t, reg)["lindungi_email_backlog"] != n {
		if time.Now().After(deadline) {
			t.Fatalf("backlog never reached %d: %v", n, mailboxMetrics(t, reg))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	close(sink.release) // let the held delivery see the cancelled context
	<-done
	if m := mailboxMetrics(t, reg); m["lindungi_email_backlog"] != 0 {
		t.Errorf("after the runner stopped: backlog %v, want 0", m["lindungi_email_backlog"])
	}
	ch.Runners()[0].setState(channels.StateStandby)
	if m := mailboxMetrics(t, reg); len(m) != 0 {
		t.Errorf("a standby mailbox exports %v, want nothing", m)
	}
}
