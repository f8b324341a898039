package bot

import (
	"context"
	"fmt"
	"strings"

	"lindungi/bot/catalog"
	"lindungi/channels"
	"lindungi/coded"
	"lindungi/store"
	"lindungi/tickets"
)

// MaxReplyBytes caps an operator reply (WhatsApp's own limit is 65,536).
const MaxReplyBytes = 16 << 10

// Reply relays an operator's answer to the citizen on the ticket's channel,
// through the outbox, and stops the SLA clock. The ticket becomes pending
// (waiting for the citizen) unless it is already resolved or closed.
func (b *Bot) Reply(ctx context.Context, ref, operator, text string) (tickets.Message, error) {
	text = strings.TrimSpace(tickets.CleanText(text))
	if text == "" {
		return tickets.Message{}, coded.New(coded.Invalid, "empty_text", "text is empty")
	}
	if len(text) > MaxReplyBytes {
		return tickets.Message{}, coded.New(coded.TooLarge, "text_too_long", "text is longer than %d bytes", MaxReplyBytes)
	}
	tk, err := b.tickets.Resolve(ctx, ref)
	if err != nil {
		return tickets.Message{}, err
	}
	if tk.Status == tickets.Closed {
		return tickets.Message{}, coded.New(coded.Conflict, "ticket_closed", "ticket %s is closed; the citizen can open a new one", tk.Number)
	}
	var out tickets.Message
	err = b.db.InTx(ctx, func(tx *store.Tx) error {
		m := channels.Outbound{Channel: tk.Channel, To: tk.Contact, TicketID: tk.ID, Kind: "reply", Text: text,
			Meta: map[string]string{"ticket_number": tk.Number, "operator": operator}}
		if tk.Channel == tickets.Phone {
			// Nothing goes out "by phone": a 119 caller is answered on the
			// channel the agent agreed with them.
			ch, to, err := b.tickets.AnswerAddress(ctx, tx, tk)
			if err != nil {
				return err
			}
			m.Channel, m.To = ch, to
			if ch == channels.Email {
				m.Subject = "Tanggapan atas laporan " + tk.Number
			}
		} else if tk.Channel == channels.Email {
			// From the mailbox the citizen wrote to (the channel answers a
			// retired one from its first active mailbox).
			m.Subject, m.From = tk.Subject, tk.Mailbox
			if err := b.threadEmail(ctx, tx, &tk, &m, ""); err != nil {
				return err
			}
		}
		id, err := b.outbox.Enqueue(ctx, tx, m)
		if err != nil {
			return err
		}
		mid, err := b.tickets.AddMessage(ctx, tx, tickets.NewMessage{TicketID: tk.ID, ContactID: tk.ContactID, Direction: "out",
			Channel: m.Channel, ExternalID: id, Author: operator, Subject: m.Subject, Text: text})
		if err != nil {
			return err
		}
		if err := b.tickets.MarkFirstResponse(ctx, tx, tk.ID); err != nil {
			return err
		}
		if tk.Status == tickets.Open {
			if err := b.tickets.SetStatus(ctx, tx, &tk, tickets.Pending); err != nil {
				return err
			}
		}
		out = tickets.Message{ID: mid, Direction: "out", Channel: m.Channel, From: operator, Subject: m.Subject, Text: text,
			Attachments: []tickets.AttachmentMeta{}, Delivery: "queued", CreatedAt: b.tickets.Now()}
		return nil
	})
	return out, err
}

// exportAfter renders the citizen's data and sends it on their channel.
func (b *Bot) exportAfter(ctx context.Context, contactID int64, channel, to, lang string) {
	doc, err := b.privacy.Export(ctx, contactID)
	if err != nil {
		b.log.Error("data export failed", "contact_id", contactID, "err", err)
		return
	}
	err = b.db.InTx(ctx, func(tx *store.Tx) error {
		m := channels.Outbound{Channel: channel, To: to, Kind: channels.KindExport, Text: catalog.T(lang, "export_ready", nil),
			Attachments: []channels.Attachment{{Name: "data-saya.txt", ContentType: "text/plain; charset=utf-8", Data: []byte(doc)}}}
		_, err := b.outbox.Enqueue(ctx, tx, m)
		return err
	})
	if err != nil {
		b.log.Error("data export enqueue failed", "contact_id", contactID, "err", err)
	}
}

// deleteAfter erases the citizen's data, then confirms on their channel.
// The confirmation is the only thing left addressed to them, and the outbox
// cleanup job removes it once sent.
func (b *Bot) deleteAfter(ctx context.Context, contactID int64, channel, to, lang string) {
	if err := b.privacy.Delete(ctx, contactID, fmt.Sprintf("citizen:%d", contactID)); err != nil {
		b.log.Error("data deletion failed", "contact_id", contactID, "err", err)
		return
	}
	err := b.db.InTx(ctx, func(tx *store.Tx) error {
		// Kind "erasure": the outbox forgets recipient and text once sent.
		_, err := b.outbox.Enqueue(ctx, tx, channels.Outbound{Channel: channel, To: to, Kind: channels.KindErasure, Text: catalog.T(lang, "delete_done", nil)})
		return err
	})
	if err != nil {
		b.log.Error("deletion confirmation enqueue failed", "contact_id", contactID, "err", err)
	}
}

// AskRating asks the citizen of a ticket an operator has just closed how
// satisfied they were (1–5), in their language, and leaves their
// conversation waiting for the number, which lands on the ticket. Tickets
// by e-mail or from the call centre are not asked: their conversation has
// no such turn.
func (b *Bot) AskRating(ctx context.Context, tx *store.Tx, tk tickets.Ticket) error {
	if tk.Channel == channels.Email || tk.Channel == tickets.Phone || tk.Rating != 0 {
		return nil
	}
	st, err := b.loadState(ctx, tx, tk.ContactID)
	if err != nil {
		return err
	}
	lang := st.Lang
	if lang == "" {
		lang = "id"
	}
	st.Flow, st.Step, st.Fields = "rating", "", nil
	if err := b.saveState(ctx, tx, tk.ContactID, st); err != nil {
		return err
	}
	text := strings.ReplaceAll(catalog.T(lang, "done_ask_rating", nil), "{ticket}", tk.Number)
	if err := b.send(ctx, tx, tk.ContactID, channels.Outbound{Channel: tk.Channel, To: tk.Contact, TicketID: tk.ID, Kind: "csat", Text: text,
		Meta: map[string]string{"ticket_number": tk.Number}}, "bot", false); err != nil {
		return err
	}
	return b.tickets.MarkCSATAsked(ctx, tx, tk.ID)
}
