package channels_test

import (
	"context"
	"slices"
	"testing"

	"lindungi/channels"
	"lindungi/internal/app/apptest"
	"lindungi/store"
	"lindungi/tickets"
)

// A message the outbox gives up on flags its ticket for an operator; a
// dead message about no ticket (an OTP) flags nothing.
func TestDeadLetterFlagsItsTicket(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	ctx := context.Background()
	var tk tickets.Ticket
	err := ta.DB.InTx(ctx, func(tx *store.Tx) error {
		c, err := ta.Tickets.UpsertContact(ctx, tx, channels.Simulator, "warga-dead", "")
		if err != nil {
			return err
		}
		tk, err = ta.Tickets.Create(ctx, tx, tickets.NewTicket{ContactID: c.ID, Channel: channels.Simulator, Subject: "x"})
		if err != nil {
			return err
		}
		if err := ta.Outbox.OnDead(ctx, tx, channels.Outbound{Channel: channels.Simulator, To: "warga-dead"}, "no ticket"); err != nil {
			return err
		}
		return ta.Outbox.OnDead(ctx, tx, channels.Outbound{Channel: channels.Simulator, To: "warga-dead", TicketID: tk.ID}, "refused")
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ta.Tickets.Resolve(ctx, tk.Number)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Flags, []string{tickets.DeliveryFailedFlag}) {
		t.Errorf("flags %v, want [%s]", got.Flags, tickets.DeliveryFailedFlag)
	}
}
