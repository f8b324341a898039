package email

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/store"
	"lindungi/store/storetest"
)

// hangingIMAP greets, accepts LOGIN, then never answers again: the server
// that go-imap/v2 alone would wait on forever.
func hangingIMAP(t *testing.T) (addr string, conns *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				c.Write([]byte("* OK [CAPABILITY IMAP4rev1 IDLE] hang\r\n"))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if f := strings.Fields(line); len(f) > 1 && strings.EqualFold(f[1], "LOGIN") {
						c.Write([]byte(f[0] + " OK logged in\r\n"))
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), conns
}

// TestChannelMailboxesIndependent: a mailbox whose server hangs is cut off
// by the watchdog and retried, while the other mailbox keeps importing.
func TestChannelMailboxesIndependent(t *testing.T) {
	hangAddr, conns := hangingIMAP(t)
	goodAddr := memIMAP(t)
	appendMsgs(t, goodAddr, "user", "pass", "INBOX", testMail(1))
	db := storetest.SQLite(t)
	cfg := fastCfg()
	cfg.CommandTimeout = 300 * time.Millisecond
	cfg.Mailboxes = []MailboxConfig{
		{Address: "macet@kemkes.go.id", IMAPURL: "imap://" + hangAddr, Password: "x"},
		{Address: "pedulilindungi@kemkes.go.id", IMAPURL: "imap://" + goodAddr, Username: "user", Password: "pass", SMTPURL: "smtp://127.0.0.1:1"},
	}
	ch, err := New(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Name() != channels.Email {
		t.Fatal(ch.Name())
	}
	sink := newMemSink(db)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ch.Run(ctx, sink); close(done) }()
	sink.waitFor(t, 1, 10*time.Second)
	appendMsgs(t, goodAddr, "user", "pass", "INBOX", testMail(2))
	sink.waitFor(t, 2, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for conns.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("watchdog did not reconnect the hanging mailbox")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := ch.State(); st != channels.StateDown {
		t.Errorf("state with one mailbox down: %s", st)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestCursorSQL runs the cursor upsert on both dialects: it never moves
// backwards and keeps UIDVALIDITY generations apart.
func TestCursorSQL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r := newRunner(MailboxConfig{Address: "a@b.c", Folder: "INBOX"}, Config{}, nil, db, discard())
		ctx := context.Background()
		for _, step := range []struct {
			validity uint32
			uid      uint32
		}{{7, 5}, {7, 3}, {7, 9}, {8, 2}} {
			if err := db.InTx(ctx, func(tx *store.Tx) error { return r.advance(ctx, tx, step.validity, imapUID(step.uid)) }); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := r.cursor(ctx, 7); got != 9 {
			t.Errorf("cursor(7) = %d, want 9", got)
		}
		if got, _ := r.cursor(ctx, 8); got != 2 {
			t.Errorf("cursor(8) = %d, want 2", got)
		}
		if got, _ := r.cursor(ctx, 9); got != 0 {
			t.Errorf("cursor(9) = %d, want 0", got)
		}
	})
}

// TestChannelReplicasPostgres: two replicas on one PostgreSQL database read
// the mailbox through the leader lock: every message is delivered once, and
// when the leader stops the standby takes over.
func TestChannelReplicasPostgres(t *testing.T) {
	db := storetest.Postgres(t)
	addr := memIMAP(t)
	cfg := fastCfg()
	cfg.LeaderInterval = 100 * time.Millisecond
	cfg.Mailboxes = []MailboxConfig{{Address: "pedulilindungi@kemkes.go.id", IMAPURL: "imap://" + addr, Username: "user", Password: "pass"}}
	sink := newMemSink(db)
	type replica struct {
		ch     *Channel
		cancel context.CancelFunc
		done   chan struct{}
	}
	var rs []*replica
	for i := 0; i < 2; i++ {
		ch, err := New(cfg, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &replica{ch: ch, cancel: cancel, done: make(chan struct{})}
		go func() { ch.Run(ctx, sink); close(r.done) }()
		rs = append(rs, r)
	}
	defer func() {
		for _, r := range rs {
			r.cancel()
			<-r.done
		}
	}()
	appendMsgs(t, addr, "user", "pass", "INBOX", testMail(1), testMail(2))
	sink.waitFor(t, 2, 10*time.Second)
	var leader, standby *replica
	for _, r := range rs {
		switch r.ch.State() {
		case channels.StateUp:
			leader = r
		case channels.StateStandby:
			standby = r
		}
	}
	if leader == nil || standby == nil {
		t.Fatalf("want one leader and one standby, got %s and %s", rs[0].ch.State(), rs[1].ch.State())
	}
	leader.cancel()
	<-leader.done
	appendMsgs(t, addr, "user", "pass", "INBOX", testMail(3))
	sink.waitFor(t, 3, 10*time.Second)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for uid, n := range sink.uids {
		if n != 1 {
			t.Errorf("UID %s delivered %d times", uid, n)
		}
	}
}
