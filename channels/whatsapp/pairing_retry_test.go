package whatsapp

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"lindungi/channels"
)

// flakyProxy forwards TCP to target once open is set, and drops every
// connection before that (WhatsApp unreachable).
type flakyProxy struct {
	ln      net.Listener
	open    atomic.Bool
	refused atomic.Int64
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.open.Load() {
				p.refused.Add(1)
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

// An unpaired device whose first connections fail keeps retrying (state
// disconnected, not a QR that never comes), shows a QR as soon as WhatsApp
// is reachable, and a shutdown while it cannot connect returns at once
// instead of waiting forever on whatsmeow's QR channel.
func TestPairingRetriesUnreachableServerAndStops(t *testing.T) {
	p := newFlakyProxy(t, fake.Addr())
	cfg := Config{Enabled: true, AccountPhone: "+" + fake.AccountPhone(), SendMinGap: -1,
		TestServer: &TestServer{Addr: p.ln.Addr().String(), RootKey: fake.RootKey()}}
	ch, err := New(cfg, openDB(t, "pair-retry.db"), "sqlite3", testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, newSink()) }()
	defer cancel()

	waitUntil(t, "a retried connection while unreachable", func() bool { return p.refused.Load() >= 2 })
	if st := ch.State(); st != channels.StateDown || ch.Status().QR != "" {
		t.Errorf("while unreachable: state %s, QR %q; want disconnected and no QR", st, ch.Status().QR)
	}
	p.open.Store(true)
	waitUntil(t, "a QR once reachable", func() bool { return ch.Status().QR != "" })
	if ch.State() != channels.StatePairing {
		t.Errorf("state with a QR shown = %s, want pairing", ch.State())
	}

	// Unreachable for good, then shut down during the retry loop.
	p2 := newFlakyProxy(t, fake.Addr())
	ch2, err := New(Config{Enabled: true, SendMinGap: -1, TestServer: &TestServer{Addr: p2.ln.Addr().String(), RootKey: fake.RootKey()}},
		openDB(t, "pair-retry-2.db"), "sqlite3", testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- ch2.Run(ctx2, newSink()) }()
	waitUntil(t, "the second device retrying", func() bool { return p2.refused.Load() >= 1 })
	cancel2()
	select {
	case err := <-done2:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second): // failure guard, not a timing assertion
		t.Fatal("Run did not return after cancel while WhatsApp was unreachable")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel while showing a QR")
	}
}
