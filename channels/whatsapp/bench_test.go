package whatsapp

import (
	"context"
	"fmt"
	"testing"

	"lindungi/channels"
	"lindungi/channels/whatsapp/wafake"
)

// BenchmarkInbound measures one contact message through the real client:
// Signal decryption, Deliver, read receipt and delivery receipt.
func BenchmarkInbound(b *testing.B) {
	db := shared(b)
	ch, sink := startChannel(b, fake, db, nil)
	waitUntil(b, "connected", func() bool { return ch.State() == channels.StateUp })
	ct, err := fake.AddContact(fmt.Sprintf("62899%08d", contactSeq.Add(1)), "", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, err := ct.SendText("halo", wafake.SendOptions{})
		if err != nil {
			b.Fatal(err)
		}
		// Event-driven wait (the fake signals on every receipt), so the
		// figure is the round trip, not a polling interval.
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		err = fake.WaitFor(ctx, func() bool { return ct.Delivered(id) })
		cancel()
		if err != nil {
			b.Fatal("no receipt:", err)
		}
	}
	b.StopTimer()
	sink.mu.Lock()
	n := len(sink.stored)
	sink.mu.Unlock()
	if n != b.N {
		b.Fatalf("stored %d, want %d", n, b.N)
	}
}

// BenchmarkSend measures Send of a text (encryption, ack round trip) with
// pacing disabled.
func BenchmarkSend(b *testing.B) {
	db := shared(b)
	ch, _ := startChannel(b, fake, db, nil)
	waitUntil(b, "connected", func() bool { return ch.State() == channels.StateUp })
	ct, err := fake.AddContact(fmt.Sprintf("62898%08d", contactSeq.Add(1)), "", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ch.Send(context.Background(), channels.Outbound{ID: channels.NewID(), To: "+" + ct.Phone, Text: "Terima kasih"}); err != nil {
			b.Fatal(err)
		}
	}
}
