package tickets

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"lindungi/store"
)

// Staged writes new contacts, tickets and messages of one transaction as
// multi-row INSERTs: a mailbox chunk of new complaints then costs a few
// statements per table instead of several per mail. Ids are reserved up
// front (store.Tx.ReserveIDs) so staged rows can reference each other, and
// ticket numbers come from the year's counter, read once and written back
// at Flush.
//
// The rules of store.Rows hold: Flush before anything in the transaction
// reads these tables or inserts into them another way, and Reset after
// such a write, since the reserved ids and the counter may then be stale.
// Staged takes no attachments and does not touch existing tickets; callers
// send such messages through AddMessage after a Flush.
type Staged struct {
	s                          *Store
	block                      int
	contacts, tickets, msgs    *store.Rows
	keys                       *store.Rows // inbound_keys of staged messages
	contactIDs, ticketIDs, ids []int64
	// counters: year → last number handed out; dirty until Flush.
	counters map[int]int64
	dirty    map[int]bool
}

// Stage starts staging rows for about n new tickets (each with its
// contact and two messages): ids are reserved n at a time.
func (s *Store) Stage(n int) *Staged {
	return &Staged{
		s: s, block: max(n, 1),
		contacts: store.NewRows("contacts", "", append([]string{"id", "person_id"}, contactInsertCols...)...),
		tickets:  store.NewRows("tickets", "", append([]string{"id"}, ticketInsertCols...)...),
		msgs:     store.NewRows("messages", "", messageInsertCols...),
		keys:     store.NewRows("inbound_keys", "", "channel", "external_id", "received_at", "message_id"),
		counters: map[int]int64{},
		dirty:    map[int]bool{},
	}
}

// nextID hands out the next reserved id of table, reserving n more when
// none is left. On SQLite reserving costs one MAX(id) lookup whatever n
// is; on PostgreSQL ids reserved and not used are gaps in the sequence,
// which nothing relies on.
func (st *Staged) nextID(ctx context.Context, tx *store.Tx, table string, pool *[]int64, n int) (int64, error) {
	if len(*pool) == 0 {
		// On SQLite the next block follows MAX(id), which must include
		// the rows staged with the last one.
		if err := st.Flush(ctx, tx); err != nil {
			return 0, err
		}
		ids, err := tx.ReserveIDs(ctx, table, n)
		if err != nil {
			return 0, err
		}
		*pool = ids
	}
	id := (*pool)[0]
	*pool = (*pool)[1:]
	return id, nil
}

// Contact stages a new contact for (channel, address), which the caller
// has looked up and not found. Like UpsertContact it is its own person.
func (st *Staged) Contact(ctx context.Context, tx *store.Tx, channel, address, name string) (Contact, error) {
	id, err := st.nextID(ctx, tx, "contacts", &st.contactIDs, st.block)
	if err != nil {
		return Contact{}, fmt.Errorf("tickets: create contact: %w", err)
	}
	c := Contact{ID: id, PersonID: id, Channel: channel, Address: address, Name: name, Lang: "id", Created: true}
	st.contacts.Add(append([]any{id, id}, contactRow(c, st.s.Now())...)...)
	return c, nil
}

// Ticket stages a new ticket, numbered like Create.
func (st *Staged) Ticket(ctx context.Context, tx *store.Tx, nt NewTicket) (Ticket, error) {
	now := st.s.Now()
	year := now.In(jakarta).Year()
	last, ok := st.counters[year]
	if !ok {
		q := `SELECT last FROM ticket_counters WHERE year = ?`
		if tx.Dialect() != store.SQLite {
			// Lock the counter before any ticket row, as nextNumber does:
			// the opposite order deadlocks against a concurrent Create
			// (SQLite has one writer and needs no lock).
			if _, err := tx.Exec(ctx, `INSERT INTO ticket_counters (year, last) VALUES (?, 0) ON CONFLICT (year) DO NOTHING`, year); err != nil {
				return Ticket{}, fmt.Errorf("tickets: next number: %w", err)
			}
			q += ` FOR UPDATE`
		}
		err := tx.QueryRow(ctx, q, year).Scan(&last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return Ticket{}, fmt.Errorf("tickets: next number: %w", err)
		}
	}
	t, vals, err := st.s.ticketRow(nt, last+1, now)
	if err != nil {
		return t, err
	}
	if t.ID, err = st.nextID(ctx, tx, "tickets", &st.ticketIDs, st.block); err != nil {
		return t, fmt.Errorf("tickets: create: %w", err)
	}
	st.counters[year], st.dirty[year] = last+1, true
	st.tickets.Add(append([]any{t.ID}, vals...)...)
	return t, nil
}

// Message stages a message without attachments on a ticket staged or
// touched in this transaction (m.Fresh is assumed).
func (st *Staged) Message(ctx context.Context, tx *store.Tx, m NewMessage) (int64, error) {
	if len(m.Attachments) > 0 {
		return 0, fmt.Errorf("tickets: staged message with attachments")
	}
	id, err := st.nextID(ctx, tx, "messages", &st.ids, 2*st.block)
	if err != nil {
		return 0, fmt.Errorf("tickets: add message: %w", err)
	}
	vals := st.s.messageRow(tx, &m)
	vals[0] = id
	st.msgs.Add(vals...)
	return id, nil
}

// Flush writes the staged rows (contacts, then tickets, then messages and
// their dedupe keys, as the foreign keys need) and the ticket counters.
func (st *Staged) Flush(ctx context.Context, tx *store.Tx) error {
	for _, r := range []*store.Rows{st.contacts, st.tickets, st.msgs, st.keys} {
		if err := r.Flush(ctx, tx); err != nil {
			return fmt.Errorf("tickets: staged rows: %w", err)
		}
	}
	for year := range st.dirty {
		if _, err := tx.Exec(ctx, `INSERT INTO ticket_counters (year, last) VALUES (?, ?) ON CONFLICT (year) DO UPDATE SET last = excluded.last`,
			year, st.counters[year]); err != nil {
			return fmt.Errorf("tickets: next number: %w", err)
		}
		delete(st.dirty, year)
	}
	return nil
}

// Reset forgets the reserved ids and counters, after the caller wrote
// these tables another way (Flush first: staged rows are dropped). Ids
// from PostgreSQL sequences stay valid and are kept.
func (st *Staged) Reset() {
	if st.contacts.Len()+st.tickets.Len()+st.msgs.Len()+st.keys.Len() > 0 {
		panic("tickets: Staged.Reset with unwritten rows")
	}
	if st.s.db.Dialect() == store.SQLite {
		st.contactIDs, st.ticketIDs, st.ids = nil, nil, nil
	}
	clear(st.counters)
	clear(st.dirty)
}
