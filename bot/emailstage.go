package bot

import (
	"context"
	"fmt"

	"lindungi/channels"
	"lindungi/store"
	"lindungi/tickets"
)

// allEmail reports whether every message is an e-mail.
func allEmail(ins []channels.Inbound) bool {
	for _, in := range ins {
		if in.Channel != channels.Email {
			return false
		}
	}
	return true
}

// stageEmail stores a mailbox chunk in tx as one request. Most mail in a
// complaint mailbox is a new complaint: a new ticket, its message, the
// acknowledgement and the dedupe key. Those rows are staged and written
// table by table with multi-row INSERTs (tickets.Staged, Outbox.Stage):
// measured, a tenth of the statements and about a third of the writer's
// time per mail (bot.BenchmarkEmailWriter).
//
// The rest (a reply that threads into a ticket, a tag in the subject, a
// bounce, mail to a retired address, attachments, a contact whose name
// changed) goes through deliverOne exactly as a single mail would, after
// the staged rows are written, so what it reads is current. The caches
// this function keeps (known keys, contacts, acknowledgement counts) are
// then dropped for that sender and read again when next needed.
//
// Any error fails the whole request, which the group commit rolls back to
// its savepoint; DeliverBatch then stores the chunk one mail at a time.
func (b *Bot) stageEmail(ctx context.Context, tx *store.Tx, jobs []*job) error {
	c := &emailChunk{b: b, tx: tx, st: b.tickets.Stage(len(jobs)), out: b.outbox.NewRows(),
		acks:  map[string]int{},
		known: map[string]bool{},
	}
	if err := c.prefetch(ctx, jobs); err != nil {
		return err
	}
	for _, j := range jobs {
		if err := c.deliver(ctx, j); err != nil {
			return err
		}
	}
	return c.flush(ctx)
}

// emailChunk is stageEmail's state while it runs.
type emailChunk struct {
	b   *Bot
	tx  *store.Tx
	st  *tickets.Staged
	out *store.Rows // outbox
	// seen: external IDs already stored (before or in this chunk).
	seen map[string]bool
	// contacts by address; known says the address was looked up (a known
	// address missing from contacts has no contact).
	contacts map[string]tickets.Contact
	known    map[string]bool
	// acks: acknowledgements sent to an address within ackWindow, counted
	// when first needed and kept up to date while staging.
	acks map[string]int
}

// prefetch reads what the chunk's mail needs in three statements: which
// IDs are stored already, the senders' contacts, and their recent
// acknowledgements.
func (c *emailChunk) prefetch(ctx context.Context, jobs []*job) error {
	ids := make([]string, 0, len(jobs))
	var addrs []string
	for _, j := range jobs {
		ids = append(ids, j.in.ExternalID)
		if !c.known[j.in.From] {
			c.known[j.in.From] = true
			addrs = append(addrs, j.in.From)
		}
	}
	var err error
	if c.seen, err = c.b.tickets.StoredInboundKeys(ctx, c.tx, channels.Email, ids); err != nil {
		return err
	}
	if c.contacts, err = c.b.tickets.ContactsByAddress(ctx, c.tx, channels.Email, addrs); err != nil {
		return err
	}
	var existing []string
	for _, a := range addrs {
		if _, ok := c.contacts[a]; ok {
			existing = append(existing, a)
		} else {
			c.acks[a] = 0 // a new sender has been sent nothing
		}
	}
	return c.b.recentAcks(ctx, c.tx, existing, c.acks)
}

// recentAcks sets counts[a], for each address a, to the acknowledgements
// queued for it within ackWindow: the rate rule of turn.email and of
// stageEmail, one query per IN-list batch.
func (b *Bot) recentAcks(ctx context.Context, tx *store.Tx, addrs []string, counts map[string]int) error {
	if err := b.outbox.CountKindSince(ctx, tx, channels.Email, "ack", store.Now().Add(-ackWindow), addrs, counts); err != nil {
		return fmt.Errorf("bot: acknowledgement rate: %w", err)
	}
	return nil
}

