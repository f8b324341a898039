package web

import (
	"context"

	"lindungi/tickets"
)

// ticketDetail is Tickets.Detail with the delivery state of each outgoing
// message, which the outbox owns (queued, sending, sent, held, dead, and
// what the provider reported: delivered, read, failed), and why a held
// one is held.
func (s *Server) ticketDetail(ctx context.Context, ref string) (tickets.Ticket, []tickets.Message, error) {
	t, msgs, err := s.Tickets.Detail(ctx, ref)
	if err != nil || s.Outbox == nil {
		return t, msgs, err
	}
	var ids []string
	for _, m := range msgs {
		if m.Direction == "out" && m.ExternalID != "" {
			ids = append(ids, m.ExternalID)
		}
	}
	if len(ids) == 0 {
		return t, msgs, nil
	}
	states, err := s.Outbox.DeliveryStates(ctx, ids)
	if err != nil {
		return t, msgs, err
	}
	var held []string
	dead := false
	for i := range msgs {
		if msgs[i].Direction == "out" {
			msgs[i].Delivery = states[msgs[i].ExternalID]
			switch msgs[i].Delivery {
			case "held":
				held = append(held, msgs[i].ExternalID)
			case "dead":
				dead = true
			}
		}
	}
	if len(held) > 0 {
		why, err := s.Outbox.HeldReasons(ctx, held)
		if err != nil {
			return t, msgs, err
		}
		for i := range msgs {
			if msgs[i].Delivery == "held" {
				msgs[i].DeliveryNote = why[msgs[i].ExternalID]
			}
		}
	}
	if dead {
		why, err := s.Outbox.DeliveryFailures(ctx, ids)
		if err != nil {
			return t, msgs, err
		}
		for i := range msgs {
			if msgs[i].Delivery == "dead" {
				msgs[i].DeliveryError = why[msgs[i].ExternalID]
			}
		}
	}
	return t, msgs, nil
}