// deliver stores one mail of the chunk: staged when it is a plain new
// complaint, else through deliverOne.
func (c *emailChunk) deliver(ctx context.Context, j *job) error {
	in := j.in
	j.after, j.dup = nil, false
	if c.seen[in.ExternalID] {
		j.dup = true
		return nil
	}
	if !c.known[in.From] {
		c.known[in.From] = true
		found, err := c.b.tickets.ContactsByAddress(ctx, c.tx, channels.Email, []string{in.From})
		if err != nil {
			return err
		}
		if ct, ok := found[in.From]; ok {
			c.contacts[in.From] = ct
		}
	}
	ct, exists := c.contacts[in.From]
	if !plainComplaint(in) || exists && in.Name != "" && in.Name != ct.Name {
		return c.oneByOne(ctx, j)
	}
	if !exists {
		var err error
		if ct, err = c.st.Contact(ctx, c.tx, channels.Email, in.From, in.Name); err != nil {
			return err
		}
		c.contacts[in.From] = ct
		c.acks[in.From] = 0
	}
	nt, err := c.st.Ticket(ctx, c.tx, newEmailTicket(in, ct.ID, j.prep))
	if err != nil {
		return err
	}
	nt.Contact, nt.ContactName = ct.Address, ct.Name
	nm := receivedMessage(in, ct.ID)
	nm.TicketID, nm.Fresh = nt.ID, true
	msgID, err := c.st.Message(ctx, c.tx, nm)
	if err != nil {
		return err
	}
	c.st.InboundKey(in.Channel, in.ExternalID, store.Now(), msgID)
	c.seen[in.ExternalID] = true
	owed, err := c.b.owesAck(in, func() (int, error) {
		if _, counted := c.acks[in.From]; !counted {
			if err := c.b.recentAcks(ctx, c.tx, []string{in.From}, c.acks); err != nil {
				return 0, err
			}
		}
		return c.acks[in.From], nil
	})
	if err != nil || !owed {
		return err
	}
	m, err := c.b.emailReplyMsg(ctx, c.tx, &nt, in, "ack", ackText(j.prep.lang, &nt), in.ExternalID)
	if err != nil {
		return err
	}
	id, err := c.b.outbox.Stage(c.tx, c.out, m)
	if err != nil {
		return err
	}
	c.acks[in.From]++
	_, err = c.st.Message(ctx, c.tx, sentMessage(nt.ContactID, id, m, "bot", true))
	return err
}

// oneByOne stores j through deliverOne, as a mail on its own would be,
// after writing what is staged so that what it reads is current; the
// chunk's caches then forget its sender.
func (c *emailChunk) oneByOne(ctx context.Context, j *job) error {
	if err := c.flush(ctx); err != nil {
		return err
	}
	c.st.Reset()
	if err := c.b.deliverOne(ctx, c.tx, j); err != nil {
		return err
	}
	c.seen[j.in.ExternalID] = true
	delete(c.contacts, j.in.From)
	delete(c.known, j.in.From)
	delete(c.acks, j.in.From)
	return nil
}

// plainComplaint says whether turn.run would open a new ticket for in
// without reading anything but its sender's contact and acknowledgements:
// no threading headers, no ticket tag, nothing but text, not a bounce, not
// to a retired address.
func plainComplaint(in channels.Inbound) bool {
	return in.ReplyTo == "" && len(in.References) == 0 && !ticketTag.MatchString(in.Subject) &&
		len(in.Attachments) == 0 && !in.Unparseable &&
		!in.Bounce && !in.Retired
}

// flush writes the staged rows, in the order the foreign keys need.
func (c *emailChunk) flush(ctx context.Context) error {
	if err := c.st.Flush(ctx, c.tx); err != nil {
		return err
	}
	if err := c.out.Flush(ctx, c.tx); err != nil {
		return fmt.Errorf("bot: staged outbox: %w", err)
	}
	return nil
}
